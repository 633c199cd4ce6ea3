#!/usr/bin/env bash
# Runs scripts/valgrind-workload.js under valgrind memcheck and fails on any invalid read or
# write, use of uninitialised memory, bad free or definite leak attributed to our addon.
#
#   scripts/valgrind.sh [rounds=20]
#
# node and V8 are not valgrind-clean (JIT code, their own allocators, memory deliberately kept
# until exit), so their reports are noise to us. Rather than keep a suppression file in step
# with every node release, memcheck writes XML and the reports are filtered: one counts as ours
# when any frame of any of its stacks (where it happened, where the block was allocated or
# freed) is in tcp_liveness.node. Every other report is counted and shown as a total, nothing
# more. Leaks: definite only (blocks nothing points to), full stacks so our frames are seen.
# scripts/valgrind.supp suppresses what passes through our frames without being ours (a leak
# inside node's napi_create_external, reproduced without this addon; see the file).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rounds="${1:-20}"

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
addon="$(node -p "require('node-gyp-build').resolve('$root')")"
echo "== valgrind memcheck: $rounds rounds of scripts/valgrind-workload.js against $addon"

out="$(mktemp -d "${TMPDIR:-/tmp}/tl-valgrind.XXXXXX")"
trap 'rm -rf "$out"' EXIT

status=0
# --trace-children=no: tsx's esbuild and other helpers run natively; the worker thread the
# workload starts is in this process and is checked. --num-callers high enough that allocation
# stacks reach from malloc up into our frames.
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=50 --trace-children=no --suppressions="$root/scripts/valgrind.supp" --xml=yes --xml-file="$out/memcheck.xml" --log-file="$out/memcheck.log" \
  node --expose-gc scripts/valgrind-workload.js "$rounds" || status=$?
if [ "$status" -ne 0 ]; then
  echo "the workload failed under valgrind (exit $status)" >&2
  tail -50 "$out/memcheck.log" >&2
  exit 1
fi

verdict=0
node - "$out/memcheck.xml" "$(basename "$addon")" <<'EOF' || verdict=$?
const fs = require('node:fs');
const [xmlFile, ours] = process.argv.slice(2);
const xml = fs.readFileSync(xmlFile, 'utf8');
const errors = xml.match(/<error>[\s\S]*?<\/error>/g) ?? [];
const tag = (s, name) => (s.match(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`)) ?? [])[1];
const byKind = {};
const mine = [];
for (const e of errors) {
  const kind = tag(e, 'kind');
  byKind[kind] = (byKind[kind] ?? 0) + 1;
  const objs = [...e.matchAll(/<obj>([^<]*)<\/obj>/g)].map((m) => m[1]);
  if (objs.some((o) => o.endsWith(`/${ours}`))) mine.push(e);
}
console.log(`memcheck reported ${errors.length} errors in the whole process (node and V8 included): ${JSON.stringify(byKind)}`);
if (mine.length === 0) {
  console.log(`none of them in ${ours}: no invalid reads or writes, no uninitialised values, no definite leaks`);
  process.exit(0);
}
console.log(`${mine.length} of them in ${ours}:`);
for (const e of mine) {
  const what = tag(e, 'what') ?? tag(tag(e, 'xwhat') ?? '', 'text');
  console.log(`\n${tag(e, 'kind')}: ${what}`);
  for (const frame of e.match(/<frame>[\s\S]*?<\/frame>/g) ?? []) {
    console.log(`    ${tag(frame, 'fn') ?? '???'} (${tag(frame, 'file') ?? tag(frame, 'obj')}:${tag(frame, 'line') ?? ''})`);
  }
}
process.exit(1);
EOF
# The whole process's leak totals, for context (node keeps much memory until exit on purpose).
node -e '
const xml = require("node:fs").readFileSync(process.argv[1], "utf8");
const sum = {};
for (const e of xml.match(/<error>[\s\S]*?<\/error>/g) ?? []) {
  const kind = (e.match(/<kind>(.*?)<\/kind>/) ?? [])[1];
  const bytes = Number((e.match(/<leakedbytes>(\d+)<\/leakedbytes>/) ?? [])[1] ?? 0);
  if (kind.startsWith("Leak_")) sum[kind] = (sum[kind] ?? 0) + bytes;
}
const supp = (xml.match(/<suppcounts>[\s\S]*?<\/suppcounts>/) ?? [""])[0].match(/<count>\d+<\/count>/g)?.length ?? 0;
console.log(`(whole process: definite-leak bytes ${JSON.stringify(sum)}; ${supp} suppression(s) used)`);
' "$out/memcheck.xml"
exit "$verdict"
