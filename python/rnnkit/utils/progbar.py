"""Keras 3's utils.Progbar for a loop of one's own: update(current, values) / add(n, values) with values as
(name, value) pairs, drawn as fit draws its bar (rnnkit.engine.progbar). As in Keras 3.15 a value is averaged over
the steps it covers until the final update, which shows the last values; names in `stateful_metrics` always show
their latest value; with `stateless_metrics` instead, only those names are averaged."""
from rnnkit.engine import progbar


class Progbar:
    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, stateless_metrics=None,
                 unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: give stateful_metrics (the names shown as they are) or stateless_metrics (the "
                             "names averaged), not both")
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.stateful_metrics = None if stateless_metrics is not None else set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self.unit_name = unit_name
        self._bar = progbar.Progbar(target, verbose=verbose, width=width, unit_name=unit_name)
        self._sums, self._order, self._seen_so_far = {}, [], 0
        self._last_draw = None

    def _averaged(self, name):
        return name not in self.stateful_metrics if self.stateful_metrics is not None else \
            name in self.stateless_metrics

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step `current` with the (name, value) pairs of the steps since the last update."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        steps = max(current - self._seen_so_far, 1)
        for name, value in values or []:
            if name not in self._sums:
                self._order.append(name)
            if self._averaged(name) and not finalize:
                total, count = self._sums.get(name, [0.0, 0])
                self._sums[name] = [total + float(value) * steps, count + steps]
            else:
                self._sums[name] = [float(value), 1]
        self._seen_so_far = current
        now = self._bar.clock()
        if self.verbose == 1 and not finalize and self._last_draw is not None and now - self._last_draw < self.interval:
            return
        self._bar.update(current, {name: self._sums[name][0] / self._sums[name][1] for name in self._order},
                         finalize=finalize)
        self._last_draw = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)
