"""Adam (optionally AMSGrad), Keras 3 semantics: epsilon is added to sqrt(v), bias correction folded into the rate."""
from rnnkit import _core
from rnnkit.optimizers.base import Optimizer


class Adam(Optimizer):
    _keras_interleaved_slots = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, *, name="adam",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, bool(amsgrad)

    def _active_slot_names(self):
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def _update(self, values, grads, slots, learning_rate):
        _core.adam_apply(values, grads, slots["momentum"], slots["velocity"], slots.get("velocity_hat"),
                         iteration=int(self.iterations), learning_rate=learning_rate, beta_1=self.beta_1,
                         beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
