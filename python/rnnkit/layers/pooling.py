"""Global pooling over the steps axis: GlobalAveragePooling1D (mask-aware) and GlobalMaxPooling1D."""
import numpy as np

from rnnkit import _core
from rnnkit.layers._validation import expect_rank, float_input
from rnnkit.layers.layer import Layer


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{self.name}: expected data_format 'channels_last' or 'channels_first', "
                             f"received {data_format!r}")
        self.data_format = data_format or "channels_last"
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        expect_rank(self.name, input_shape, 3)
        batch = input_shape[0]
        features = input_shape[2] if self.data_format == "channels_last" else input_shape[1]
        if not self.keepdims:
            return (batch, features)
        return (batch, 1, features) if self.data_format == "channels_last" else (batch, features, 1)

    def _steps_last_to_middle(self, inputs):
        """The input as (batch, steps, features), whatever the data format."""
        x = float_input(self.name, inputs)
        expect_rank(self.name, x.shape, 3)
        return np.ascontiguousarray(x.transpose(0, 2, 1)) if self.data_format == "channels_first" else x

    def _shape_output(self, pooled):
        if not self.keepdims:
            return pooled
        return pooled[:, None, :] if self.data_format == "channels_last" else pooled[:, :, None]

    def _shape_input_gradient(self, d_x):
        return np.ascontiguousarray(d_x.transpose(0, 2, 1)) if self.data_format == "channels_first" else d_x

    def _pooled_gradient(self, d_outputs):
        d_y = np.asarray(d_outputs, dtype=np.float32)
        return np.ascontiguousarray(d_y.reshape(d_y.shape[0], -1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps; with a mask, over the unmasked steps only. Its output carries no mask."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, inputs, *, training=False, mask=None):
        x = self._steps_last_to_middle(inputs)
        kept = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
        pooled = _core.global_average_pool_1d_forward(x, kept)
        return self._shape_output(pooled), ((kept, x.shape[1]) if training else None)

    def backward(self, ctx, d_outputs):
        kept, steps = ctx
        d_x = _core.global_average_pool_1d_backward(self._pooled_gradient(d_outputs), kept, steps)
        return self._shape_input_gradient(d_x), []


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the steps (masks are not consulted, as in Keras 3). Ties send the gradient to the first step."""

    def forward(self, inputs, *, training=False, mask=None):
        x = self._steps_last_to_middle(inputs)
        pooled, argmax = _core.global_max_pool_1d_forward(x)
        return self._shape_output(pooled), ((argmax, x.shape[1]) if training else None)

    def backward(self, ctx, d_outputs):
        argmax, steps = ctx
        d_x = _core.global_max_pool_1d_backward(self._pooled_gradient(d_outputs), argmax, steps)
        return self._shape_input_gradient(d_x), []
