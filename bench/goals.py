"""Issue 13's goals, read from the JSON of one bench/compare.py run:

    python bench/goals.py bench/results/<date_time>_compare.json

Every ratio is peer time / rnnkit time from the same run, at the same level as compare.py's tables (raw rnnkit
against PyTorch's modules, rnnkit's Keras level against Keras 3's backends); > 1 means rnnkit is faster.
"""
import argparse
import json

from compare import CELLS, MODES, PAIRS, SGEMM_N, SHAPES, geomean, gflops

THREE_LARGEST = [(32, 100, 128, 256), (64, 50, 256, 512), (16, 200, 64, 64)]
BATCH_1 = (1, 100, 64, 128)
FIT_PEERS = ["torch", "keras-jax", "keras-tensorflow", "keras-torch"]


def load(path):
    times = {}
    for row in json.load(open(path)):
        shape = tuple(row["shape"]) if isinstance(row["shape"], list) else row["shape"]
        times[(row["impl"], row["cell"], shape, row["mode"], row["threads"])] = row["ms"]
    return times


def best_peer_ratios(times):
    """(cell, shape, mode, threads) -> speed-up against the fastest peer measured there."""
    ratios = {}
    for cell in CELLS:
        for shape in SHAPES:
            for mode in MODES:
                for threads in (1, 2):
                    ups = [times[(peer, cell, shape, mode, threads)] / times[(ours, cell, shape, mode, threads)]
                           for ours, peer in PAIRS
                           if (peer, cell, shape, mode, threads) in times and (ours, cell, shape, mode, threads) in times]
                    if ups:
                        ratios[(cell, shape, mode, threads)] = min(ups)
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json")
    times = load(parser.parse_args().json)
    ratios = best_peer_ratios(times)
    behind = {point: round(up, 2) for point, up in ratios.items() if up <= 1}
    print(f"ahead of the best peer at {len(ratios) - len(behind)} / {len(ratios)} points (goal: all), "
          f"geometric mean {geomean(list(ratios.values())):.2f}x (goal 1.5x); behind: {behind}")
    batch_1 = {(cell, mode, threads): round(ratios[(cell, BATCH_1, mode, threads)], 2)
               for cell in CELLS for mode in MODES for threads in (1, 2) if (cell, BATCH_1, mode, threads) in ratios}
    print(f"batch 1 against the best peer (goal 2x): {batch_1}")
    for cell in ("simple_rnn", "gru"):
        against_torch = [(times[("torch", cell, shape, mode, threads)] / times[("rnnkit", cell, shape, mode, threads)],
                          shape, mode, threads)
                         for shape in SHAPES for mode in MODES for threads in (1, 2)
                         if ("torch", cell, shape, mode, threads) in times]
        if against_torch:
            lowest = min(against_torch)
            print(f"{cell} against PyTorch (goal 2x everywhere): lowest {lowest[0]:.2f}x at {lowest[1:]}")
    scaling = [(times[("rnnkit", cell, shape, mode, 1)] / times[("rnnkit", cell, shape, mode, 2)], cell, shape, mode)
               for cell in CELLS for shape in THREE_LARGEST for mode in MODES
               if ("rnnkit", cell, shape, mode, 2) in times]
    missed = [(round(up, 2), *rest) for up, *rest in scaling if up < 1.7]
    print(f"2 threads >= 1.7x one on the three largest shapes: {len(scaling) - len(missed)} / {len(scaling)}; "
          f"missed: {missed}")
    lstm = times.get(("rnnkit", "lstm", (64, 50, 256, 512), "forward", 1))
    numpy = times.get(("numpy", "sgemm", SGEMM_N, "forward", 1))
    if lstm and numpy:
        lstm_gflops = gflops("lstm", (64, 50, 256, 512), "forward", lstm)
        numpy_gflops = 2 * SGEMM_N ** 3 / numpy / 1e6
        print(f"LSTM (64,50,256,512) forward on 1 thread: {lstm_gflops:.1f} GFLOP/s, numpy's sgemm {numpy_gflops:.1f} "
              f"({lstm_gflops / numpy_gflops:.0%}; goal 85%)")
    for cell in ("lstm", "gru"):
        for mode in ("fit", "predict"):
            for shape in ("fit", "fit-zipf"):
                ours = times.get(("rnnkit-keras", cell, shape, mode, 1))
                peers = {peer: times[(peer, cell, shape, mode, 1)] for peer in FIT_PEERS
                         if (peer, cell, shape, mode, 1) in times}
                if not ours or not peers:
                    continue
                fastest = min(peers, key=peers.get)
                goal = "1.5x" if mode == "fit" else "2x"
                line = (f"{cell} {mode} ({shape}): {ours / 1e3:.2f} s, the fastest peer {fastest} "
                        f"{peers[fastest] / 1e3:.2f} s: {peers[fastest] / ours:.2f}x (goal {goal})")
                if mode == "fit" and "keras-torch" in peers:
                    line += f"; Keras on torch {peers['keras-torch'] / ours:.1f}x (goal 4x)"
                print(line)


if __name__ == "__main__":
    main()
