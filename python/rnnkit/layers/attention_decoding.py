"""Autoregressive generation: greedy or sampled (temperature, top-k) decoding over a step function.

``step(new_ids)`` receives the ids not yet seen, shape (batch, n), and returns the logits (batch, vocab) of the
next token; it keeps whatever state it needs between calls (a TransformerDecoder key/value cache, an RNN state),
so each new token costs one step, not a pass over the whole prefix.
"""
import numpy as np


def next_token(logits, temperature=0.0, top_k=None, rng=None):
    """argmax when temperature == 0, else a draw from softmax(logits / temperature) over the top_k largest."""
    logits = np.asarray(logits, np.float64)
    if temperature == 0:
        return logits.argmax(axis=-1)
    if temperature < 0:
        raise ValueError(f"next_token: expected temperature >= 0, received {temperature}")
    scaled = logits / temperature
    if top_k is not None:
        if not 0 < top_k <= logits.shape[-1]:
            raise ValueError(f"next_token: expected top_k in [1, {logits.shape[-1]}], received {top_k}")
        kth = np.sort(scaled, axis=-1)[:, -top_k][:, None]
        scaled = np.where(scaled >= kth, scaled, -np.inf)
    probabilities = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    if rng is None:
        from rnnkit import random as rnnkit_random

        rng = rnnkit_random.generator()
    draws = rng.random((logits.shape[0], 1))
    return np.minimum((probabilities.cumsum(axis=-1) < draws).sum(axis=-1), logits.shape[-1] - 1)


def generate(step, prompt, max_new_tokens, *, temperature=0.0, top_k=None, seed=None, end_token=None):
    """``prompt`` (batch, n0) int ids followed by up to ``max_new_tokens`` generated ids; rows that produced
    ``end_token`` keep repeating it. Returns (batch, n0 + generated) int64."""
    ids = np.asarray(prompt, np.int64)
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"generate: expected a prompt of shape (batch, n >= 1), received {ids.shape}")
    rng = None if seed is None else np.random.default_rng(seed)
    finished = np.zeros(ids.shape[0], bool)
    new = ids
    for _ in range(max_new_tokens):
        token = next_token(step(new), temperature, top_k, rng)
        if end_token is not None:
            token = np.where(finished, end_token, token)
            finished |= token == end_token
        new = token[:, None].astype(np.int64)
        ids = np.concatenate([ids, new], axis=1)
        if end_token is not None and finished.all():
            break
    return ids
