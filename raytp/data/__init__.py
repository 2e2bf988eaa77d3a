"""Data layer (pure, no Ray): loaders that all return one ``MultiTaskDataset``."""

from __future__ import annotations

from raytp.data.dataset import MISSING, SPLITS, MultiTaskDataset
from raytp.data.loading import load_dataset, load_experiment_data

__all__ = ["MISSING", "SPLITS", "MultiTaskDataset", "load_dataset", "load_experiment_data"]
