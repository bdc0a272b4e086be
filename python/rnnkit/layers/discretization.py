"""Discretization: Keras 3's bucketing of numbers by bin boundaries, given or learnt by adapt() from the data's
approximate quantiles (rnnkit.layers.quantile_summary, Keras' computation), in numpy.

Bins are [b[i-1], b[i]) with the outer ones open to -inf and +inf; values and boundaries are compared in float32
as Keras does (it converts both). The indices are int32 in "int" mode; the other modes encode them in float32 (or
`dtype`). The boundaries live in the config, which is how Keras saves them too.
"""
import numbers

import numpy as np

from rnnkit.layers import index_encoding, quantile_summary
from rnnkit.layers.preprocessing_layer import STRING_DTYPES, PreprocessingLayer, dtype_name

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


class Discretization(PreprocessingLayer):
    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, dtype=None,
                 name=None):
        super().__init__(name=name, dtype=dtype_name("Discretization", dtype, "float32"))
        if sparse:
            raise ValueError(f"{self.name}: sparse=True is not supported by rnnkit (no sparse tensors); use the dense "
                             "output")
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"{self.name}: unknown value for `output_mode` argument of Discretization. Allowed "
                             f"values are: {OUTPUT_MODES}. Received: output_mode={output_mode}")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer))
                                     or num_bins < 0):
            raise ValueError(f"{self.name}: `num_bins` must be an integer greater than or equal to 0. Received: "
                             f"`num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"{self.name}: both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError(f"{self.name}: you need to set either `num_bins` or `bin_boundaries`.")
        if not 0 < epsilon <= 1:
            raise ValueError(f"{self.name}: `epsilon` must lie in (0, 1], received epsilon={epsilon}")
        self.bin_boundaries = None if bin_boundaries is None else self._checked_boundaries(bin_boundaries)
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon, self.output_mode = epsilon, output_mode
        self._summary = quantile_summary.empty_summary()
        self.built = True

    def _checked_boundaries(self, boundaries):
        boundaries = list(boundaries)
        if not all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in boundaries):
            raise ValueError(f"{self.name}: `bin_boundaries` must be a list of numbers, received {boundaries!r}")
        if np.any(np.diff(np.asarray(boundaries, dtype=np.float32)) < 0):
            # Keras' TensorFlow backend refuses them too; its torch backend returns meaningless bins.
            raise ValueError(f"{self.name}: `bin_boundaries` must be sorted in increasing order, received "
                             f"{boundaries}")
        return boundaries

    # -- adapt ---------------------------------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Learns num_bins - 1 boundaries at the approximate quantiles of `data`: a numpy array (one batch) or an
        iterable of batches (a list is one, as in Keras: its entries are batches), the first `steps` when given."""
        if self.num_bins is None:
            raise ValueError(f"{self.name}: cannot adapt a Discretization layer that has been initialized with "
                             "`bin_boundaries`, use `num_bins` instead.")
        if self.num_bins == 0:
            raise ValueError(f"{self.name}: cannot adapt with num_bins=0: there are no bins to find boundaries for")
        self.reset_state()
        batches = [data] if isinstance(data, np.ndarray) else data
        for step, batch in enumerate(batches):
            if steps is not None and step >= steps:
                break
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        values = self._as_values(data)
        self._summary = quantile_summary.merged(quantile_summary.summarize(values, self.epsilon), self._summary,
                                                self.epsilon)

    def finalize_state(self):
        if self.num_bins is not None:
            self.bin_boundaries = quantile_summary.bin_boundaries(self._summary, self.num_bins)

    def reset_state(self):
        if self.num_bins is not None:
            self._summary = quantile_summary.empty_summary()

    # -- calls ---------------------------------------------------------------------------------------------------
    def _as_values(self, data):
        try:
            values = np.asarray(data)
            return values.astype(np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"{self.name}: expects numbers in a rectangular array, received {type(data).__name__} "
                            f"{str(data)[:80]}") from None

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def forward(self, inputs, *, training=False, mask=None):
        if self.bin_boundaries is None:
            raise ValueError(f"{self.name}: you need to either pass the `bin_boundaries` argument at construction "
                             "time or call `adapt(dataset)` before you can start using the `Discretization` layer.")
        indices = np.digitize(self._as_values(inputs), np.asarray(self.bin_boundaries, dtype=np.float32))
        return index_encoding.encode(indices, self.output_mode, self._depth(), self.output_dtype()), None

    def output_dtype(self):
        return "int32" if self.output_mode == "int" else self.dtype

    def check_symbolic_input(self, dtype):
        if dtype in STRING_DTYPES:
            raise TypeError(f"{self.name}: expects numeric inputs, received a symbolic tensor of dtype {dtype}")

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return index_encoding.encoded_shape(input_shape, self.output_mode, self._depth())

    # -- config --------------------------------------------------------------------------------------------------
    def get_config(self):
        """Keras' keys only: its Discretization takes no other arguments."""
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": False, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """An adapted layer's config holds both num_bins and the learnt bin_boundaries, which __init__ refuses
        together: the boundaries are set afterwards."""
        config = dict(config)
        boundaries = config.pop("bin_boundaries", None) if config.get("num_bins") is not None else None
        layer = cls(**config)
        if boundaries is not None:
            layer.bin_boundaries = layer._checked_boundaries(boundaries)
        return layer
