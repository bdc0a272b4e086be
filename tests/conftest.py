"""Shared test setup.

The oracle group compares rnnkit with Keras 3 on the torch backend; Keras picks its backend at import time,
so it is fixed here before any test module imports keras.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
