"""The integer values of IntegerLookup and CategoryEncoding: numpy int64 arrays, converted as TensorFlow converts
what Keras hands it to int64 (floats truncated toward zero, booleans 0 and 1, decimal strings parsed)."""
import numpy as np

_INT64 = np.iinfo(np.int64)


def _parsed(layer, value):
    """One entry of an object or string array as an int."""
    if isinstance(value, (str, bytes)):
        try:
            return int(value.decode("utf-8") if isinstance(value, bytes) else value)
        except (UnicodeDecodeError, ValueError):
            pass
    elif isinstance(value, (bool, int, np.integer, np.bool_)):
        return int(value)
    elif isinstance(value, (float, np.floating)) and np.isfinite(value):
        return int(value)
    raise ValueError(f"{layer}: expected integers, received {value!r}")


def as_integer_array(layer, values):
    """`values` (a scalar, nested lists or an array) as an int64 array of the same shape, or a ValueError naming
    `layer` for values that are not integers (a non-finite float, a string that is no decimal integer, ragged
    lists) or lie outside int64."""
    try:
        array = np.asarray(values)
    except ValueError:
        raise ValueError(f"{layer}: expected a rectangular array of integers, received nested sequences of "
                         "different lengths") from None
    if array.dtype.kind in "bi":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "u":
        if array.size and array.max() > _INT64.max:
            raise ValueError(f"{layer}: value {array.max()} lies outside int64")
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"{layer}: expected integers, received non-finite floats")
        if array.size and (array.max() >= 2.0 ** 63 or array.min() < -2.0 ** 63):
            raise ValueError(f"{layer}: value {array.flat[np.argmax(np.abs(array))]} lies outside int64")
        return np.trunc(array).astype(np.int64)
    parsed = [_parsed(layer, value) for value in array.ravel()]
    if any(not _INT64.min <= value <= _INT64.max for value in parsed):
        raise ValueError(f"{layer}: values lie outside int64")
    return np.array(parsed, dtype=np.int64).reshape(array.shape)
