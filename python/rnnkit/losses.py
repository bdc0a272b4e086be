"""rnnkit.losses: Keras 3 losses whose values and gradients come from the C++ core (rnnkit._core).

Each loss reduces one value per position of y_pred's leading axes (the "per-sample" losses), weights them with
`sample_weight` and the output mask exactly as Keras 3 does, then applies the reduction. The engine calls
`value_and_grad` to get dLoss/dy_pred for backpropagation.
"""
import difflib

import numpy as np

from rnnkit import _core

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "Huber", "LogCosh", "MeanSquaredLogarithmicError",
           "MeanAbsolutePercentageError", "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
           "CosineSimilarity", "BinaryFocalCrossentropy", "hinge", "squared_hinge", "categorical_hinge",
           "cosine_similarity", "binary_focal_crossentropy", "mean_squared_error", "mean_absolute_error",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "huber", "log_cosh",
           "mean_squared_logarithmic_error", "mean_absolute_percentage_error", "kl_divergence", "poisson", "mse", "mae",
           "msle", "mape", "kld", "MSE", "MAE", "MSLE", "MAPE", "KLD", "get", "serialize", "deserialize"]

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def _same_rank(y_true, y_pred):
    """Keras' squeeze_or_expand_to_same_rank: fixes a trailing axis of size 1 present on one side only."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            return y_true, y_pred[:, None]
        return y_true[..., 0], y_pred
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            return y_true[:, None], y_pred
        return y_true, y_pred[..., 0]
    return y_true, y_pred


def _per_sample(weights, shape, what):
    """Broadcasts sample weights or a mask to the per-sample loss shape, aligning leading (batch) axes."""
    weights = np.asarray(weights)
    while weights.ndim > len(shape) and weights.shape[-1] == 1:
        weights = weights[..., 0]
    if weights.ndim < len(shape):
        weights = weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim))
    try:
        return np.broadcast_to(weights, shape)
    except ValueError:
        raise ValueError(f"{what} of shape {np.shape(weights)} does not broadcast to the per-sample loss shape "
                         f"{tuple(shape)}") from None


class Loss:
    """Keras 3 Loss: ``loss(y_true, y_pred, sample_weight=None)`` reduces with ``reduction``."""

    _kernel = None  # the C++ loss name; subclasses set it

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {set(_REDUCTIONS)}. "
                             f"Received: reduction={reduction}")
        self.name = name or self._kernel
        self.reduction = reduction
        self.dtype = dtype

    def _kernel_options(self):
        return {}

    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred, np.float32)
        y_true = np.asarray(y_true, np.float32)
        return _same_rank(y_true, y_pred)

    def _run(self, y_true, y_pred, sample_weight, mask, with_grad):
        """(value, grad shaped like the aligned y_pred or None, per-sample losses, per-sample weights)."""
        y_true, y_pred = self._prepare(y_true, y_pred)
        if y_pred.ndim == 0:
            raise ValueError(f"{type(self).__name__}: y_pred must have rank >= 1, received a scalar")
        sample_shape = y_pred.shape[:-1]
        weights = None if sample_weight is None else np.ascontiguousarray(
            _per_sample(np.asarray(sample_weight, np.float32), sample_shape, "sample_weight"))
        if mask is not None:
            mask = np.ascontiguousarray(_per_sample(np.asarray(mask, bool), sample_shape, "mask"), np.uint8)
        y_true, mask = self._labels_and_mask(y_true, y_pred, mask)
        reduction = self.reduction
        if reduction == "mean_with_sample_weight" and weights is None:
            reduction = "sum_over_batch_size"
        summed = reduction in ("sum", "mean_with_sample_weight", None, "none")
        value, grad, per_sample = _core.loss_value_and_grad(
            self._kernel, y_true, y_pred, weights, mask, sum_reduction=summed, with_grad=with_grad,
            with_per_row=True, **self._kernel_options())
        if reduction == "mean_with_sample_weight":
            # Keras divides by the sum of the (masked) sample weights instead of the sample count.
            total_weight = float(np.sum(weights * (1 if mask is None else mask), dtype=np.float64))
            scale = 0.0 if total_weight == 0 else 1.0 / total_weight
            value *= scale
            if grad is not None:
                grad *= np.float32(scale)
        return value, grad, per_sample, (weights, mask)

    def _labels_and_mask(self, y_true, y_pred, mask):
        return y_true, mask

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.reduction in (None, "none"):
            _, _, per_sample, (weights, mask) = self._run(y_true, y_pred, sample_weight, None, with_grad=False)
            if weights is not None:
                per_sample = per_sample * weights
            return per_sample.astype(np.float32)
        return float(self._run(y_true, y_pred, sample_weight, None, with_grad=False)[0])

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        """(reduced loss as a float, dLoss/dy_pred as float32 in y_pred's shape); ``mask`` excludes positions of
        y_pred's leading axes and renormalises the mean over the kept ones, as Keras 3 does."""
        if self.reduction in (None, "none"):
            raise ValueError(f"{type(self).__name__}.value_and_grad needs a reducing `reduction`, not None")
        shape = np.shape(y_pred)
        value, grad, _, _ = self._run(y_true, y_pred, sample_weight, mask, with_grad=True)
        return float(value), grad.reshape(shape)

    def call(self, y_true, y_pred):
        """Unreduced per-sample losses (Keras' ``Loss.call``)."""
        return self._run(y_true, y_pred, None, None, with_grad=False)[2]

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(Loss):
    """mean((y_true - y_pred) ** 2, axis=-1)."""

    _kernel = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(Loss):
    """mean(|y_true - y_pred|, axis=-1)."""

    _kernel = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Huber(Loss):
    """mean(0.5 * e**2 where |e| <= delta, else delta * |e| - 0.5 * delta**2, axis=-1), e = y_pred - y_true."""

    _kernel = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = float(delta)
        if not self.delta > 0:
            raise ValueError(f"Huber: delta must be positive, received {delta!r}")

    def _kernel_options(self):
        return {"delta": self.delta}

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    """mean(log(cosh(y_pred - y_true)), axis=-1)."""

    _kernel = "log_cosh"

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanSquaredLogarithmicError(Loss):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2, axis=-1), eps = 1e-7."""

    _kernel = "mean_squared_logarithmic_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(Loss):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1), eps = 1e-7."""

    _kernel = "mean_absolute_percentage_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class KLDivergence(Loss):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [1e-7, 1]."""

    _kernel = "kl_divergence"

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Poisson(Loss):
    """mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)."""

    _kernel = "poisson"

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Hinge(Loss):
    """mean(max(1 - y_true * y_pred, 0), axis=-1); labels that are all 0 or 1 count as -1 and 1."""

    _kernel = "hinge"

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(Loss):
    """mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1); labels that are all 0 or 1 count as -1 and 1."""

    _kernel = "squared_hinge"

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(Loss):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) over the last axis."""

    _kernel = "categorical_hinge"

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(Loss):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis=-1): -1 for the same direction."""

    _kernel = "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_axis(type(self), axis)
        self.axis = axis


