"""SipHash-2-4 of a byte string under a 128-bit key (what TensorFlow's to_hash_bucket_strong computes, through
HighwayHash's SipHash): Keras' Hashing with a `salt` sends a value to bin `siphash64(salt, its bytes) % bins`.

The key is Keras' salt, two 64-bit integers (TensorFlow takes them as int64 and SipHash reads them modulo 2**64).
Everything is arithmetic modulo 2**64, hence the masks.
"""
_MASK = (1 << 64) - 1
_INT64_RANGE = range(-(1 << 63), 1 << 63)
# "somepseudorandomlygeneratedbytes", the initial state SipHash xors the key into.
_INITIAL_STATE = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)


def _rotate(value, shift):
    return ((value << shift) | (value >> (64 - shift))) & _MASK


def _rounds(state, count):
    v0, v1, v2, v3 = state
    for _ in range(count):
        v0 = (v0 + v1) & _MASK
        v1 = _rotate(v1, 13) ^ v0
        v0 = _rotate(v0, 32)
        v2 = (v2 + v3) & _MASK
        v3 = _rotate(v3, 16) ^ v2
        v0 = (v0 + v3) & _MASK
        v3 = _rotate(v3, 21) ^ v0
        v2 = (v2 + v1) & _MASK
        v1 = _rotate(v1, 17) ^ v2
        v2 = _rotate(v2, 32)
    return v0, v1, v2, v3


def _absorb(state, word):
    v0, v1, v2, v3 = _rounds((state[0], state[1], state[2], state[3] ^ word), 2)
    return v0 ^ word, v1, v2, v3


def salt_key(layer, salt):
    """Keras' `salt` as the [key0, key1] it keeps (one integer stands for both halves), or a ValueError."""
    if salt is None:
        return None
    key = list(salt) if isinstance(salt, (list, tuple)) else [salt] * 2 if isinstance(salt, int) else None
    if key is None or len(key) != 2 or not all(isinstance(k, int) and k in _INT64_RANGE for k in key):
        raise ValueError(f"{layer}: the `salt` argument can only be a tuple of 2 integers, or a single integer, each "
                         f"a 64-bit integer (TensorFlow's int64). Received: salt={salt}.")
    return key


def siphash64(key, data):
    """The unsigned 64-bit SipHash-2-4 of `data` (bytes) under `key`, a pair of 64-bit integers (negative ones
    read modulo 2**64)."""
    k0, k1 = key[0] & _MASK, key[1] & _MASK
    state = (_INITIAL_STATE[0] ^ k0, _INITIAL_STATE[1] ^ k1, _INITIAL_STATE[2] ^ k0, _INITIAL_STATE[3] ^ k1)
    whole = len(data) - len(data) % 8
    for at in range(0, whole, 8):
        state = _absorb(state, int.from_bytes(data[at:at + 8], "little"))
    # The last word: the remaining bytes, and the length modulo 256 in the top byte.
    state = _absorb(state, int.from_bytes(data[whole:], "little") | ((len(data) & 0xFF) << 56))
    v0, v1, v2, v3 = _rounds((state[0], state[1], state[2] ^ 0xFF, state[3]), 4)
    return v0 ^ v1 ^ v2 ^ v3
