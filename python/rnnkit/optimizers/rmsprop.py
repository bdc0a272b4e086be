"""RMSprop (optionally centered, with momentum), Keras 3 semantics: epsilon is added inside the square root."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, *, name="rmsprop",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def _active_slot_names(self):
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) + (
            ("average_gradient",) if self.centered else ())

    def _update(self, values, grads, slots, learning_rate):
        _core.rmsprop_apply(values, grads, slots["velocity"], slots.get("momentum"), slots.get("average_gradient"),
                            learning_rate=learning_rate, rho=self.rho, momentum=self.momentum,
                            epsilon=self.epsilon, centered=self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
