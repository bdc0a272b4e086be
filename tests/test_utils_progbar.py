"""utils.Progbar, Keras 3's progress bar for loops of one's own: averaging until the final update, stateful and
stateless metrics, width, unit name, verbose levels; the same numbers as Keras' where it is installed."""
import re

import pytest

import rnnkit


def final_values(output):
    return {name: float(value) for name, value in re.findall(r"(\w+): ([0-9.e+-]+)", output.splitlines()[-1])}


def run(lib, capsys, scenario):
    capsys.readouterr()
    scenario(lib.utils.Progbar)
    return capsys.readouterr().out


def stateful_accuracy(progbar):
    bar = progbar(4, stateful_metrics=["acc"])
    for step in range(4):
        bar.add(1, [("loss", 1.0 / (step + 1)), ("acc", 0.25 * (step + 1))])


def averaged_then_finalized(progbar):
    bar = progbar(3, verbose=2)
    bar.update(1, [("loss", 1.0)])
    bar.update(3, [("loss", 0.25)], finalize=False)  # covers two steps
    bar.update(3, finalize=True)


def stateless_only(progbar):
    bar = progbar(3, stateless_metrics=["loss"], verbose=2)
    bar.update(1, [("loss", 3.0), ("lr", 0.1)])
    bar.update(2, [("loss", 1.0), ("lr", 0.05)])
    bar.update(3, finalize=True)


SCENARIOS = {"stateful_accuracy": (stateful_accuracy, {"loss": 0.25, "acc": 1.0}),
             "averaged_then_finalized": (averaged_then_finalized, {"loss": 0.5}),
             "stateless_only": (stateless_only, {"loss": 2.0, "lr": 0.05})}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_final_line_shows_kerass_values(name, capsys):
    scenario, expected = SCENARIOS[name]
    assert final_values(run(rnnkit, capsys, scenario)) == pytest.approx(expected)


def test_bar_width_unit_and_silence(capsys):
    capsys.readouterr()
    bar = rnnkit.utils.Progbar(2, width=8, unit_name="batch")
    bar.update(2, [("loss", 0.5)])
    line = capsys.readouterr().out.strip()
    assert line.startswith("2/2 ━━━━━━━━ ") and "/batch - loss: 0.5000" in line
    rnnkit.utils.Progbar(2, verbose=0).update(2, [("loss", 0.5)])
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="not both"):
        rnnkit.utils.Progbar(2, stateful_metrics=["a"], stateless_metrics=["b"])


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_final_values_match_keras(name, capsys):
    keras = pytest.importorskip("keras", reason="the Keras oracle needs keras 3 (pip install keras)")
    scenario, _ = SCENARIOS[name]
    assert final_values(run(rnnkit, capsys, scenario)) == pytest.approx(final_values(run(keras, capsys, scenario)))
