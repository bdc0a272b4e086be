"""Side-by-side checks of one model built in Keras 3 and in rnnkit (the oracle tests): the same random weights in
both, then the same predictions and one SGD step to the same weights."""
import numpy as np


def share_random_weights(theirs, ours, scale=0.5):
    values = [np.random.default_rng(i).standard_normal(w.shape).astype(np.float32) * scale
              for i, w in enumerate(theirs.weights)]
    theirs.set_weights(values)
    ours.set_weights(values)


def assert_same_predictions_and_step(theirs, ours, x, y, keras, rnnkit, rtol=1e-4, atol=1e-6):
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-6)
    for model, lib in ((theirs, keras), (ours, rnnkit)):
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        model.train_on_batch(x, y)
    for mine, reference in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(reference), rtol=rtol, atol=atol)
