#!/usr/bin/env bash
# CI entry for the fuzzers: builds each libFuzzer target (ASan + UBSan) and fuzzes it from the seed corpus for
# a bounded time in a fresh directory, so every CI run starts from the same seeds.
# Usage: cpp/fuzz/ci.sh [seconds per target=30]. Targets: the .rnnkit reader (model_file) and the C++ model
# loader (load_model). Exits non-zero on any crash, leak, sanitizer report, timeout or exception other than
# std::invalid_argument; the reproducer is printed (hex) and kept under $work/<target>/artifacts.
set -euo pipefail
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
work=${RNNKIT_FUZZ_CI_DIR:-$(mktemp -d /tmp/rnnkit-fuzz.XXXXXX)}
failed=0
for target in model_file load_model; do
  rm -rf "$work/$target/corpus" "$work/$target/artifacts"
  mkdir -p "$work/$target"
  log=$work/$target/fuzz.log
  status=0
  RNNKIT_FUZZ_DIR=$work "$here/run.sh" "$seconds" "$target" >"$log" 2>&1 || status=$?
  shopt -s nullglob
  artifacts=("$work/$target"/artifacts/*)
  if [ "$status" -ne 0 ] || [ "${#artifacts[@]}" -ne 0 ]; then
    tail -n 30 "$log"
    for artifact in "${artifacts[@]}"; do
      echo "reproducer: $artifact"; od -A d -t x1 "$artifact" | head -n 16
    done
    echo "fuzz $target: FAILED (exit $status, ${#artifacts[@]} artifact(s)); full log: $log" >&2
    failed=1
    continue
  fi
  echo "fuzz $target: OK ($(grep -o 'number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*') executions," \
    "$(find "$work/$target/corpus" -type f | wc -l) new corpus units)"
done
exit "$failed"
