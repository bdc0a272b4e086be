"""text_dataset_from_directory: labels from the sub-directories, label modes, batches, max_length, validation
subsets, reshuffling, errors; the file order and subsets against Keras' own directory index (the oracle, which
needs no TensorFlow)."""
import os

import numpy as np
import pytest

from rnnkit.preprocessing.text_dataset import text_dataset_from_directory


@pytest.fixture
def corpus(tmp_path):
    texts = {}
    for label, words in (("neg", ["bad", "awful", "dull", "poor", "weak"]), ("pos", ["good", "great", "fine"])):
        for index, word in enumerate(words):
            folder = tmp_path / label / ("more" if index == 0 else "")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index}.txt").write_text(f"a {word} film", encoding="utf-8")
            texts[f"a {word} film"] = label
    (tmp_path / "pos" / "notes.md").write_text("not a sample")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("ignored")
    return tmp_path, texts


def everything(dataset):
    texts, labels = [], []
    for batch_texts, batch_labels in dataset:
        texts += list(batch_texts)
        labels += list(batch_labels)
    return texts, labels


def test_labels_follow_the_sorted_class_directories(corpus):
    directory, texts = corpus
    dataset = text_dataset_from_directory(directory, batch_size=3, seed=1, verbose=False)
    assert dataset.class_names == ["neg", "pos"] and len(dataset) == 3
    found, labels = everything(dataset)
    assert sorted(found) == sorted(texts)
    assert all(dataset.class_names[label] == texts[text] for text, label in zip(found, labels))
    first_texts, first_labels = next(iter(dataset))
    assert first_texts.shape == (3,) and first_labels.dtype == np.int32


def test_label_modes_batches_and_truncation(corpus):
    directory, texts = corpus
    binary = text_dataset_from_directory(directory, label_mode="binary", batch_size=4, shuffle=False, verbose=False)
    _, labels = next(iter(binary))
    assert labels.shape == (4, 1) and labels.dtype == np.float32
    categorical = text_dataset_from_directory(directory, label_mode="categorical", batch_size=8, shuffle=False,
                                              class_names=["pos", "neg"], verbose=False)
    batch_texts, labels = next(iter(categorical))
    assert labels.shape == (8, 2) and all(labels[i, 0] == (texts[t] == "pos") for i, t in enumerate(batch_texts))
    single = text_dataset_from_directory(directory, labels=None, batch_size=None, max_length=3, shuffle=False,
                                         verbose=False)
    # Without labels Keras walks the whole directory, hidden ones too, in sorted path order.
    assert [text for text in single] == ["ign", "a a", "a d", "a p", "a w", "a b", "a g", "a f", "a g"]


def test_subsets_match_keras_and_reshuffle_each_pass(corpus):
    directory, _ = corpus
    training, validation = text_dataset_from_directory(directory, batch_size=2, seed=7, validation_split=0.25,
                                                       subset="both", verbose=False)
    assert len(validation.file_paths) == 2 and not set(training.file_paths) & set(validation.file_paths)
    dataset_utils = pytest.importorskip("keras.src.utils.dataset_utils",
                                        reason="the oracle is Keras 3's directory index (pip install keras)")
    paths, labels, names = dataset_utils.index_directory(str(directory), "inferred", formats=(".txt",),
                                                         shuffle=True, seed=7, verbose=False)
    keras_training, _ = dataset_utils.get_training_or_validation_split(paths, labels, 0.25, "training")
    assert [os.path.normpath(p) for p in training.file_paths] == [os.path.normpath(p) for p in keras_training]
    passes = [everything(training)[0] for _ in range(3)]
    assert sorted(passes[0]) == sorted(passes[1]) and len({tuple(p) for p in passes}) > 1


def test_arguments_keras_refuses_are_refused(corpus):
    directory, _ = corpus
    with pytest.raises(ValueError, match="give a seed"):
        text_dataset_from_directory(directory, validation_split=0.2, subset="training", verbose=False)
    with pytest.raises(ValueError, match="subset and validation_split go together"):
        text_dataset_from_directory(directory, subset="training", seed=1, verbose=False)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        text_dataset_from_directory(directory, label_mode="binary", class_names=["pos"], verbose=False)
    with pytest.raises(ValueError, match="2 labels for 9 text files"):
        text_dataset_from_directory(directory, labels=[0, 1], verbose=False)


def test_a_text_classifier_adapts_and_fits_on_the_datasets(corpus):
    """The Keras 3 tutorial's pipeline: text files -> TextVectorization adapted on the training texts -> Embedding
    -> LSTM, fit with the validation subset."""
    import rnnkit

    directory, _ = corpus
    training, validation = rnnkit.utils.text_dataset_from_directory(directory, batch_size=3, seed=2,
                                                                    validation_split=0.25, subset="both",
                                                                    verbose=False)
    vectorize = rnnkit.layers.TextVectorization(max_tokens=30, output_sequence_length=4)
    vectorize.adapt(texts for texts, _ in training)
    assert {"a", "film"} <= set(vectorize.get_vocabulary())
    inputs = rnnkit.Input(shape=(1,), dtype="string")
    hidden = rnnkit.layers.LSTM(4)(rnnkit.layers.Embedding(30, 3)(vectorize(inputs)))
    model = rnnkit.Model(inputs, rnnkit.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(training, validation_data=validation, epochs=2, verbose=0)
    assert len(history.history["val_accuracy"]) == 2 and np.isfinite(history.history["loss"]).all()
