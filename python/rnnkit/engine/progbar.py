"""Keras 3 style progress bar: ``32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - loss: 0.1234``."""
import sys
import time

BAR_WIDTH = 20


def format_value(value):
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_time_per_step(seconds, unit_name="step"):
    if seconds >= 1:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_logs(logs):
    return "".join(f" - {name}: {format_value(float(value))}" for name, value in logs.items())


class Progbar:
    """verbose=1: a bar redrawn with \\r on a TTY, only the final line otherwise; verbose=2: the final line only."""

    def __init__(self, target, verbose=1, stream=None, clock=time.monotonic, width=BAR_WIDTH, unit_name="step"):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.clock = clock
        self.width, self.unit_name = width, unit_name
        self.start = clock()
        self.interactive = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()

    def line(self, current, logs):
        elapsed = self.clock() - self.start
        per_step = format_time_per_step(elapsed / max(current, 1), self.unit_name)
        if self.verbose == 2:
            return f"{current}/{self.target} - {elapsed:.0f}s - {per_step}{format_logs(logs)}"
        width = self.width
        filled = width if self.target is None else int(width * current / max(self.target, 1))
        bar = "━" * filled + "─" * (width - filled) if filled < width else "━" * width
        target = self.target if self.target is not None else "Unknown"
        return f"{current}/{target} {bar} {elapsed:.0f}s {per_step}{format_logs(logs)}"

    def update(self, current, logs, finalize=False):
        if self.verbose == 0:
            return
        if finalize:
            prefix = "\r" if self.interactive else ""
            self.stream.write(prefix + self.line(current, logs) + "\n")
        elif self.interactive:
            self.stream.write("\r" + self.line(current, logs))
        self.stream.flush()
