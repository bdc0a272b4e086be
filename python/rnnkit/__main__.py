"""`python -m rnnkit --cmake-dir` prints the directory to put on CMAKE_PREFIX_PATH; `--config` prints the core's config."""
import argparse
import json
import pathlib
import sys


def cmake_dir(package_dir=None):
    """The directory holding rnnkitConfig.cmake under an installed package (or install prefix), else None."""
    root = pathlib.Path(package_dir) if package_dir is not None else pathlib.Path(__file__).resolve().parent
    hits = sorted(path.parent for path in root.glob("lib*/cmake/rnnkit/rnnkitConfig.cmake"))
    return hits[0] if hits else None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnkit")
    parser.add_argument("--cmake-dir", action="store_true",
                        help="print the CMake package directory of rnnkit::core (for CMAKE_PREFIX_PATH)")
    parser.add_argument("--config", action="store_true", help="print ISA, threads and build facts")
    args = parser.parse_args(argv)
    if args.cmake_dir:
        found = cmake_dir()
        if found is None:
            print("rnnkit: this rnnkit has no CMake package (a developer tree?): `pip install .` ships one, or "
                  "`cmake --install <build-dir> --prefix <dir>` installs one under <dir>", file=sys.stderr)
            return 1
        print(found)
        return 0
    import rnnkit

    print(json.dumps(rnnkit.config(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
