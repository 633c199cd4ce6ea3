#!/usr/bin/env bash
# `npm run test:matrix [-- 22 26]`: the README's test command, `npm test`, once per Node line
# (default 20 22 24 26), one after another: the suite has timing tests and the machine 2 cores, so
# never in parallel. A line is the Node on the PATH when that is its major version (this machine's
# Node 20), otherwise the pinned official binary (scripts/node-dist.js, fetched once and cached).
# Every version loads the same addon: N-API binaries are built once (build/ or prebuilds/).
#
# Each run's output is kept in $MATRIX_LOGS (default: a fresh temporary directory); the summary
# gives each line's pass/fail/pending counts, time, and any deprecation warning Node printed.
# Exit 0 when every line passed and no process printed a deprecation warning.
set -uo pipefail
cd "$(dirname "$0")/.."

lines=("$@")
[ ${#lines[@]} -gt 0 ] || lines=(20 22 24 26)
logs="${MATRIX_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/tl-matrix-XXXXXX")}"
mkdir -p "$logs"
path_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)"

summary=()
failed=0
for line in "${lines[@]}"; do
  if [ "$line" = "$path_major" ]; then
    bin="$(dirname "$(command -v node)")"
  else
    dir="$(node scripts/node-dist.js "$line")" || { summary+=("Node $line: could not fetch the pinned binary"); failed=1; continue; }
    bin="$dir/bin"
  fi
  version="$("$bin/node" --version)"
  log="$logs/node-$version.log"
  echo "=== npm test on Node $version ($bin/node) ==="
  start=$(date +%s)
  warnings="$logs/warnings-$version.txt"
  rm -f "$warnings"
  # npm, mocha and every child the suite starts (process.execPath) run on this Node. Every one of
  # them writes its process warnings (deprecations above all) to one file, whoever reads its
  # stderr: a child's warning would otherwise vanish into a test's captured output.
  PATH="$bin:$PATH" NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--trace-deprecation --redirect-warnings=$warnings" \
    npm test 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  took=$(( $(date +%s) - start ))
  # mocha's closing counts: "  402 passing (13s)", "  1 failing", "  2 pending".
  count() { grep -E "^\s+[0-9]+ $1" "$log" | tail -1 | awk '{print $1}'; }
  passing="$(count passing)"; failing="$(count failing)"; pending="$(count pending)"
  deprecations="$(cat "$log" "$warnings" 2>/dev/null | grep -oE '\[DEP[0-9]+\][^:]*: [^.]*' | sort -u)"
  result="Node $version: ${passing:-0} passing, ${failing:-0} failing, ${pending:-0} pending, $((took / 60))m$((took % 60))s"
  [ "$status" = 0 ] || { result="$result — FAILED (exit $status)"; failed=1; }
  # A deprecation is next version's failure: it fails this one.
  if [ -n "$deprecations" ]; then
    result="$result — FAILED: deprecation warnings (in $warnings): $(echo "$deprecations" | tr '\n' ';')"
    failed=1
  fi
  summary+=("$result")
done

echo
echo "=== test matrix (logs in $logs) ==="
printf '%s\n' "${summary[@]}"
exit $failed
