#!/usr/bin/env bash
# Runs every target in .ci/fuzz-targets beyond its seed corpus, with an
# outcome that does not depend on the machine's load:
#  - each target gets an execution budget (-fuzztime Nx, the third column,
#    or FUZZ_EXECS), not a wall-clock one: Go 1.26's fuzz coordinator can
#    report a bare "context deadline exceeded" at the -fuzztime boundary
#    (golang/go#75804, fixed in Go 1.27) although nothing failed;
#  - each run is also bounded in wall time (FUZZ_MAX_SECONDS, default 60):
#    a target that has not reached its budget by then stops there, which
#    bounds CI's time on a slow machine without making the outcome depend
#    on it (only a reproducer, a panic or a failure fails);
#  - a run fails on a written reproducer (testdata/fuzz/<target>/ grows), a
#    panic or a test failure; a failure that is only that deadline message,
#    with no reproducer, is retried once and reported as such.
# The seed corpora run in the normal test step as well.
set -uo pipefail
cd "$(dirname "$0")/.."
default="${FUZZ_EXECS:-60000}"
status=0
run() { # pkg target execs -> prints output to $out, returns go's status
  timeout --signal=INT --kill-after=20s "${FUZZ_MAX_SECONDS:-60}s" \
    go test -run '^$' -fuzz "^$2\$" -fuzztime "${3}x" -fuzzminimizetime 2s "$1" >"$out" 2>&1
}
while read -r pkg target execs; do
  [ -z "${pkg:-}" ] && continue
  case "$pkg" in \#*) continue ;; esac
  execs="${execs:-$default}"
  [ -n "${FUZZ_EXECS:-}" ] && execs="$FUZZ_EXECS"
  dir="$pkg/testdata/fuzz/$target"
  before=$(ls "$dir" 2>/dev/null | wc -l)
  out=$(mktemp)
  start=$(date +%s)
  for attempt in 1 2; do
    if run "$pkg" "$target" "$execs"; then rc=0; else rc=$?; fi
    after=$(ls "$dir" 2>/dev/null | wc -l)
    if [ "$rc" = 0 ]; then break; fi
    if [ "$rc" = 124 ] && [ "$after" -eq "$before" ] && ! grep -qE 'panic:|[Ff]ailing input|--- FAIL' "$out"; then
      echo "-- $target: stopped at the time bound before its budget, nothing found"
      rc=0; break
    fi
    if [ "$after" -eq "$before" ] && grep -q 'context deadline exceeded' "$out" \
      && ! grep -qE 'panic:|--- FAIL: .*\n.*(Error|error)|failing input|Failing input' "$out"; then
      echo "-- $target: bare 'context deadline exceeded' without a reproducer (golang/go#75804); retrying once"
      continue
    fi
    break
  done
  echo "-- $target ($pkg, ${execs} execs, $(( $(date +%s) - start ))s): $( [ "$rc" = 0 ] && echo ok || echo FAIL)"
  if [ "$rc" != 0 ]; then
    cat "$out"
    [ "$after" -gt "$before" ] && echo "reproducer written under $dir (commit it to the seed corpus once fixed)"
    status=1
  fi
  rm -f "$out"
done < "${FUZZ_TARGETS:-.ci/fuzz-targets}"
exit "$status"
