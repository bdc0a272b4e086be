#!/usr/bin/env bash
# Builds the .rnnkit reader's libFuzzer target (ASan + UBSan) and fuzzes it for a bounded time.
# Usage: cpp/fuzz/run.sh [seconds=60]   (needs clang++ with libFuzzer: apt-get install clang libclang-rt-14-dev)
# Exits non-zero when the fuzzer finds a crash, leak, sanitizer error or unexpected exception.
set -euo pipefail
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${RNNKIT_FUZZ_DIR:-$root/build/fuzz}
mkdir -p "$work/corpus" "$work/artifacts"

# Debian installs versioned names only (clang++-14); take the first libFuzzer-capable clang found.
cxx=${RNNKIT_FUZZ_CXX:-}
for candidate in clang++ clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
  [ -n "$cxx" ] && break
  command -v "$candidate" >/dev/null && cxx=$candidate
done
[ -n "$cxx" ] || { echo "run.sh: no clang++ found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

"$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/cpp/include" "$here/fuzz_model_file.cpp" "$root"/cpp/src/io/*.cpp -o "$work/fuzz_model_file"
python3 "$here/make_seeds.py" "$work/seeds"

# New inputs go to corpus/ (kept between runs); seeds/ is read only.
"$work/fuzz_model_file" "$work/corpus" "$work/seeds" -dict="$here/model_file.dict" \
  -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=5 -artifact_prefix="$work/artifacts/" -print_final_stats=1
