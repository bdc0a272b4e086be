"""model.summary() against the parameter counts of the course notes' tf.keras tables."""
import re

from rnnkit import layers
from rnnkit.models import Model, Sequential


def _summary_lines(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def _rows(lines):
    """(name (type), output shape, params) for each layer row."""
    pattern = re.compile(r"^ (\S+ \(\w+\))\s+(\(.*?\))\s+(\d[\d,]*)")
    return [match.groups() for match in map(pattern.match, lines) if match]


def test_simple_rnn_stack_matches_the_course_table():
    model = Sequential([layers.Input(shape=(20, 6)), layers.SimpleRNN(16, return_sequences=True),
                        layers.SimpleRNN(32), layers.Flatten(), layers.Dense(1)], name="sequential_rnn")
    lines = _summary_lines(model)
    assert lines[0] == 'Model: "sequential_rnn"'
    assert lines[1] == "_" * 65 and lines[3] == "=" * 65 and lines[-1] == "_" * 65
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    shapes_and_params = [(shape, params) for _, shape, params in _rows(lines)]
    assert shapes_and_params == [("(None, 20, 16)", "368"), ("(None, 32)", "1568"), ("(None, 32)", "0"),
                                 ("(None, 1)", "33")]
    assert lines[-4:-1] == ["Total params: 1,969", "Trainable params: 1,969", "Non-trainable params: 0"]


def test_lstm_stack_counts_flatten_of_all_timesteps():
    model = Sequential([layers.Input(shape=(21, 1)), layers.LSTM(16, return_sequences=True),
                        layers.LSTM(32, return_sequences=True), layers.Flatten(), layers.Dense(1)])
    rows = _rows(_summary_lines(model))
    assert [params for _, _, params in rows] == ["1152", "6272", "0", "673"]
    assert rows[2][1] == "(None, 672)"
    assert model.count_params() == 8097


def test_row_names_and_types_follow_keras_naming():
    model = Sequential([layers.Input(shape=(4, 2)), layers.GRU(3, name="encoder"), layers.Dense(1, name="head")])
    assert [name for name, _, _ in _rows(_summary_lines(model))] == ["encoder (GRU)", "head (Dense)"]


def test_functional_summary_has_a_connected_to_column():
    a, b = layers.Input(shape=(3,), name="left"), layers.Input(shape=(3,), name="right")
    merged = layers.Concatenate(name="joined")([a, b])
    model = Model([a, b], layers.Dense(2, name="out")(merged), name="two_inputs")
    lines = _summary_lines(model)
    assert lines[1] == "_" * 98
    assert "Connected to" in lines[2]
    joined_row = next(line for line in lines if line.startswith(" joined (Concatenate)"))
    assert joined_row.rstrip().endswith("left[0][0], right[0][0]")
    assert lines[-4] == "Total params: 14"


def test_non_trainable_layers_are_counted_separately():
    frozen = layers.Dense(4, name="frozen")
    model = Sequential([layers.Input(shape=(2,)), frozen, layers.Dense(1)])
    frozen.trainable = False
    assert _summary_lines(model)[-4:-1] == ["Total params: 17", "Trainable params: 5", "Non-trainable params: 12"]


def test_show_trainable_adds_keras_trainable_column_and_the_unsupported_options_say_so():
    import pytest

    model = Sequential([layers.Input(shape=(3,)), layers.Dense(2, name="head"), layers.Dropout(0.1, name="drop"),
                        layers.Dense(1, name="frozen", trainable=False)])
    plain, marked = _summary_lines(model), _summary_lines(model, show_trainable=True)
    assert len(marked[1]) == len(plain[1]) + 11 and marked[2].split()[-1] == "Trainable"
    rows = {line.split()[0]: line.split()[-1] for line in marked if line.startswith((" head", " drop", " frozen"))}
    assert rows == {"head": "Y", "drop": "-", "frozen": "N"}  # "-": no weights, as in Keras 3
    for line in plain:  # the other columns keep their places
        if line.startswith(" head"):
            assert next(m for m in marked if m.startswith(" head")).startswith(line.rstrip())
    assert _summary_lines(model, expand_nested=True) == plain  # nothing nested to expand
    with pytest.raises(NotImplementedError, match="layer_range"):
        model.summary(layer_range=["head", "frozen"])
    outer = Sequential([layers.Input(shape=(3,)), model])
    with pytest.raises(NotImplementedError, match="expand_nested"):
        outer.summary(expand_nested=True)
