"""Optimizer base class: Keras 3's constructor arguments, iteration counter, learning rate, clipping and slots.

Subclasses declare their slot kinds and call one C++ update (rnnkit._core.<name>_apply) per step; the update
runs in place on each Variable.value, so the model's arrays change without any copy.
"""
import re

import numpy as np

from rnnkit.optimizers import schedules as schedules_module
from rnnkit.variables import Variable


class IterationVariable(Variable):
    """The optimizer's int64 step counter (Keras' ``optimizer.iterations``), stored with the optimizer state."""

    def __init__(self, path):
        super().__init__(np.zeros(()), "iteration", path, trainable=False)
        self.value = np.zeros((), np.int64)  # exact past 2**24 steps, where a float32 counter would stall

    @property
    def dtype(self):
        return "int64"

    def assign(self, value):
        value = np.asarray(value)
        if value.shape != ():
            raise ValueError(f"Variable '{self.path}' is a scalar; received a value of shape {value.shape}")
        self.value[...] = np.int64(value)

    def __int__(self):
        return int(self.value)

    __index__ = __int__

    def __float__(self):
        return float(self.value)


class Optimizer:
    """Base of the optimizers. ``_slot_names`` lists the per-variable state kinds in order."""

    _slot_names = ()
    # The slot kinds Keras 3 creates together, alternating variable by variable in its saved state
    # (rnnkit.saving.keras_optimizer).
    _keras_interleaved_slots = ()

    def __init__(self, learning_rate, *, name, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        # Keras 3 base arguments accepted only when off: the update paths they switch on are not implemented.
        unsupported = {"use_ema": use_ema, "loss_scale_factor": loss_scale_factor,
                       "gradient_accumulation_steps": gradient_accumulation_steps}
        for argument, value in unsupported.items():
            if value:
                raise NotImplementedError(f"{type(self).__name__}: `{argument}` is not supported by rnnkit "
                                          f"(received {argument}={value!r})")
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(value is not None for value in clips.values()) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             + ", ".join(f"{k}={v}" for k, v in clips.items()))
        for argument, value in {**clips, "weight_decay": weight_decay}.items():
            if value is not None and not value >= 0:
                raise ValueError(f"{type(self).__name__}: `{argument}` must be >= 0, received {value!r}")
        self.name = name
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.weight_decay, self.use_ema, self.loss_scale_factor = weight_decay, use_ema, loss_scale_factor
        self.ema_momentum, self.ema_overwrite_frequency = ema_momentum, ema_overwrite_frequency
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._learning_rate = self._checked_learning_rate(learning_rate)
        self._iterations = IterationVariable(f"{name}/iteration")
        self._slots = {}
        self._decay_excluded_ids, self._decay_excluded_names = set(), None
        self._trainable_variables = []
        self._index = {}
        self.built = False

    # -- learning rate ---------------------------------------------------------------------------------------
    @staticmethod
    def _checked_learning_rate(value):
        if isinstance(value, schedules_module.LearningRateSchedule) or callable(value):
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
                             f"or a callable. Received instead: learning_rate={value!r}")
        return float(value)

    @property
    def learning_rate(self):
        """The rate of the next update: the float, or the schedule evaluated at ``iterations``."""
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            return float(self._learning_rate(int(self._iterations)))
        if callable(self._learning_rate):
            return float(self._learning_rate())
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        value = self._checked_learning_rate(value)
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule) and not callable(value):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. "
                            "If you need the learning rate to be settable, you should instantiate the optimizer "
                            "with a float `learning_rate` argument.")
        self._learning_rate = value

    # -- state -------------------------------------------------------------------------------------------------
    @property
    def iterations(self):
        return self._iterations

    @property
    def variables(self):
        """The iteration counter, then every variable's first slot kind, then the second, ..., then the scalars of
        state some optimizers keep beside their slots (save/load order)."""
        slots = [slot for name in self._active_slot_names() for slot in self._slots.get(name, [])]
        return [self._iterations] + slots + self._scalar_variables()

    def _active_slot_names(self):
        return self._slot_names

    def _scalar_variables(self):
        """State beside the slots (Nadam's momentum-schedule product), in Keras' order after them."""
        return []

    def _slot_initial_value(self, slot_name):
        return 0.0

    def build(self, variables):
        """Creates the zero-initialised slots of every trainable variable (no-op once built)."""
        if self.built:
            return
        variables = list(variables)
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        for slot_name in self._active_slot_names():
            initial = np.float32(self._slot_initial_value(slot_name))
            self._slots[slot_name] = [
                Variable(np.full(v.shape, initial, np.float32), name=f"{v.path.replace('/', '_')}_{slot_name}",
                         path=f"{self.name}/{v.path.replace('/', '_')}_{slot_name}", trainable=False)
                for v in variables]
        self.built = True

    # -- weight decay ------------------------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Keras 3: the variables of var_list, and those whose name contains any of var_names, are not decayed.
        Only before the optimizer is built."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._decay_excluded_ids = {id(variable) for variable in var_list or []}
        self._decay_excluded_names = re.compile("|".join(set(var_names))) if var_names else None

    def _decays(self, variable):
        if id(variable) in self._decay_excluded_ids:
            return False
        return self._decay_excluded_names is None or self._decay_excluded_names.search(variable.name) is None

    def _apply_weight_decay(self, variables, learning_rate):
        """Keras 3's decoupled decay, before the update and at its rate: v <- v - v * weight_decay * rate."""
        if not self.weight_decay:
            return
        decay = np.float32(self.weight_decay)
        for variable in variables:
            if self._decays(variable):
                np.subtract(variable.value, variable.value * decay * learning_rate, out=variable.value)

    # -- updates ---------------------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars) if grads_and_vars else ((), ())
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """One update of every variable from its gradient; None gradients skip their variable."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on "
                                 "a list of variables. Call `optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{type(self).__name__}.apply: received {len(grads)} gradients for "
                             f"{len(trainable_variables)} variables")
        self.build(trainable_variables)
        pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        indices = []
        for _, variable in pairs:
            index = self._index.get(id(variable))
            if index is None:
                raise ValueError(f"Unknown variable '{getattr(variable, 'path', variable)}': the optimizer was "
                                 "built on a different list of variables")
            indices.append(index)
        grads = [np.asarray(g, np.float32) for g, _ in pairs]
        for gradient, (_, variable) in zip(grads, pairs):
            if gradient.shape != tuple(variable.shape):
                raise ValueError(f"Gradient of shape {gradient.shape} for variable '{variable.path}' of shape "
                                 f"{tuple(variable.shape)}")
        grads = self._clip(grads)
        learning_rate = np.float32(self.learning_rate)
        self._apply_weight_decay([variable for _, variable in pairs], learning_rate)
        values = [variable.value for _, variable in pairs]
        slots = {name: [self._slots[name][i].value for i in indices] for name in self._active_slot_names()}
        self._update(values, grads, slots, learning_rate)
        for _, variable in pairs:  # Keras: constraints see each updated value
            if getattr(variable, "constraint", None) is not None:
                variable.value[...] = variable.constraint(variable.value)
        self._iterations.value += 1

    def _clip(self, grads):
        if not (self.clipnorm or self.clipvalue or self.global_clipnorm):
            return grads
        from rnnkit import _core

        return _core.clip_gradients(grads, clipnorm=float(self.clipnorm or 0.0),
                                    clipvalue=float(self.clipvalue or 0.0),
                                    global_clipnorm=float(self.global_clipnorm or 0.0))

    def _update(self, values, grads, slots, learning_rate):
        raise NotImplementedError

    # -- config ------------------------------------------------------------------------------------------------
    def get_config(self):
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            learning_rate = schedules_module.serialize(self._learning_rate)
        elif callable(self._learning_rate):
            raise ValueError(f"{type(self).__name__}.get_config: a callable learning_rate cannot be serialized; "
                             "use a LearningRateSchedule")
        else:
            learning_rate = self._learning_rate
        return {"name": self.name, "learning_rate": learning_rate, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency, "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, learning_rate={self._learning_rate!r}>"
