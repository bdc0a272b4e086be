"""Peak resident memory of one LSTM training step at (B,T,I,H) = (64,50,256,512), rnnkit against PyTorch,
each in a fresh process:

    PYTHONPATH=build/<dir>/python:python python bench/memory_peak.py

Reports the process's peak RSS and how much the training step (forward with its cache + BPTT and the
gradients) added to it after the inputs and weights were allocated.
"""
import importlib.util
import resource
import subprocess
import sys

import numpy as np

B, T, I, H = 64, 50, 256, 512


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(impl):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    if impl == "rnnkit":
        import rnnkit
        import rnnkit.ops as ops

        rnnkit.set_num_threads(1)
        kernel = rng.standard_normal((I, 4 * H)).astype(np.float32)
        recurrent = rng.standard_normal((H, 4 * H)).astype(np.float32)
        bias, d_out = np.zeros(4 * H, np.float32), np.ones((B, T, H), np.float32)
        before = peak_mib()
        result = ops.rnn_forward("lstm", x, kernel, recurrent, bias, training=True)
        ops.rnn_backward(result.cache, d_outputs=d_out)
    else:
        import torch

        torch.set_num_threads(1)
        module = torch.nn.LSTM(I, H, batch_first=True)
        xt, d_out = torch.from_numpy(x).requires_grad_(True), torch.ones((B, T, H))
        before = peak_mib()
        out, _ = module(xt)
        out.backward(d_out)
    print(f"| {impl} | {peak_mib():.0f} | {peak_mib() - before:.0f} |")


def main():
    if len(sys.argv) > 1:
        return measure(sys.argv[1])
    print("| (64,50,256,512) LSTM training step | peak RSS MiB | added by the step MiB |\n|---|---|---|")
    for impl in ("rnnkit", "torch"):
        if importlib.util.find_spec(impl) is None:
            print(f"| {impl} | not installed | - |")
            continue
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, impl], check=True)


if __name__ == "__main__":
    main()
