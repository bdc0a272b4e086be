#!/usr/bin/env bash
# CI entry for the model-file fuzzer: builds the libFuzzer target (ASan + UBSan) and fuzzes the reader
# over the seed corpus for a bounded time in a fresh directory, so every CI run starts from the same seeds.
# Usage: cpp/fuzz/ci.sh [seconds=60]. Exits non-zero on any crash, leak, sanitizer report, timeout or
# exception other than std::invalid_argument; the reproducer is printed (hex) and kept under $work/artifacts.
set -euo pipefail
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=${RNNKIT_FUZZ_CI_DIR:-$(mktemp -d /tmp/rnnkit-fuzz.XXXXXX)}
rm -rf "$work/corpus" "$work/artifacts"
mkdir -p "$work"

status=0
RNNKIT_FUZZ_DIR=$work "$here/run.sh" "$seconds" >"$work/fuzz.log" 2>&1 || status=$?
tail -n 8 "$work/fuzz.log"
shopt -s nullglob
artifacts=("$work"/artifacts/*)
if [ "$status" -ne 0 ] || [ "${#artifacts[@]}" -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|runtime error|terminate|deadly signal' "$work/fuzz.log" | head -n 20 || true
  for artifact in "${artifacts[@]}"; do
    echo "reproducer: $artifact"; od -A d -t x1 "$artifact" | head -n 16
  done
  echo "fuzz: FAILED (exit $status, ${#artifacts[@]} artifact(s)); full log: $work/fuzz.log" >&2
  exit 1
fi
echo "fuzz: OK ($(grep -o 'number_of_executed_units: [0-9]*' "$work/fuzz.log" | grep -o '[0-9]*') executions," \
  "$(find "$work/corpus" -type f | wc -l) new corpus units)"
