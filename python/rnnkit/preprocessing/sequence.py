"""Sequence padding and one-hot labels with Keras 3 semantics (keras.utils.pad_sequences / to_categorical)."""
import numpy as np


def _is_string_dtype(dtype):
    return np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.object_)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad/truncate a list of sequences to one (num_samples, maxlen, *sample_shape) array.

    'pre' pads or cuts at the start, 'post' at the end. Sequence elements may themselves be arrays; their
    shape is taken from the first non-empty sequence and every other must match.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: `sequences` must be iterable, received {type(sequences).__name__}")
    lengths = []
    sample_shape = None
    for sequence in sequences:
        try:
            lengths.append(len(sequence))
        except TypeError as error:
            raise ValueError("pad_sequences: `sequences` must be a list of iterables. "
                             f"Found non-iterable: {sequence!r}") from error
        if sample_shape is None and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences: cannot infer `maxlen` from an empty list of sequences; pass maxlen")
        maxlen = int(np.max(lengths))
    if isinstance(value, str) and dtype is not object and not _is_string_dtype(dtype):
        raise ValueError(f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         "You should set `dtype=object` for variable length strings.")
    padded = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for position, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        if truncating == "pre":
            kept = sequence[-maxlen:]
        elif truncating == "post":
            kept = sequence[:maxlen]
        else:
            raise ValueError(f'pad_sequences: truncating type "{truncating}" not understood; '
                             "expected 'pre' or 'post'")
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: shape of sample {kept.shape[1:]} of sequence at position {position} "
                             f"is different from expected shape {sample_shape}")
        if padding == "post":
            padded[position, :len(kept)] = kept
        elif padding == "pre":
            padded[position, -len(kept):] = kept
        else:
            raise ValueError(f'pad_sequences: padding type "{padding}" not understood; expected \'pre\' or \'post\'')
    return padded


def to_categorical(x, num_classes=None):
    """One-hot float32 matrix of integer labels `x` (Keras 3's name; tf.keras 2 called it y); a trailing dimension
    of size 1 is replaced by the classes."""
    labels = np.array(x, dtype="int64")
    input_shape = labels.shape
    if len(input_shape) > 1 and input_shape[-1] == 1:
        input_shape = input_shape[:-1]
    labels = labels.reshape(-1)
    if not num_classes:
        if labels.size == 0:
            raise ValueError("to_categorical: cannot infer `num_classes` from empty labels; pass num_classes")
        num_classes = int(np.max(labels)) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: expected labels in [0, {num_classes}), "
                         f"received values from {labels.min()} to {labels.max()}")
    categorical = np.zeros((labels.shape[0], num_classes), dtype="float32")
    categorical[np.arange(labels.shape[0]), labels] = 1
    return categorical.reshape(tuple(input_shape) + (num_classes,))
