"""Text, sequence and time-series preprocessing (tf.keras 2 text API, Keras 3 sequence utilities)."""
from rnnkit.preprocessing import sequence, text, timeseries
from rnnkit.preprocessing.sequence import pad_sequences, to_categorical
from rnnkit.preprocessing.text_dataset import TextDataset, text_dataset_from_directory
from rnnkit.preprocessing.timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["sequence", "text", "timeseries", "pad_sequences", "to_categorical", "TimeseriesDataset",
           "timeseries_dataset_from_array", "TextDataset", "text_dataset_from_directory"]
