"""Adamax, Keras 3 semantics: Adam with the infinity norm of the gradients in place of their second moment."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class Adamax(Optimizer):
    _keras_interleaved_slots = ("momentum", "norm")
    _slot_names = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, name="adamax", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _update(self, values, grads, slots, learning_rate):
        _core.adamax_apply(values, grads, slots["momentum"], slots["norm"], iteration=int(self.iterations),
                           learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
