"""LayerNormalization over the last axis (Keras 3 names, defaults and weight order gamma, beta), fused in C++."""
import numpy as np

from rnnkit import _core, initializers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import float_input, unsupported_options
from rnnkit.layers.layer import Layer


class LayerNormalization(Layer):
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if len(axes) != 1 or not isinstance(axes[0], (int, np.integer)):
            raise ValueError(f"{self.name}: rnnkit normalises over one axis, the last; received axis={axis!r}")
        self.axis = int(axes[0])
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        if rms_scaling:
            raise ValueError(f"{self.name}: rnnkit does not support rms_scaling=True")
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        unsupported_options(self.name, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if self.axis not in (-1, rank - 1):
            raise ValueError(f"{self.name}: rnnkit normalises over the last axis only; received axis={self.axis} "
                             f"for an input of shape {tuple(input_shape)}")
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known, received {input_shape}")
        self.gamma = self.add_weight((features,), self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight((features,), self.beta_initializer, name="beta") if self.center else None
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        rows = x.reshape(-1, x.shape[-1])
        y, mean, inv_std = _core.layer_norm_forward(rows, None if self.gamma is None else self.gamma.value,
                                                    None if self.beta is None else self.beta.value, self.epsilon)
        return y.reshape(x.shape), ((rows, mean, inv_std, x.shape) if training else None)

    def backward(self, ctx, d_outputs):
        rows, mean, inv_std, shape = ctx
        d_y = np.asarray(d_outputs, dtype=np.float32).reshape(rows.shape)
        d_x, d_gamma, d_beta = _core.layer_norm_backward(rows, None if self.gamma is None else self.gamma.value,
                                                         mean, inv_std, d_y, True)
        gradients = ([(self.gamma, d_gamma)] if self.scale else []) + ([(self.beta, d_beta)] if self.center else [])
        return d_x.reshape(shape), for_trainable_weights(self, gradients)

    def get_config(self):
        return {**super().get_config(), "axis": [self.axis] if self.built else self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": False,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer), "beta_regularizer": None,
                "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}
