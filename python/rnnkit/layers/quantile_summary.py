"""The approximate quantiles Discretization.adapt() learns, computed as Keras 3 computes them (in numpy, float32),
so that the bin boundaries are Keras' to float32 rounding.

A summary is a 2-row float32 array: sorted values and the weight (how many data points) each stands for. A batch
is summarized by about 1/epsilon of its sorted values, evenly spaced, each weighing the spacing; summaries merge by
sorting their columns together. Compressing a summary to a precision `epsilon` reads it as a cumulative
distribution (point i at the fraction of the total weight up to and including it) and interpolates the values and
cumulative weights at the fractions epsilon, 2 epsilon, ..., 1. The boundaries of n bins are the first n - 1
values of the summary compressed to 1/n: the values 1..100 give the boundaries 25, 50 and 75 (24.99998, 49.99998
and 74.99998, the fractions epsilon, 2 epsilon, ... being rounded).
"""
import numpy as np


def empty_summary():
    return np.zeros((2, 0), dtype=np.float32)


def summarize(values, epsilon):
    """The summary of one batch of `values` (any shape, float32)."""
    values = np.sort(np.ravel(values))
    spacing = max(values.size / (1.0 / epsilon), 1.0)  # keeps about 1 / epsilon points
    picked = values[int(spacing) - 1::int(spacing)]
    return np.stack([picked, np.full_like(picked, spacing)])


def merged(summary, other, epsilon):
    """The two summaries' columns sorted by value together, compressed to `epsilon`. Equal values keep numpy's
    default (unstable) sort order, as in Keras: the order of their weights moves the interpolated boundaries."""
    columns = np.concatenate([summary, other], axis=1)
    return compressed(columns[:, np.argsort(columns[0])], epsilon)


def compressed(summary, epsilon):
    """`summary` at the cumulative fractions epsilon, 2 epsilon, ..., 1 (as it is when it holds fewer than
    1 / epsilon points)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = np.cumsum(summary[1])
    held = cumulative / cumulative[-1]
    values = np.interp(fractions, held, summary[0])
    new_cumulative = np.interp(fractions, held, cumulative)
    return np.stack([values, np.diff(new_cumulative, prepend=0.0)]).astype(np.float32)


def bin_boundaries(summary, num_bins):
    """The num_bins - 1 boundaries (fewer when the summary holds fewer points) as a list of floats."""
    return compressed(summary, 1.0 / num_bins)[0, :-1].tolist()