class BinaryFocalCrossentropy(Loss):
    """Binary crossentropy weighted by (1 - p_t) ** gamma per element (and by alpha for positives, 1 - alpha for
    negatives with apply_class_balancing), averaged over the last axis."""

    _kernel = "binary_focal_crossentropy"

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_axis(type(self), axis)
        self.apply_class_balancing, self.alpha, self.gamma = bool(apply_class_balancing), float(alpha), float(gamma)
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), axis

    def _kernel_options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "gamma": self.gamma,
                "alpha": self.alpha, "apply_class_balancing": self.apply_class_balancing}

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


def _check_axis(cls, axis):
    if axis not in (-1,):
        raise NotImplementedError(f"{cls.__name__}: only axis=-1 (the last axis) is supported, received {axis!r}")


class BinaryCrossentropy(Loss):
    """mean over the last axis of the element-wise binary crossentropy; labels smoothed towards 0.5."""

    _kernel = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_axis(type(self), axis)
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), axis

    def _kernel_options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class CategoricalCrossentropy(Loss):
    """-sum(y_true * log(softmax or normalised y_pred), axis=-1); labels smoothed towards 1/num_classes."""

    _kernel = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_axis(type(self), axis)
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), axis

    def _prepare(self, y_true, y_pred):
        # Categorical targets are one-hot rows: no rank fixing (Keras requires equal shapes).
        y_pred = np.asarray(y_pred, np.float32)
        y_true = np.asarray(y_true, np.float32)
        if y_true.shape != y_pred.shape:
            raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                             f"target.shape={y_true.shape}, output.shape={y_pred.shape}")
        return y_true, y_pred

    def _kernel_options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """Categorical crossentropy against integer class ids; ``ignore_class`` positions are masked out."""

    _kernel = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_axis(type(self), axis)  # not in the config: Keras 3 leaves it out too
        self.from_logits, self.ignore_class = bool(from_logits), ignore_class

    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred, np.float32)
        y_true = np.asarray(y_true)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1:] == (1,):
            y_true = y_true[..., 0]
        if y_true.shape != y_pred.shape[:-1]:
            raise ValueError("Arguments `target` and `output` must have the same shape up until the last "
                             f"dimension: target.shape={y_true.shape}, output.shape={y_pred.shape}")
        return y_true, y_pred

    def _labels_and_mask(self, y_true, y_pred, mask):
        if self.ignore_class is None:
            return np.asarray(y_true, np.float32), mask
        valid = y_true != self.ignore_class
        y_true = np.where(valid, y_true, 0)
        mask = valid if mask is None else (mask.astype(bool) & valid)
        return np.asarray(y_true, np.float32), np.ascontiguousarray(mask, np.uint8)

    def _kernel_options(self):
        return {"from_logits": self.from_logits}

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


