"""Keras 3's GroupNormalization: each sample's channels (the `axis`) split into `groups` groups, each group
normalised over all of the sample's other positions, then gamma and beta per channel. Computed in the core
(cpp/src/nn/group_norm.cpp) on (batch, positions, channels)."""
import numpy as np

from rnnkit import _core, constraints, initializers, regularizers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import float_input
from rnnkit.layers.layer import Layer


class GroupNormalization(Layer):
    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (groups < 1 and groups != -1):
            raise ValueError(f"{self.name}: groups must be a positive int or -1 (one group a channel), received "
                             f"{groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"{self.name}: axis must be an int, received {axis!r}")
        self.groups, self.axis, self.epsilon = int(groups), int(axis), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True  # as Keras: the mask passes through, the statistics do not see it

    def _channel_axis(self, rank):
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"{self.name}: axis {self.axis} is not a feature axis of an input of rank {rank}")
        return self.axis % rank

    def build(self, input_shape):
        channels = input_shape[self._channel_axis(len(input_shape))]
        if channels is None:
            raise ValueError(f"{self.name}: axis {self.axis} of the input must have a known size, received "
                             f"{tuple(input_shape)}")
        if self.groups == -1:
            self.groups = channels
        if channels < self.groups or channels % self.groups:
            raise ValueError(f"{self.name}: {channels} channels do not split into {self.groups} groups of equal size")
        self.gamma = (self.add_weight((channels,), self.gamma_initializer, name="gamma",
                                      regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
                      if self.scale else None)
        self.beta = (self.add_weight((channels,), self.beta_initializer, name="beta",
                                     regularizer=self.beta_regularizer, constraint=self.beta_constraint)
                     if self.center else None)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._channel_axis(len(input_shape))
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        axis = self._channel_axis(x.ndim)
        rows = np.ascontiguousarray(np.moveaxis(x, axis, -1)).reshape(x.shape[0], -1, x.shape[axis])
        y, mean, inv_std = _core.group_norm_forward(rows, self._value(self.gamma), self._value(self.beta),
                                                    self.groups, self.epsilon)
        moved = np.moveaxis(x, axis, -1).shape
        out = np.ascontiguousarray(np.moveaxis(y.reshape(moved), -1, axis))
        return out, ((rows, mean, inv_std, axis, moved) if training else None)

    def backward(self, ctx, d_outputs):
        rows, mean, inv_std, axis, moved = ctx
        d_y = np.ascontiguousarray(np.moveaxis(np.asarray(d_outputs, np.float32), axis, -1)).reshape(rows.shape)
        d_x, d_gamma, d_beta = _core.group_norm_backward(rows, self._value(self.gamma), mean, inv_std, d_y,
                                                         self.center)
        pairs = ([(self.gamma, d_gamma)] if self.scale else []) + ([(self.beta, d_beta)] if self.center else [])
        return np.ascontiguousarray(np.moveaxis(d_x.reshape(moved), -1, axis)), for_trainable_weights(self, pairs)

    @staticmethod
    def _value(variable):
        return None if variable is None else variable.value

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}
