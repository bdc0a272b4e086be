"""Lion, Keras 3 semantics: steps of the learning rate's size along the sign of an interpolated momentum."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class Lion(Optimizer):
    _slot_names = ("momentum",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, *, name="lion", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError("Argument `beta_1` must be in the (0, 1] range (at 0 Lion degenerates to SignSGD). "
                             f"Received: beta_1={beta_1}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _update(self, values, grads, slots, learning_rate):
        _core.lion_apply(values, grads, slots["momentum"], learning_rate=learning_rate, beta_1=self.beta_1,
                         beta_2=self.beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
