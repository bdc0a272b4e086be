"""CategoryEncoding: Keras 3's one_hot / multi_hot / count encoding of integer inputs in [0, num_tokens), in numpy,
with the shapes of Keras' eager outputs and its dtype (float32 unless `dtype` says otherwise).

Keras documents that values outside [0, num_tokens) are errors; what it does depends on its backend (torch raises
for values >= num_tokens and drops negative ones, TensorFlow drops large ones and raises for negative ones outside
one_hot). rnnkit raises a ValueError for both, as documented.
"""
import numpy as np

from rnnkit.layers import index_encoding
from rnnkit.layers.integer_arrays import as_integer_array
from rnnkit.layers.layer import _is_symbolic
from rnnkit.layers.preprocessing_layer import STRING_DTYPES, PreprocessingLayer, dtype_name

OUTPUT_MODES = ("count", "one_hot", "multi_hot")


class CategoryEncoding(PreprocessingLayer):
    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        kwargs["dtype"] = dtype_name("CategoryEncoding", kwargs.get("dtype"), "float32")
        super().__init__(**kwargs)
        output_mode = "multi_hot" if output_mode == "binary" else output_mode  # Keras' old name
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"{self.name}: unknown arg for output_mode: {output_mode} (expected one of "
                             f"{OUTPUT_MODES})")
        if num_tokens is None:
            raise ValueError(f"{self.name}: num_tokens must be set to use this layer. If the number of tokens is not "
                             "known beforehand, use the IntegerLookup layer instead.")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or num_tokens < 1:
            raise ValueError(f"{self.name}: `num_tokens` must be an integer >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise ValueError(f"{self.name}: sparse=True is not supported by rnnkit (no sparse tensors); use the dense "
                             "output")
        self.num_tokens, self.output_mode = int(num_tokens), output_mode
        self.built = True

    def __call__(self, inputs, count_weights=None, training=None, mask=None, **kwargs):
        if _is_symbolic(inputs) and count_weights is not None:
            raise NotImplementedError(f"{self.name}: count_weights in a model (a symbolic count_weights) is not "
                                      "supported by rnnkit; pass them when calling the layer on arrays")
        if _is_symbolic(inputs):
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        if kwargs:
            raise TypeError(f"Layer '{self.name}': unexpected call argument(s) {sorted(kwargs)}")
        return self.forward(inputs, count_weights=count_weights)[0]

    def forward(self, inputs, *, training=False, mask=None, count_weights=None):
        indices = as_integer_array(self.name, inputs)
        outside = indices[(indices < 0) | (indices >= self.num_tokens)]
        if outside.size:
            raise ValueError(f"{self.name}: input values must be in the range 0 <= values < num_tokens with "
                             f"num_tokens={self.num_tokens}; received {outside[0]}")
        if count_weights is None:
            return index_encoding.encode(indices, self.output_mode, self.num_tokens, self.dtype), None
        if self.output_mode != "count":
            raise ValueError(f"{self.name}: `count_weights` is not used when `output_mode` is not `'count'`. "
                             f"Received `count_weights={count_weights}`.")
        weights = np.asarray(count_weights).astype(self.dtype)  # Keras converts them to the layer's dtype first
        if weights.shape != indices.shape:
            raise ValueError(f"{self.name}: `count_weights` must have the shape of the inputs {indices.shape}, "
                             f"received shape {weights.shape}")
        counts = index_encoding.encode_samples(indices, "count", self.num_tokens, count_weights=weights)
        return counts.astype(self.dtype), None

    def output_dtype(self):
        return self.dtype

    def check_symbolic_input(self, dtype):
        if dtype in STRING_DTYPES:
            raise TypeError(f"{self.name}: expects integer inputs, received a symbolic tensor of dtype {dtype}")

    def compute_output_shape(self, input_shape):
        return index_encoding.encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}
