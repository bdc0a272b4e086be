"""Where the numbers in model.summary() come from: the course notes' parameter counts, explained one by one.

No data and no training: the models are built and summarised, and every "Param #" is recomputed from the layer's
sizes, so the printed arithmetic is checked against the library rather than just stated.

    python examples/parameters.py    # a second (--quick is accepted and does the same)
"""
import argparse

import rnnkit as keras

FEATURES, UNITS, VOCABULARY, EMBEDDING = 6, 16, 1000, 6


def explain(layer, inputs):
    """(formula, count) for one layer, from the sizes that make up its weights."""
    name = type(layer).__name__
    if name == "Embedding":
        return f"{VOCABULARY} words x {EMBEDDING} numbers per word", VOCABULARY * EMBEDDING
    if name == "Dense":
        return f"({inputs} inputs + 1 bias) x {layer.units} units", (inputs + 1) * layer.units
    blocks = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[name]  # LSTM: i, f, c, o; GRU: z, r, h
    biases = 2 if name == "GRU" and layer.reset_after else 1  # reset_after keeps an input and a recurrent bias
    formula = (f"{blocks} block(s) x ({inputs} inputs + {layer.units} recurrent + {biases} bias) "
               f"x {layer.units} units")
    return formula, blocks * (inputs + layer.units + biases) * layer.units


def show(model):
    model.summary()
    inputs = model.inputs[0].shape[-1]
    for layer in model.layers:
        formula, count = explain(layer, inputs)
        assert count == layer.count_params(), (layer.name, count, layer.count_params())
        print(f"  {layer.name}: {formula} = {count}")
        inputs = layer.compute_output_shape((None, None, inputs))[-1]
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry with the other examples")
    parser.parse_args()
    for cell in (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU):
        show(keras.Sequential([keras.Input(shape=(None, FEATURES)), cell(UNITS), keras.layers.Dense(1)],
                              name=f"{cell.__name__.lower()}_on_{FEATURES}_features"))
    show(keras.Sequential([keras.Input(shape=(None,)), keras.layers.Embedding(VOCABULARY, EMBEDDING),
                           keras.layers.SimpleRNN(UNITS), keras.layers.Dense(1, activation="sigmoid")],
                          name="words_to_sentiment"))
    print(f"The time axis is None in every input shape: the same weights serve every step, so no count depends "
          f"on the sequence length. SimpleRNN({UNITS}) on {FEATURES} features: ({FEATURES} + {UNITS} + 1) x {UNITS}"
          f" = {(FEATURES + UNITS + 1) * UNITS}.")


if __name__ == "__main__":
    main()
