"""rnnkit.utils.PyDataset (Keras 3's keras.utils.PyDataset) drives fit, evaluate and predict."""
import numpy as np

import rnnkit


class Windows(rnnkit.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


def model_and_data():
    rnnkit.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 4, 2)).astype(np.float32)
    y = rng.standard_normal((10, 1)).astype(np.float32)
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), rnnkit.layers.GRU(3), rnnkit.layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    return model, x, y


def test_fit_on_a_py_dataset_equals_fit_on_arrays_without_shuffle():
    model, x, y = model_and_data()
    initial = model.get_weights()
    dataset = Windows(x, y, batch_size=4)
    history = model.fit(dataset, epochs=2, verbose=0)
    from_dataset = model.get_weights()
    assert dataset.epochs_ended == 2 and len(history.history["loss"]) == 2

    model.set_weights(initial)
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(from_dataset, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.evaluate(dataset, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_num_batches_and_unimplemented_getitem():
    assert Windows(np.zeros((9, 1)), np.zeros((9, 1)), 4).num_batches == 3
    try:
        rnnkit.utils.PyDataset()[0]
    except NotImplementedError as error:
        assert "__getitem__" in str(error)
    else:
        raise AssertionError("PyDataset()[0] should raise NotImplementedError")
