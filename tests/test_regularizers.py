"""Weight regularizers (Keras 3's L1, L2, L1L2) against float64 numpy references: penalties, gradients, the
training step and reported losses, configs; the C++ model API refuses them. Keras itself is compared in
test_regularizers_keras.py."""
import numpy as np
import pytest

import rnnkit
from rnnkit import _core, layers, regularizers, saving


def weights(seed, shape=(3, 4)):
    w = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    w.flat[0] = 0.0  # L1's gradient is 0 at 0
    return w


@pytest.mark.parametrize("regularizer, penalty, gradient", [
    (regularizers.L1(0.3), lambda w: 0.3 * np.abs(w).sum(), lambda w: 0.3 * np.sign(w)),
    (regularizers.L2(0.2), lambda w: 0.2 * np.square(w).sum(), lambda w: 0.4 * w),
    (regularizers.L1L2(l1=0.1, l2=0.05), lambda w: 0.1 * np.abs(w).sum() + 0.05 * np.square(w).sum(),
     lambda w: 0.1 * np.sign(w) + 0.1 * w),
])
def test_penalties_and_gradients_match_numpy(regularizer, penalty, gradient):
    w = weights(0)
    w64 = w.astype(np.float64)
    np.testing.assert_allclose(regularizer(w), penalty(w64), rtol=1e-12)
    np.testing.assert_allclose(regularizer.gradient(w), gradient(w64), rtol=1e-6, atol=1e-7)
    assert regularizer.gradient(w).dtype == np.float32


def test_names_configs_and_bad_values_as_keras():
    assert isinstance(regularizers.get("l2"), regularizers.L2) and regularizers.get("l2").l2 == 0.01
    assert regularizers.get("L1").l1 == 0.01 and regularizers.get("l1_l2").get_config() == {"l1": 0.0, "l2": 0.0}
    config = regularizers.serialize(regularizers.L1L2(l1=0.5, l2=0.25))
    assert config == {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25},
                      "registered_name": None}
    assert regularizers.get(config).get_config() == {"l1": 0.5, "l2": 0.25}
    with pytest.raises(ValueError, match="expected a non-negative float"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="Could not interpret regularizer"):
        regularizers.get("l3")


def test_a_training_step_adds_the_penalty_to_the_loss_and_its_gradient_to_the_weights():
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    y = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    inputs = layers.Input((3,))
    dense = layers.Dense(4, kernel_regularizer=regularizers.L2(0.1), bias_regularizer=regularizers.L1(0.2))
    model = rnnkit.Model(inputs, dense(inputs))
    kernel, bias = weights(3), weights(4, (4,))
    dense.set_weights([kernel, bias])
    model.compile(optimizer=rnnkit.optimizers.SGD(0.5), loss="mse")
    k64, b64 = kernel.astype(np.float64), bias.astype(np.float64)
    error = x @ k64 + b64 - y
    penalty = 0.1 * np.square(k64).sum() + 0.2 * np.abs(b64).sum()
    assert sum(model.losses) == pytest.approx(penalty, rel=1e-12)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean(error ** 2) + penalty, rtol=1e-6)
    loss = model.train_on_batch(x, y)
    np.testing.assert_allclose(loss, np.mean(error ** 2) + penalty, rtol=1e-6)
    d_out = 2 * error / error.size
    np.testing.assert_allclose(dense.kernel.numpy(), k64 - 0.5 * (x.T @ d_out + 0.2 * k64), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dense.bias.numpy(), b64 - 0.5 * (d_out.sum(0) + 0.2 * np.sign(b64)), rtol=1e-5,
                               atol=1e-6)


def test_frozen_layers_have_no_penalty():
    inputs = layers.Input((3,))
    dense = layers.Dense(2, kernel_regularizer="l2")
    model = rnnkit.Model(inputs, dense(inputs))
    assert len(model.losses) == 1
    dense.trainable = False
    assert model.losses == []


def test_regularizers_survive_saving_and_reach_add_weight(tmp_path):
    model = rnnkit.Sequential([layers.Input((5,), dtype="int32"),
                               layers.Embedding(9, 3, embeddings_regularizer=regularizers.L1(0.02)),
                               layers.Conv1D(2, 2, kernel_regularizer="l2"),
                               layers.GRU(3, recurrent_regularizer=regularizers.L1L2(l1=0.1, l2=0.2)),
                               layers.Dense(1, bias_regularizer=regularizers.L2(0.3))])
    model.save(tmp_path / "m.rnnkit")
    back = saving.load_model(tmp_path / "m.rnnkit")
    assert sum(back.losses) == pytest.approx(sum(model.losses), rel=1e-12)
    assert back.layers[2].cell.recurrent_regularizer.get_config() == {"l1": 0.1, "l2": 0.2}
    with pytest.raises(ValueError, match="embedding.*embeddings_regularizer is not supported by the C\\+\\+ model API"):
        _core.CppModel(str(tmp_path / "m.rnnkit"))

    class Scaled(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", regularizer="l2", name="s")

        def call(self, x):
            return x * self.scale

    scaled = Scaled()
    scaled.build((None, 4))
    assert scaled.losses == [pytest.approx(0.04)]  # 0.01 * 4 ones squared
