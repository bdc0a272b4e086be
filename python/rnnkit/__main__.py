"""`python -m rnnkit --cmake-dir` prints the directory to put on CMAKE_PREFIX_PATH; `--config` prints the core's config."""
import argparse
import json
import pathlib
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnkit")
    parser.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory of rnnkit::core")
    parser.add_argument("--config", action="store_true", help="print ISA, threads and build facts")
    args = parser.parse_args(argv)
    if args.cmake_dir:
        package_dir = pathlib.Path(__file__).resolve().parent
        hits = sorted(package_dir.glob("lib*/cmake/rnnkit"))
        if not hits:
            print("rnnkit: no CMake package in this install (a developer tree? run `pip install .`)", file=sys.stderr)
            return 1
        print(hits[0])
        return 0
    import rnnkit

    print(json.dumps(rnnkit.config(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
