#!/usr/bin/env bash
# Builds a libFuzzer target (ASan + UBSan) and fuzzes it for a bounded time.
# Usage: cpp/fuzz/run.sh [seconds=60] [target=model_file]   (needs clang with libFuzzer:
#        apt-get install clang-14 libclang-rt-14-dev)
#   model_file: the .rnnkit reader alone (cpp/src/io), built straight from its sources;
#   load_model: rnnkit::load_model + predict, over the whole core built with CMake (OpenMP off).
# Exits non-zero when the fuzzer finds a crash, leak, sanitizer error, timeout or unexpected exception.
set -euo pipefail
seconds=${1:-60}
target=${2:-model_file}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${RNNKIT_FUZZ_DIR:-$root/build/fuzz}/$target
mkdir -p "$work/corpus" "$work/artifacts"

# Debian installs versioned names only (clang++-14); take the first libFuzzer-capable clang found.
cxx=${RNNKIT_FUZZ_CXX:-}
for candidate in clang++ clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
  [ -n "$cxx" ] && break
  command -v "$candidate" >/dev/null && cxx=$candidate
done
[ -n "$cxx" ] || { echo "run.sh: no clang++ found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

case $target in
  model_file)
    "$cxx" "${flags[@]}" -fsanitize=fuzzer,address,undefined -I "$root/cpp/include" "$here/fuzz_model_file.cpp" \
      "$root"/cpp/src/io/*.cpp -o "$work/fuzz"
    ;;
  load_model)
    # The core's own CMake keeps the per-ISA flags; fuzzer-no-link instruments it without a second main().
    cmake -S "$root" -B "$work/core" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_CXX_FLAGS="${flags[*]} -fsanitize=fuzzer-no-link,address,undefined" -DRNNKIT_USE_OPENMP=OFF \
      -DRNNKIT_BUILD_PYTHON=OFF -DRNNKIT_BUILD_TESTS=OFF >"$work/core.configure.log"
    cmake --build "$work/core" --target rnnkit_core >"$work/core.build.log"
    "$cxx" "${flags[@]}" -fsanitize=fuzzer,address,undefined -I "$root/cpp/include" "$here/fuzz_load_model.cpp" \
      "$work/core/cpp/librnnkit_core.a" -o "$work/fuzz"
    ;;
  *) echo "run.sh: unknown target '$target' (model_file or load_model)" >&2; exit 2 ;;
esac
python3 "$here/make_seeds.py" "$work/seeds"

# New inputs go to corpus/ (kept between runs); seeds/ is read only. The file's own size bounds what loading
# may allocate, so 256 MiB for one malloc is far beyond anything a input under 8 KiB needs.
"$work/fuzz" "$work/corpus" "$work/seeds" -dict="$here/model_file.dict" -max_total_time="$seconds" \
  -max_len=8192 -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 -artifact_prefix="$work/artifacts/" \
  -print_final_stats=1
