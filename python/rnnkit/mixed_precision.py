"""Keras 3's `keras.mixed_precision`, where the only policy is float32 (rnnkit.dtype_policies says why)."""
from rnnkit.dtype_policies import DTypePolicy, get

Policy = DTypePolicy

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy"]


def dtype_policy():
    return DTypePolicy("float32")


def set_dtype_policy(policy):
    """Accepts "float32" (or its policy); any other policy is a ValueError."""
    get(policy)


global_policy, set_global_policy = dtype_policy, set_dtype_policy