def _function(cls, doc):
    def loss_function(y_true, y_pred, **options):
        return cls(reduction=None, **options).call(y_true, y_pred)

    loss_function.__name__ = loss_function.__qualname__ = cls._kernel
    loss_function.__doc__ = doc
    return loss_function


mean_squared_error = _function(MeanSquaredError, "Per-sample mean squared error over the last axis.")
mean_absolute_error = _function(MeanAbsoluteError, "Per-sample mean absolute error over the last axis.")
binary_crossentropy = _function(BinaryCrossentropy, "Per-sample binary crossentropy (from_logits, label_smoothing).")
categorical_crossentropy = _function(CategoricalCrossentropy,
                                     "Per-sample categorical crossentropy (from_logits, label_smoothing).")
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy,
                                            "Per-sample sparse categorical crossentropy (from_logits).")
huber = _function(Huber, "Per-sample Huber loss over the last axis (delta).")
log_cosh = _function(LogCosh, "Per-sample mean log(cosh(error)) over the last axis.")
mean_squared_logarithmic_error = _function(MeanSquaredLogarithmicError,
                                           "Per-sample mean squared logarithmic error over the last axis.")
mean_absolute_percentage_error = _function(MeanAbsolutePercentageError,
                                           "Per-sample mean absolute percentage error over the last axis.")
kl_divergence = _function(KLDivergence, "Per-sample Kullback-Leibler divergence over the last axis.")
poisson = _function(Poisson, "Per-sample Poisson loss over the last axis.")
hinge = _function(Hinge, "Per-sample hinge loss over the last axis.")
squared_hinge = _function(SquaredHinge, "Per-sample squared hinge loss over the last axis.")
categorical_hinge = _function(CategoricalHinge, "Per-sample categorical hinge loss over the last axis.")
cosine_similarity = _function(CosineSimilarity, "Per-sample negative cosine similarity over the last axis.")
binary_focal_crossentropy = _function(BinaryFocalCrossentropy,
                                      "Per-sample binary focal crossentropy (apply_class_balancing, alpha, gamma, "
                                      "from_logits, label_smoothing).")
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
msle = MSLE = mean_squared_logarithmic_error
mape = MAPE = mean_absolute_percentage_error
kld = KLD = kl_divergence

_CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                          CategoricalCrossentropy, SparseCategoricalCrossentropy, Huber, LogCosh,
                                          MeanSquaredLogarithmicError, MeanAbsolutePercentageError, KLDivergence,
                                          Poisson, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity,
                                          BinaryFocalCrossentropy)}
# Strings name functions in Keras; the engine needs gradients, so they resolve to the matching class.
_FUNCTION_NAMES = {cls._kernel: cls for cls in _CLASSES.values()}
_ALIASES = {"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
            "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
            "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError, "kld": KLDivergence,
            "KLD": KLDivergence}
_BY_NAME = {**_CLASSES, **_FUNCTION_NAMES, **_ALIASES}


def serialize(loss):
    """Keras' serialized form for loss objects; loss functions serialize to their name."""
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss.get_config(),
                "registered_name": None}
    if callable(loss) and getattr(loss, "__name__", None) in _FUNCTION_NAMES:
        return loss.__name__
    raise ValueError(f"Cannot serialize loss {loss!r}")


def _lookup(name, custom_objects=None):
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        close = difflib.get_close_matches(str(name), sorted(_BY_NAME), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"Could not interpret loss identifier: {name!r}.{hint}")
    return cls


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return _lookup(config, custom_objects)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret serialized loss: {config!r}")
    return _lookup(config["class_name"], custom_objects).from_config(dict(config.get("config") or {}))


def get(identifier):
    """A Loss object from a name ('mse', 'sparse_categorical_crossentropy', ...), a dict or an instance."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier) and getattr(identifier, "__name__", None) in _FUNCTION_NAMES:
        return _FUNCTION_NAMES[identifier.__name__]()
    if hasattr(identifier, "value_and_grad"):  # a user's object that brings its own gradient
        return identifier
    if callable(identifier):
        # rnnkit has no autodiff over Python code: training needs the loss's gradient from the core.
        raise TypeError(f"Loss {getattr(identifier, '__name__', identifier)!r} is a plain Python function; rnnkit "
                        f"trains with the losses whose value and gradient its C++ core computes "
                        f"({sorted(_FUNCTION_NAMES)}) or an object with value_and_grad(y_true, y_pred, "
                        f"sample_weight=None, mask=None) returning (loss, dloss/dy_pred)")
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
