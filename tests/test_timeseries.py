"""timeseries_dataset_from_array against windows worked out by hand from Keras 3's documented semantics.

Keras 3's own implementation needs tensorflow or grain (neither is a project dependency), so there is no
oracle comparison here; the expected windows follow the docstring: window i starts at start_index + i*stride,
takes sequence_length steps sampling_rate apart, and its target is targets[start_index + i*stride].
"""
import numpy as np
import pytest

from rnnkit.utils import TimeseriesDataset, dataset_to_arrays, timeseries_dataset_from_array

DATA = np.arange(20, dtype=np.float32).reshape(10, 2)  # row r is [2r, 2r+1]
TARGETS = np.arange(10) * 10


def test_default_windows_and_targets_in_one_batch():
    dataset = timeseries_dataset_from_array(DATA, TARGETS, sequence_length=3)
    batches = list(dataset)
    assert len(dataset) == 1 and len(batches) == 1
    x, y = batches[0]
    assert x.shape == (8, 3, 2) and x.dtype == np.float32  # 10 - (3 - 1) windows
    np.testing.assert_array_equal(x[0], DATA[0:3])
    np.testing.assert_array_equal(x[7], DATA[7:10])
    np.testing.assert_array_equal(y, TARGETS[:8])


def test_stride_sampling_rate_and_index_bounds():
    dataset = timeseries_dataset_from_array(DATA[:, 0], TARGETS, sequence_length=2, sequence_stride=2,
                                            sampling_rate=3, start_index=1, end_index=9, batch_size=2)
    # rows 1..8 usable; windows need 1 + 3 = 4 rows: starts 1, 3, 5 (5+3=8 ok), 7 would need row 10
    x, y = dataset.as_arrays()
    np.testing.assert_array_equal(x, [[2, 8], [6, 12], [10, 16]])
    np.testing.assert_array_equal(y, [10, 30, 50])
    assert len(dataset) == 2
    assert [batch[0].shape[0] for batch in dataset] == [2, 1]


def test_without_targets_yields_x_only():
    dataset = timeseries_dataset_from_array(DATA, None, sequence_length=9, batch_size=None)
    windows = list(dataset)
    assert len(dataset) == 2 and len(windows) == 2
    np.testing.assert_array_equal(windows[1], DATA[1:10])
    np.testing.assert_array_equal(dataset_to_arrays(dataset), np.stack([DATA[0:9], DATA[1:10]]))


def test_unbatched_with_targets_yields_single_pairs():
    x, y = next(iter(timeseries_dataset_from_array(DATA, TARGETS, sequence_length=4, batch_size=None)))
    np.testing.assert_array_equal(x, DATA[0:4])
    assert y == 0


def test_fewer_targets_than_windows_limits_the_windows():
    x, y = timeseries_dataset_from_array(DATA, TARGETS[:3], sequence_length=2).as_arrays()
    assert x.shape[0] == 3
    np.testing.assert_array_equal(y, TARGETS[:3])


def test_reiterable_and_shuffle_is_a_seeded_permutation():
    plain = timeseries_dataset_from_array(DATA, TARGETS, sequence_length=2, batch_size=4)
    assert [b[1].tolist() for b in plain] == [b[1].tolist() for b in plain]
    shuffled = timeseries_dataset_from_array(DATA, TARGETS, sequence_length=2, batch_size=4, shuffle=True, seed=3)
    again = timeseries_dataset_from_array(DATA, TARGETS, sequence_length=2, batch_size=4, shuffle=True, seed=3)
    first_pass = np.concatenate([y for _, y in shuffled])
    assert sorted(first_pass.tolist()) == TARGETS[:9].tolist()
    np.testing.assert_array_equal(first_pass, np.concatenate([y for _, y in again]))
    for x, y in shuffled:  # windows stay paired with their targets after shuffling
        np.testing.assert_array_equal(x[:, 0, 0], y / 10 * 2)


def test_dataset_to_arrays_rejects_other_objects():
    with pytest.raises(TypeError, match="dataset_to_arrays.*TimeseriesDataset.*list"):
        dataset_to_arrays([])
    assert isinstance(timeseries_dataset_from_array(DATA, None, 2), TimeseriesDataset)


@pytest.mark.parametrize("options, message", [
    ({"sequence_length": 0}, "sequence_length.*positive.*0"),
    ({"sequence_length": 2, "sampling_rate": 10}, "sampling_rate.*lower than the length.*10"),
    ({"sequence_length": 2, "sequence_stride": 0}, "sequence_stride.*positive"),
    ({"sequence_length": 2, "start_index": 10}, "start_index.*lower than the length"),
    ({"sequence_length": 2, "start_index": -1}, "start_index.*0 or greater"),
    ({"sequence_length": 2, "start_index": 5, "end_index": 4}, "end_index.*higher than `start_index`"),
    ({"sequence_length": 2, "end_index": 10}, "end_index.*lower than the length"),
    ({"sequence_length": 2, "batch_size": 0}, "batch_size.*positive"),
])
def test_argument_errors(options, message):
    with pytest.raises(ValueError, match="timeseries_dataset_from_array.*" + message):
        timeseries_dataset_from_array(DATA, TARGETS, **options)


def test_set_random_seed_makes_unseeded_shuffle_reproducible():
    pytest.importorskip("rnnkit.random", reason="rnnkit.random (set_random_seed backend) not written yet")
    from rnnkit.utils import set_random_seed

    orders = []
    for _ in range(2):
        set_random_seed(7)
        dataset = timeseries_dataset_from_array(DATA, TARGETS, sequence_length=2, shuffle=True)
        orders.append(np.concatenate([y for _, y in dataset]).tolist())
    assert orders[0] == orders[1]


def test_fit_accepts_the_windowed_dataset_and_equals_fit_on_its_arrays():
    import rnnkit

    series = np.sin(np.arange(120) / 5).astype(np.float32)
    dataset = rnnkit.utils.timeseries_dataset_from_array(series[:-10, None], series[10:], sequence_length=10,
                                                         batch_size=16)
    x, y = rnnkit.utils.dataset_to_arrays(dataset)
    weights = {}
    for name, data in (("dataset", (dataset,)), ("arrays", (x, y))):
        rnnkit.utils.set_random_seed(0)
        model = rnnkit.Sequential([rnnkit.Input((10, 1)), rnnkit.layers.GRU(4), rnnkit.layers.Dense(1)])
        model.compile(optimizer=rnnkit.optimizers.SGD(0.05), loss="mse")
        kwargs = {} if name == "dataset" else {"batch_size": 16, "shuffle": False}
        history = model.fit(*data, epochs=2, verbose=0, **kwargs)
        assert history.history["loss"][1] < history.history["loss"][0]
        weights[name] = model.get_weights()
    for a, b in zip(weights["dataset"], weights["arrays"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
