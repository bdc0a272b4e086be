"""Keras 3's text_dataset_from_directory without TensorFlow: `.txt` files under one sub-directory per class, read
into re-iterable batches of (texts, labels) numpy arrays.

Files are indexed as Keras indexes them (classes in sorted order or `class_names`' order, each class's files in
sorted path order) and shuffled with the same numpy permutation for a given seed, so training and validation
subsets hold the files Keras' would. Batches are reshuffled on every pass, in rnnkit's own order (Keras uses a
tf.data shuffle buffer).
"""
import os

import numpy as np

from rnnkit.preprocessing.dataset_methods import DatasetMethods

_LABEL_MODES = ("int", "categorical", "binary", None)


class TextDataset(DatasetMethods):
    """Yields (texts, labels) batches — texts a numpy array of str, labels int32 (batch,), float32 (batch, 1)
    ("binary") or float32 one-hot (batch, classes) ("categorical") — or texts alone without labels; one sample at
    a time when batch_size is None. ``class_names`` lists the classes in label order."""

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, max_length, shuffle_seed):
        self.file_paths, self.class_names = list(file_paths), list(class_names)
        self._labels = None if labels is None or label_mode is None else np.asarray(labels, np.int64)
        self._label_mode, self._batch_size, self._max_length = label_mode, batch_size, max_length
        self._shuffle_rng = None if shuffle_seed is None else np.random.RandomState(shuffle_seed)

    def __len__(self):
        if self._batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self._batch_size)

    def _texts(self, indices):
        texts = []
        for index in indices:
            with open(self.file_paths[index], encoding="utf-8", errors="replace") as stream:
                text = stream.read()
            texts.append(text if self._max_length is None else text[:self._max_length])
        return np.array(texts, dtype=object)

    def _encoded_labels(self, indices):
        labels = self._labels[indices]
        if self._label_mode == "binary":
            return labels.astype(np.float32)[:, None]
        if self._label_mode == "categorical":
            return np.eye(len(self.class_names), dtype=np.float32)[labels]
        return labels.astype(np.int32)

    def _batch(self, indices):
        texts = self._texts(indices)
        return texts if self._labels is None else (texts, self._encoded_labels(indices))

    def __iter__(self):
        order = np.arange(len(self.file_paths))
        if self._shuffle_rng is not None:
            order = self._shuffle_rng.permutation(order)
        if self._batch_size is None:
            for index in order:
                batch = self._batch([index])
                yield (batch[0][0], batch[1][0]) if isinstance(batch, tuple) else batch[0]
            return
        for begin in range(0, len(order), self._batch_size):
            yield self._batch(order[begin:begin + self._batch_size])


def _index_directory(directory, labels, class_names, follow_links):
    """(file paths, integer labels or None, class names) in Keras' order, before shuffling."""
    if labels == "inferred":
        subdirs = sorted(name for name in os.listdir(directory)
                         if os.path.isdir(os.path.join(directory, name)) and not name.startswith("."))
        if class_names is not None:
            if not set(class_names) <= set(subdirs):
                raise ValueError(f"text_dataset_from_directory: class_names {list(class_names)} are not all "
                                 f"sub-directories of {directory!r} ({subdirs})")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError("text_dataset_from_directory: class_names can only be given with labels='inferred'")
        subdirs = [""]
    paths, found_labels = [], []
    for index, subdir in enumerate(subdirs):
        root_dir = os.path.join(directory, subdir)
        for root, _, files in sorted(os.walk(root_dir, followlinks=follow_links), key=lambda entry: entry[0]):
            for name in sorted(files):
                if name.lower().endswith(".txt"):
                    paths.append(os.path.join(root, name))
                    found_labels.append(index)
    if labels is None or labels == "inferred":
        return paths, (found_labels if labels == "inferred" else None), (subdirs if labels == "inferred" else [])
    labels = list(labels)
    if len(labels) != len(paths):
        raise ValueError(f"text_dataset_from_directory: {len(labels)} labels for {len(paths)} text files in "
                         f"{directory!r}; labels must follow the files' sorted order")
    return paths, labels, [str(name) for name in sorted(set(labels))]


def _split(items, validation_split, subset):
    if not validation_split or items is None:
        return items
    count = int(validation_split * len(items))
    return items[:len(items) - count] if subset == "training" else items[len(items) - count:]


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Keras 3's arguments and rules; returns a TextDataset (two for subset="both"). ``max_length`` truncates
    texts to that many characters (Keras: bytes); ``format`` is accepted for compatibility."""
    if label_mode not in _LABEL_MODES:
        raise ValueError(f"text_dataset_from_directory: label_mode must be one of {_LABEL_MODES}, received "
                         f"{label_mode!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"text_dataset_from_directory: validation_split must be between 0 and 1, received "
                         f"{validation_split}")
    if bool(validation_split) != bool(subset):
        raise ValueError("text_dataset_from_directory: subset and validation_split go together")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"text_dataset_from_directory: subset must be 'training', 'validation' or 'both', "
                         f"received {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("text_dataset_from_directory: with validation_split and shuffle, give a seed so that the "
                         "training and validation subsets do not overlap")
    if seed is None:
        seed = np.random.randint(1_000_000)
    paths, found_labels, names = _index_directory(os.fspath(directory), labels, class_names, follow_links)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f"text_dataset_from_directory: label_mode='binary' needs exactly 2 classes, found {names}")
    if shuffle:  # the permutation Keras draws, so a seed picks the same subsets as in Keras
        np.random.RandomState(seed).shuffle(paths)
        if found_labels is not None:
            np.random.RandomState(seed).shuffle(found_labels)
    if verbose:
        print(f"Found {len(paths)} files" + (f" belonging to {len(names)} classes." if found_labels is not None
                                              else "."))
    subsets = ["training", "validation"] if subset == "both" else [subset]
    datasets = [TextDataset(_split(paths, validation_split, part), _split(found_labels, validation_split, part),
                            label_mode, names, batch_size, max_length, seed if shuffle and part != "validation"
                            else None) for part in subsets]
    return tuple(datasets) if subset == "both" else datasets[0]
