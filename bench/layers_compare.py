"""rnnkit's feed-forward layers against PyTorch's: Conv1D, DepthwiseConv1D, SeparableConv1D, Conv1DTranspose,
MaxPooling1D, BatchNormalization and the layer-only activations (gelu, silu, mish, leaky_relu), forward and
forward + backward, on 1 and 2 threads.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=build/rel/python:python python bench/layers_compare.py [--rounds 7]

Same method as attention_compare.py (interleaved rounds in one process, the same thread count for both, medians,
ratio torch / rnnkit > 1 when rnnkit is faster). rnnkit runs its Keras layers' forward / backward on
(batch, steps, channels); PyTorch runs its own functional ops on its native (batch, channels, steps) layout, so
neither pays for the other's layout.
"""
import argparse

import numpy as np
import torch
import torch.nn.functional as F

import rnnkit
from attention_compare import compare
from rnnkit import layers

SEQUENCE = (32, 100, 128)  # (batch, steps, channels)
ELEMENTS = (4096, 2048)


def layer_cases(layer, x, torch_forward):
    """(rnnkit forward, torch forward) and (rnnkit forward + backward, torch forward + backward) of one layer."""
    layer.build(x.shape)
    d_y = np.ones_like(layer.forward(x, training=True)[0])
    t_x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
    t_dy = None

    def ours_forward():
        layer.forward(x, training=False)

    def ours_train():
        _, ctx = layer.forward(x, training=True)
        layer.backward(ctx, d_y)

    def theirs_forward():
        with torch.no_grad():
            torch_forward(t_x)

    def theirs_train():
        nonlocal t_dy
        a = t_x.detach().requires_grad_()
        out = torch_forward(a)
        t_dy = torch.ones_like(out) if t_dy is None else t_dy
        out.backward(t_dy)

    return {"forward": (ours_forward, theirs_forward), "forward + backward": (ours_train, theirs_train)}


def conv_cases():
    batch, steps, channels = SEQUENCE
    weight = torch.randn(channels, channels, 3, requires_grad=True)
    bias = torch.zeros(channels, requires_grad=True)
    x = np.random.default_rng(0).standard_normal(SEQUENCE).astype(np.float32)
    return layer_cases(layers.Conv1D(channels, 3, padding="same"), x, lambda t: F.conv1d(t, weight, bias, padding=1))


def depthwise_cases():
    channels = SEQUENCE[2]
    weight = torch.randn(channels * 2, 1, 3, requires_grad=True)  # torch's (out, in / groups, size): c * 2 + j
    bias = torch.zeros(channels * 2, requires_grad=True)
    x = np.random.default_rng(4).standard_normal(SEQUENCE).astype(np.float32)
    return layer_cases(layers.DepthwiseConv1D(3, padding="same", depth_multiplier=2), x,
                       lambda t: F.conv1d(t, weight, bias, padding=1, groups=channels))


def separable_cases():
    channels = SEQUENCE[2]
    depthwise = torch.randn(channels, 1, 3, requires_grad=True)
    pointwise = torch.randn(channels, channels, 1, requires_grad=True)
    bias = torch.zeros(channels, requires_grad=True)
    x = np.random.default_rng(5).standard_normal(SEQUENCE).astype(np.float32)
    return layer_cases(layers.SeparableConv1D(channels, 3, padding="same"), x,
                       lambda t: F.conv1d(F.conv1d(t, depthwise, padding=1, groups=channels), pointwise, bias))


def transpose_cases():
    batch, steps, channels = SEQUENCE
    weight = torch.randn(channels, channels, 3, requires_grad=True)  # torch's (in, out, size)
    bias = torch.zeros(channels, requires_grad=True)
    x = np.random.default_rng(6).standard_normal(SEQUENCE).astype(np.float32)
    # Keras' "same" at stride 2 keeps the full output's first steps * 2 steps
    return layer_cases(layers.Conv1DTranspose(channels, 3, strides=2, padding="same"), x,
                       lambda t: F.conv_transpose1d(t, weight, bias, stride=2)[..., :2 * steps])


def pooling_cases():
    x = np.random.default_rng(1).standard_normal(SEQUENCE).astype(np.float32)
    return layer_cases(layers.MaxPooling1D(2), x, lambda t: F.max_pool1d(t, 2))


def batch_norm_cases():
    channels = SEQUENCE[2]
    x = np.random.default_rng(2).standard_normal(SEQUENCE).astype(np.float32)
    norm = torch.nn.BatchNorm1d(channels, eps=1e-3)
    return layer_cases(layers.BatchNormalization(), x, norm)


def activation_cases(name, torch_fn):
    x = np.random.default_rng(3).standard_normal(ELEMENTS).astype(np.float32)
    layer = layers.Activation(name)
    d_y = np.ones_like(x)
    t_x = torch.from_numpy(x.copy())
    t_dy = torch.ones_like(t_x)

    def ours_train():
        _, ctx = layer.forward(x, training=True)
        layer.backward(ctx, d_y)

    def theirs_forward():
        with torch.no_grad():
            torch_fn(t_x)

    def theirs_train():
        a = t_x.detach().requires_grad_()
        torch_fn(a).backward(t_dy)

    return {"forward": (lambda: layer.forward(x, training=False), theirs_forward),
            "forward + backward": (ours_train, theirs_train)}


CASES = {
    f"Conv1D({SEQUENCE[2]}, 3, same) on {SEQUENCE}": conv_cases,
    f"DepthwiseConv1D(3, same, depth_multiplier=2) on {SEQUENCE}": depthwise_cases,
    f"SeparableConv1D({SEQUENCE[2]}, 3, same) on {SEQUENCE}": separable_cases,
    f"Conv1DTranspose({SEQUENCE[2]}, 3, strides=2, same) on {SEQUENCE}": transpose_cases,
    f"MaxPooling1D(2) on {SEQUENCE}": pooling_cases,
    f"BatchNormalization on {SEQUENCE}": batch_norm_cases,
    f"gelu on {ELEMENTS}": lambda: activation_cases("gelu", F.gelu),
    f"silu on {ELEMENTS}": lambda: activation_cases("silu", F.silu),
    f"mish on {ELEMENTS}": lambda: activation_cases("mish", F.mish),
    f"leaky_relu on {ELEMENTS}": lambda: activation_cases("leaky_relu", lambda t: F.leaky_relu(t, 0.2)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"torch {torch.__version__}; medians of {args.rounds} interleaved rounds; ms per call")
    print("| layer | threads | pass | rnnkit ms | torch ms | torch / rnnkit |")
    print("|---|---|---|---|---|---|")
    for threads in args.threads:
        rnnkit.set_num_threads(threads)
        torch.set_num_threads(threads)
        for label, make in CASES.items():
            for name, (ours, theirs) in make().items():
                mine, other = compare(ours, theirs, args.rounds)
                print(f"| {label} | {threads} | {name} | {1e3 * mine:.2f} | {1e3 * other:.2f} | {other / mine:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
