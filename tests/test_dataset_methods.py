"""tf.data's chaining methods on rnnkit's data sets (take, skip, map, cache, prefetch, as_numpy_iterator): each
gives the elements tf.data would, is re-iterable (fit makes one pass per epoch) and knows its length."""
import numpy as np
import pytest

import rnnkit
from rnnkit import utils


def windows():
    data = np.arange(40, dtype=np.float32).reshape(20, 2)
    return utils.timeseries_dataset_from_array(data, np.arange(20, dtype=np.float32), sequence_length=3,
                                               batch_size=4)


def batches(dataset):
    return [tuple(np.asarray(part) for part in batch) if isinstance(batch, tuple) else np.asarray(batch)
            for batch in dataset]


def assert_same_batches(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(x, y)


def test_take_and_skip_split_the_batches():
    dataset = windows()
    everything = batches(dataset)
    assert len(everything) == len(dataset) == 5  # 18 windows in batches of 4
    assert_same_batches(batches(dataset.take(2)), everything[:2])
    assert_same_batches(batches(dataset.skip(2)), everything[2:])
    assert_same_batches(batches(dataset.take(-1)), everything)
    assert batches(dataset.skip(-1)) == [] and len(dataset.skip(-1)) == 0
    assert (len(dataset.take(2)), len(dataset.take(9)), len(dataset.skip(2)), len(dataset.skip(9))) == (2, 5, 3, 0)
    assert_same_batches(batches(dataset.skip(1).take(2)), everything[1:3])


def test_map_passes_a_tuple_element_as_arguments_and_is_re_iterable():
    dataset = windows()
    inputs_only = dataset.map(lambda x, y: x)
    first, second = batches(inputs_only), batches(inputs_only)
    assert_same_batches(first, [x for x, _ in batches(dataset)])
    assert_same_batches(second, first)
    doubled = dataset.map(lambda x, y: (2 * x, y)).map(lambda x, y: (x, y + 1))
    for (x, y), (x0, y0) in zip(batches(doubled), batches(dataset)):
        np.testing.assert_array_equal(x, 2 * x0)
        np.testing.assert_array_equal(y, y0 + 1)
    assert len(doubled) == len(dataset)
    with pytest.raises(TypeError, match="callable"):
        dataset.map(3)


def test_cache_prefetch_and_numpy_iterator_keep_the_elements():
    dataset = windows()
    assert_same_batches(batches(dataset.cache().prefetch(buffer_size=10)), batches(dataset))
    assert_same_batches(list(dataset.take(3).as_numpy_iterator()), batches(dataset)[:3])


@pytest.mark.parametrize("count", [1.5, True, -2, "2"])
def test_bad_counts_are_refused(count):
    with pytest.raises(ValueError, match="count"):
        windows().take(count)


def test_text_dataset_takes_the_same_methods(tmp_path):
    for label in ("neg", "pos"):
        (tmp_path / label).mkdir()
        for index in range(3):
            (tmp_path / label / f"{index}.txt").write_text(f"{label} text {index}")
    dataset = utils.text_dataset_from_directory(tmp_path, batch_size=2, shuffle=False, verbose=False)
    texts = [list(t) for t in dataset.map(lambda text, label: text)]
    assert texts == [["neg text 0", "neg text 1"], ["neg text 2", "pos text 0"], ["pos text 1", "pos text 2"]]
    assert [list(label) for _, label in dataset.skip(2)] == [[1, 1]]


def test_fit_takes_a_chained_data_set():
    dataset = windows().map(lambda x, y: (x / 40.0, y[:, None] / 20.0)).take(4).prefetch(2)
    model = rnnkit.Sequential([rnnkit.Input((3, 2)), rnnkit.layers.SimpleRNN(4), rnnkit.layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
