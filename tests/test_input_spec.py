"""InputSpec on a custom layer: checked on every call, on arrays and on symbolic tensors, with Keras' messages;
the same messages as Keras where it is installed."""
import numpy as np
import pytest

import rnnkit


def spec_layer(lib, spec):
    class Checked(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = spec

        def call(self, x):
            return x

    return Checked(name="checked")


CASES = [  # (spec arguments, a shape that fits, a shape that does not, the message's detail)
    ({"ndim": 3}, (2, 3, 4), (2, 4), "expected ndim=3, found ndim=2. Full shape received: (2, 4)"),
    ({"min_ndim": 3}, (2, 3, 4, 5), (2, 4), "expected min_ndim=3, found ndim=2. Full shape received: (2, 4)"),
    ({"max_ndim": 2}, (2, 4), (2, 3, 4), "expected max_ndim=2, found ndim=3"),
    ({"ndim": 3, "axes": {-1: 4}}, (2, 3, 4), (2, 3, 5),
     "expected axis -1 of input shape to have value 4, but received input with shape (2, 3, 5)"),
    ({"shape": (None, 3, 4)}, (7, 3, 4), (7, 2, 4), "expected shape=(None, 3, 4), found shape=(7, 2, 4)"),
    ({"dtype": "float32"}, (2, 3), None, None),
]


@pytest.mark.parametrize("arguments, fits, misfits, detail", CASES)
def test_calls_are_checked_against_the_spec(arguments, fits, misfits, detail):
    layer = spec_layer(rnnkit, rnnkit.layers.InputSpec(**arguments))
    assert layer(np.zeros(fits, np.float32)).shape == fits
    if misfits is None:
        return
    expected = f"Input 0 with name 'None' of layer 'checked' is incompatible with the layer: {detail}"
    with pytest.raises(ValueError) as raised:
        layer(np.zeros(misfits, np.float32))
    assert str(raised.value) == expected


def test_symbolic_tensors_and_dtypes_are_checked():
    layer = spec_layer(rnnkit, rnnkit.layers.InputSpec(ndim=3, axes={2: 4}))
    assert layer(rnnkit.Input((5, 4))).shape == (None, 5, 4)
    with pytest.raises(ValueError, match="expected axis 2 of input shape to have value 4"):
        spec_layer(rnnkit, rnnkit.layers.InputSpec(ndim=3, axes={2: 4}))(rnnkit.Input((5, 3)))
    with pytest.raises(ValueError, match="expected dtype=float32, found dtype=int32"):
        spec_layer(rnnkit, rnnkit.layers.InputSpec(dtype="float32"))(np.zeros((2, 3), np.int32))


def test_one_spec_per_input_and_the_count_is_checked():
    layer = spec_layer(rnnkit, [rnnkit.layers.InputSpec(ndim=2), rnnkit.layers.InputSpec(ndim=3)])
    a, b = np.zeros((2, 3), np.float32), np.zeros((2, 3, 4), np.float32)
    layer([a, b])
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer([a, a])
    with pytest.raises(ValueError, match='expects 2 input\\(s\\), but it received 3'):
        layer([a, b, b])


def test_spec_prints_and_round_trips_its_config():
    spec = rnnkit.layers.InputSpec(ndim=3, axes={-1: 8})
    assert repr(spec) == "InputSpec(ndim=3, axes={-1: 8})"
    again = rnnkit.layers.InputSpec.from_config(spec.get_config())
    assert (again.ndim, again.axes) == (3, {-1: 8})
    with pytest.raises(TypeError, match="axes"):
        rnnkit.layers.InputSpec(axes=[1, 2])


@pytest.mark.oracle
@pytest.mark.parametrize("arguments, fits, misfits, detail", [case for case in CASES if case[2] is not None])
def test_messages_match_keras(arguments, fits, misfits, detail):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    messages = []
    for lib in (keras, rnnkit):
        with pytest.raises(ValueError) as raised:
            spec_layer(lib, lib.layers.InputSpec(**arguments))(np.zeros(misfits, np.float32))
        messages.append(str(raised.value))
    assert messages[1] == messages[0]
    assert repr(rnnkit.layers.InputSpec(**arguments)) == repr(keras.layers.InputSpec(**arguments))
