"""Nadam, Keras 3 semantics: Adam with Nesterov momentum under the schedule u_t = beta_1 (1 - 0.5 * 0.96^t), whose
running product is one scalar of state beside the slots (saved after them, as Keras saves it)."""
import numpy as np

from rnnkit import _core
from rnnkit.optimizers.base import Optimizer
from rnnkit.variables import Variable


class Nadam(Optimizer):
    _keras_interleaved_slots = ("momentum", "velocity")
    _slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, name="nadam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._u_product = Variable(np.ones((), np.float32), "u_product", f"{name}/u_product", trainable=False)

    def _scalar_variables(self):
        return [self._u_product]

    def _update(self, values, grads, slots, learning_rate):
        self._u_product.value[...] = _core.nadam_apply(
            values, grads, slots["momentum"], slots["velocity"], iteration=int(self.iterations),
            u_product=float(self._u_product.value), learning_rate=learning_rate, beta_1=self.beta_1,
            beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
