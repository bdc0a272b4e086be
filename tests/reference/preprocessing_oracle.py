"""The checks the preprocessing-layer oracle tests share: rnnkit's layer beside Keras' of the same name and
options, their outputs (values, dtype, shape) and their configs."""
import numpy as np

import rnnkit


def keras_numpy(keras, value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_same(keras, ours, theirs):
    expected = keras_numpy(keras, theirs)
    assert ours.dtype == expected.dtype, (ours.dtype, expected.dtype)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def both(keras, name, options):
    return getattr(rnnkit.layers, name)(**options), getattr(keras.layers, name)(**options)


def same_config(ours, theirs, ignored=("name",)):
    """Equal configs, a dtype compared by name (Keras writes a DTypePolicy dict, rnnkit its name)."""
    def plain(config):
        dtype = config.get("dtype")
        return {**config, "dtype": dtype["config"]["name"] if isinstance(dtype, dict) else dtype}

    assert {k: v for k, v in plain(ours.get_config()).items() if k not in ignored} == \
        {k: v for k, v in plain(theirs.get_config()).items() if k not in ignored}
