"""Dispatch from a ``DatasetConfig`` to a loader, and select the experiment's tasks."""

from __future__ import annotations

from raytp.config import DatasetConfig, ExperimentConfig
from raytp.data.dataset import SPLITS, MultiTaskDataset
from raytp.errors import DataError


def load_dataset(cfg: DatasetConfig) -> MultiTaskDataset:
    """Load every task of one data set."""
    if cfg.name == "disaster-response":
        from raytp.data.disaster import load_disaster_response
        return load_disaster_response(cfg.path)
    if cfg.name == "trecis":
        from raytp.data.trecis import load_trecis
        if cfg.path is None or cfg.tweets is None:
            raise DataError("dataset 'trecis' needs data.dataset.path (labels JSON) and data.dataset.tweets (JSONL)")
        return load_trecis(cfg.path, cfg.tweets, val_fraction=cfg.val_fraction,
                           test_fraction=cfg.test_fraction, seed=cfg.split_seed)
    if cfg.name == "table":
        from raytp.data.table import load_table
        if cfg.path is None:
            raise DataError("dataset 'table' needs data.dataset.path")
        return load_table(cfg.path, text_column=cfg.text_column, split_column=cfg.split_column,
                          label_columns=cfg.label_columns, val_fraction=cfg.val_fraction,
                          test_fraction=cfg.test_fraction, seed=cfg.split_seed)
    raise DataError(f"unknown dataset {cfg.name!r}")


def load_experiment_data(cfg: ExperimentConfig) -> MultiTaskDataset:
    """Load the configured data set and keep the configured tasks, checking each has positives in every split."""
    ds = load_dataset(cfg.data.dataset)
    where = ds.provenance.get("path", cfg.data.dataset.name)
    for t in cfg.data.tasks:
        if t not in ds.tasks:
            why = ds.provenance.get("excluded", {}).get(t)
            hint = f" (excluded: {why})" if why else ""
            raise DataError(f"{where}: unknown task {t!r}{hint}; available: {', '.join(ds.tasks)}")
    ds = ds.select_tasks(cfg.data.tasks)
    for t, pos in ds.positives().items():
        for s in SPLITS:
            if pos[s] == 0:
                raise DataError(f"{where}: task {t!r} has no positive examples in the {s} split")
    return ds
