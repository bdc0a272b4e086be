"""Normalization against Keras 3 on torch (the oracle): the same statistics from adapt (Keras computes them in
float32, rnnkit in float64: 1e-4), outputs, weights and configs, and `.keras` archives both ways (Keras' integer
count included)."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="`.keras` archives need h5py (pip install '.[h5]')")
torch = pytest.importorskip("torch", reason="the Keras oracle needs torch (pip install torch==2.13.0)")
keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")

import rnnkit  # noqa: E402

X = (np.random.default_rng(0).standard_normal((32, 5, 3)) * [1.0, 5.0, 0.1] + [2.0, -1.0, 7.0]).astype(np.float32)


@pytest.mark.parametrize("kwargs", [{}, {"axis": None}, {"axis": (1, 2)}, {"invert": True},
                                    {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 9.0]}], ids=str)
def test_outputs_weights_and_configs_match_keras(kwargs):
    theirs, ours = keras.layers.Normalization(**kwargs), rnnkit.layers.Normalization(**kwargs)
    if "mean" in kwargs:
        ours.build(X.shape)
    else:
        theirs.adapt(X)
        ours.adapt(X)
    np.testing.assert_allclose(ours.forward(X)[0], keras.ops.convert_to_numpy(theirs(X)), rtol=1e-4, atol=1e-4)
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == [(w.name, tuple(w.shape)) for w in theirs.weights]
    theirs_config = theirs.get_config()
    assert {k: ours.get_config()[k] for k in theirs_config if k not in ("dtype", "name")} == {
        k: v for k, v in theirs_config.items() if k not in ("dtype", "name")}


@pytest.mark.parametrize("writer", ["keras", "rnnkit"])
def test_keras_archives_both_ways(tmp_path, writer):
    lib = keras if writer == "keras" else rnnkit
    inputs = lib.Input((5, 3))
    norm = lib.layers.Normalization()
    norm.adapt(X)
    source = lib.Model(inputs, lib.layers.Dense(2)(lib.layers.LSTM(4)(norm(inputs))))
    source.save(tmp_path / "model.keras")
    target = (rnnkit.saving.load_model if writer == "keras" else keras.models.load_model)(tmp_path / "model.keras")
    np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(target.predict(X, verbose=0))),
                               np.asarray(keras.ops.convert_to_numpy(source.predict(X, verbose=0))), rtol=1e-5,
                               atol=1e-6)
