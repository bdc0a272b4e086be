"""BatchNormalization over the last axis (Keras 3 names, defaults and weight order gamma, beta, moving_mean,
moving_variance), in C++ (cpp/src/nn/batch_norm.cpp)."""
import numpy as np

from rnnkit import _core, initializers
from rnnkit.layers._gradients import for_trainable_weights
from rnnkit.layers._validation import expect_min_rank, float_input, unsupported_options
from rnnkit.layers.layer import Layer


class BatchNormalization(Layer):
    """In training (and trainable) each channel is normalised with the batch's mean and biased variance, over the
    steps a mask keeps when there is one, and the moving statistics move toward them by (1 - momentum); otherwise
    with the moving statistics. Passes its input's mask on."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        if synchronized or renorm:
            raise ValueError(f"{self.name}: rnnkit does not support synchronized=True or renorm=True")
        unsupported_options(self.name, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                            renorm_clipping=renorm_clipping)
        self.renorm_momentum = float(renorm_momentum)
        self.supports_masking = True

    def build(self, input_shape):
        expect_min_rank(self.name, input_shape, 2)
        if self.axis not in (-1, len(input_shape) - 1):
            raise ValueError(f"{self.name}: rnnkit normalises over the last axis only; received axis={self.axis} "
                             f"for an input of shape {tuple(input_shape)}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known, received {input_shape}")
        self.gamma = self.add_weight((channels,), self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight((channels,), self.beta_initializer, name="beta") if self.center else None
        self.moving_mean = self.add_weight((channels,), self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight((channels,), self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _row_weight(self, x, mask):
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.shape != x.shape[:-1]:
            raise ValueError(f"{self.name}: expected a mask of shape {x.shape[:-1]} (the input's without its last "
                             f"axis), received {mask.shape}")
        return np.ascontiguousarray(mask.reshape(-1), dtype=np.float32)

    def forward(self, inputs, *, training=False, mask=None):
        x = float_input(self.name, inputs)
        expect_min_rank(self.name, x.shape, 2)
        rows = x.reshape(-1, x.shape[-1])
        batch_statistics = bool(training) and self.trainable
        row_weight = self._row_weight(x, mask) if batch_statistics else None
        if batch_statistics:
            mean, variance = _core.batch_norm_moments(rows, row_weight)
            keep = np.float32(self.momentum)
            self.moving_mean.assign(self.moving_mean.value * keep + mean * (np.float32(1.0) - keep))
            self.moving_variance.assign(self.moving_variance.value * keep + variance * (np.float32(1.0) - keep))
        else:
            mean, variance = self.moving_mean.value.copy(), self.moving_variance.value.copy()
        y = _core.batch_norm_forward(rows, mean, variance, None if self.gamma is None else self.gamma.value,
                                     None if self.beta is None else self.beta.value, self.epsilon)
        ctx = (rows, mean, variance, row_weight, batch_statistics, x.shape) if training else None
        return y.reshape(x.shape), ctx

    def backward(self, ctx, d_outputs):
        rows, mean, variance, row_weight, batch_statistics, shape = ctx
        d_y = np.ascontiguousarray(np.asarray(d_outputs, dtype=np.float32).reshape(rows.shape))
        d_x, d_gamma, d_beta = _core.batch_norm_backward(
            rows, mean, variance, None if self.gamma is None else self.gamma.value, row_weight, batch_statistics,
            self.epsilon, d_y, self.center)
        gradients = ([(self.gamma, d_gamma)] if self.scale else []) + ([(self.beta, d_beta)] if self.center else [])
        return d_x.reshape(shape), for_trainable_weights(self, gradients)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None, "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": self.renorm_momentum}
