"""Adagrad, Keras 3 semantics: the accumulator starts at initial_accumulator_value, epsilon inside the root."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class Adagrad(Optimizer):
    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, *, name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _slot_initial_value(self, slot_name):
        return self.initial_accumulator_value

    def _update(self, values, grads, slots, learning_rate):
        _core.adagrad_apply(values, grads, slots["accumulator"], learning_rate=learning_rate, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
