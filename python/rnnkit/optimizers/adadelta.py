"""Adadelta, Keras 3 semantics: each step scaled by the ratio of the running RMS of past updates to that of the
gradients, then by the learning rate."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class Adadelta(Optimizer):
    _keras_interleaved_slots = ("accumulated_grad", "accumulated_delta_var")
    _slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, *, name="adadelta", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _update(self, values, grads, slots, learning_rate):
        _core.adadelta_apply(values, grads, slots["accumulated_grad"], slots["accumulated_delta_var"],
                             learning_rate=learning_rate, rho=self.rho, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
