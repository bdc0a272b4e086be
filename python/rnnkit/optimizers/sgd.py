"""SGD with optional (Nesterov) momentum, Keras 3 semantics."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class SGD(Optimizer):
    """``m = momentum * m - lr * g``; ``w += m`` (Nesterov: ``w += momentum * m - lr * g``); plain
    ``w -= lr * g`` when momentum is 0."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, *, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _active_slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    def _update(self, values, grads, slots, learning_rate):
        _core.sgd_apply(values, grads, slots.get("momentum"), learning_rate=learning_rate, momentum=self.momentum,
                        nesterov=self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
