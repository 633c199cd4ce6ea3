#!/usr/bin/env bash
# Runs the mocha suite against the addon built with AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/sanitize.sh [mocha spec...]     (default: the whole suite, as npm test runs it)
#
# Everything happens in a copy of the working tree (node_modules linked, not copied): the
# sanitized addon is built into the copy's own build/, its TypeScript compiled into its own dist/.
# The repository's build/ is never rebuilt or swapped, so nobody else using it meanwhile loads a
# sanitized binary without the runtime, and an interrupted run leaves nothing to restore; the end
# checks that the plain build is what the repository loads. (An override such as
# TCP_LIVENESS_PREBUILD would not do: tests that build and load other variants of the addon in
# child processes, like the non-Linux glue, would silently get the sanitized one instead.)
#
# node itself is not built with ASan, so the ASan runtime has to be the first library in every
# process: LD_PRELOAD of gcc's libasan.so, inherited by the child processes and workers the
# tests start. Leak detection is off (node does not free everything at exit; leaks are
# valgrind.sh's job). Every report, from any process, goes to a log file, since tests that run
# children do not always show their stderr.
#
# Exit status: 0 clean; 1 a sanitizer reported something (the reports are printed); 2 no
# sanitizer report, but tests failed: tests with wall-clock or RSS bounds (network-namespace
# fault timings, the soak's RSS ceiling) can miss them when ASan slows the process ~2-3x and
# holds freed memory in quarantine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/tl-sanitize.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tree="$work/tree"
mkdir -p "$tree" "$work/reports"
tar -C "$root" --exclude=./.git --exclude=./node_modules --exclude=./build --exclude=./prebuilds \
  --exclude=./dist --exclude=./.bench -cf - . | tar -C "$tree" -xf -
ln -s "$root/node_modules" "$tree/node_modules"
cd "$tree"

# Headers from wherever npm is configured to take them (npx passes that on to node-gyp; here
# node-gyp runs directly).
nodedir="$(npm config get nodedir 2>/dev/null || true)"
gypargs=(--loglevel=warn)
case "$nodedir" in ""|undefined|null) ;; *) gypargs+=("--nodedir=$nodedir") ;; esac

flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
echo "== building the addon with ASan + UBSan in a copy of the tree ($tree)"
CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" node_modules/.bin/node-gyp rebuild "${gypargs[@]}"
addon="$tree/build/Release/tcp_liveness.node"
if ! nm -D "$addon" | grep __asan_report >/dev/null; then
  echo "the addon in $addon is not instrumented" >&2
  exit 1
fi
node_modules/.bin/tsc -p tsconfig.json
node scripts/esm.js

libasan="$(gcc -print-file-name=libasan.so)"
[ -e "$libasan" ] || { echo "no libasan.so from gcc ($libasan)" >&2; exit 1; }
export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:exitcode=86:print_summary=1:log_path=$work/reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:exitcode=87:log_path=$work/reports/ubsan"

loaded="$(node -p "require('node-gyp-build').resolve('$tree')")"
if [ "$loaded" != "$addon" ]; then
  echo "the suite would load $loaded, not the sanitized $addon" >&2
  exit 1
fi

if [ "$#" -eq 0 ]; then set -- 'test/**/*.test.ts'; fi
echo "== mocha $* under ASan + UBSan (LD_PRELOAD=$libasan)"
status=0
tests=0
node node_modules/.bin/mocha "$@" || tests=$?

unset LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
reports=("$work"/reports/*)
if [ -e "${reports[0]}" ]; then
  echo "== sanitizer reports (${#reports[@]} file(s)):" >&2
  for f in "${reports[@]}"; do echo "--- $(basename "$f")" >&2; cat "$f" >&2; done
  status=1
else
  echo "== no sanitizer report from any process"
  if [ "$tests" -ne 0 ]; then
    echo "== but mocha failed ($tests failing): see above; without a sanitizer report these are tests that miss their time or memory bounds under ASan" >&2
    status=2
  fi
fi

plain="$(cd "$root" && node -p "require('node-gyp-build').resolve('.')")"
echo "== the repository still loads its plain build: $plain"
if nm -D "$plain" | grep __asan_report >/dev/null; then
  echo "but it is instrumented" >&2
  status=1
fi

case "$status" in
  0) echo "== clean: the suite passed under ASan + UBSan" ;;
  1) echo "== FAILED: sanitizer findings" >&2 ;;
  *) echo "== no sanitizer findings; tests failed under ASan (exit 2)" >&2 ;;
esac
exit "$status"
