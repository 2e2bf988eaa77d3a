"""Data layer (pure, no Ray): loaders that all return one ``MultiTaskDataset``."""

from __future__ import annotations

from raytp.data.dataset import MISSING, SPLITS, MultiTaskDataset
from raytp.data.combine import combine_datasets
from raytp.data.loading import load_data, load_dataset, load_experiment_data

__all__ = ["MISSING", "SPLITS", "MultiTaskDataset", "combine_datasets", "load_data", "load_dataset",
           "load_experiment_data"]
