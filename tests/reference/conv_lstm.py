"""Float64 numpy reference of ConvLSTM (Keras 3's ConvLSTM1D/2D/3D), written from the cell equations: each
convolution is a sum over the kernel's taps of strided slices of the zero-padded input times that tap's matrix,
and the steps run one at a time. Shares no code with rnnkit's unrolled-window GEMMs."""
import itertools

import numpy as np


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def conv(x, kernel, strides, dilation, padding):
    """x (B, *S, C), kernel (*k, C, G), channels last; Keras' padding ("same" puts the odd pad on the right)."""
    rank = x.ndim - 2
    sizes, ksizes = x.shape[1:-1], kernel.shape[:rank]
    pads, outs = [], []
    for size, k, s, d in zip(sizes, ksizes, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "same":
            out = -(-size // s)
            total = max(0, (out - 1) * s + span - size)
            pads.append((total // 2, total - total // 2))
        else:
            out = (size - span) // s + 1
            pads.append((0, 0))
        outs.append(out)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    y = np.zeros((x.shape[0], *outs, kernel.shape[-1]))
    for tap in itertools.product(*(range(k) for k in ksizes)):
        index = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(tap, dilation, outs, strides))
        y += xp[(slice(None),) + index] @ kernel[tap]
    return y


def forward(x, kernel, recurrent_kernel, bias=None, strides=None, dilation=None, padding="valid",
            initial_state=None, go_backwards=False, activation=np.tanh, recurrent_activation=sigmoid,
            recurrent_keep=None):
    """x (B, T, *S, C) -> outputs (B, T, *S_out, F) in processing order, h, c. recurrent_keep: a (B, *S_out, F)
    mask the state is multiplied by where it enters h∗U."""
    x, kernel, recurrent_kernel = (np.asarray(a, np.float64) for a in (x, kernel, recurrent_kernel))
    rank = x.ndim - 3
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    f = recurrent_kernel.shape[-2]
    h = c = None
    if initial_state is not None:
        h, c = (np.asarray(s, np.float64) for s in initial_state)
    outputs = []
    for t in steps:
        xw = conv(x[:, t], kernel, strides, dilation, padding) + (0.0 if bias is None else bias)
        if h is None:
            h = c = np.zeros(xw.shape[:-1] + (f,))
        h_read = h if recurrent_keep is None else h * recurrent_keep
        pre = xw + conv(h_read, recurrent_kernel, (1,) * rank, (1,) * rank, "same")
        i, fg = recurrent_activation(pre[..., :f]), recurrent_activation(pre[..., f:2 * f])
        c = fg * c + i * activation(pre[..., 2 * f:3 * f])
        h = recurrent_activation(pre[..., 3 * f:]) * activation(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c
