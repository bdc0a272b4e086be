"""Progress output of fit: Keras 3 format, in-place on a TTY, final lines only otherwise."""
import io
import re

import numpy as np

from rnnkit import layers
from rnnkit.engine.progbar import Progbar, format_time_per_step, format_value
from rnnkit.models import Sequential
from engine_stand_ins import SGD, MeanSquaredError


class _FakeClock:
    def __init__(self, times):
        self.times = iter(times)

    def __call__(self):
        return next(self.times)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_final_line_has_bar_time_per_step_and_metrics():
    stream = io.StringIO()
    bar = Progbar(32, verbose=1, stream=stream, clock=_FakeClock([0.0, 1.384]))
    bar.update(32, {"loss": 0.12341, "accuracy": 0.9}, finalize=True)
    assert stream.getvalue() == "32/32 " + "━" * 20 + " 1s 43ms/step - loss: 0.1234 - accuracy: 0.9000\n"


def test_tty_redraws_in_place_and_pipes_get_only_the_final_line():
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progbar(4, verbose=1, stream=stream, clock=_FakeClock([0.0, 0.1, 0.2]))
        bar.update(2, {"loss": 1.0})
        bar.update(4, {"loss": 0.5}, finalize=True)
    assert tty.getvalue().startswith("\r2/4 " + "━" * 10 + "─" * 10 + " 0s 50ms/step - loss: 1.0000\r4/4 ")
    assert pipe.getvalue().count("\n") == 1 and "\r" not in pipe.getvalue()


def test_verbose_2_prints_one_summary_line():
    stream = io.StringIO()
    Progbar(8, verbose=2, stream=stream, clock=_FakeClock([0.0, 2.0])).update(8, {"loss": 2.5}, finalize=True)
    assert stream.getvalue() == "8/8 - 2s - 250ms/step - loss: 2.5000\n"


def test_number_and_time_formats_switch_units_like_keras():
    assert format_value(0.0001234) == "1.2340e-04" and format_value(12.0) == "12.0000"
    assert [format_time_per_step(t) for t in (2.0, 0.012, 0.0000456)] == ["2s/step", "12ms/step", "46us/step"]


def test_fit_verbose_1_prints_epoch_headers_and_one_line_per_epoch(capsys):
    model = Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=SGD(0.01), loss=MeanSquaredError())
    model.fit(np.ones((10, 2), np.float32), np.ones((10, 1), np.float32), batch_size=4, epochs=2, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert re.fullmatch(r"3/3 ━{20} \d+s \d+(us|ms)/step - loss: \d+\.\d{4}(e-\d\d)?", lines[1])


def test_fit_verbose_0_is_silent(capsys):
    model = Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=SGD(0.01), loss=MeanSquaredError())
    model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), verbose=0)
    assert capsys.readouterr().out == ""
