"""The table loader on CSV / TSV / JSONL / Parquet files the tests write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytp.config import DatasetConfig
from raytp.data import MISSING, load_dataset
from raytp.data.table import load_table


def _write(df: pd.DataFrame, path):
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path, index=False)
    return path


def _expected_split(df: pd.DataFrame) -> np.ndarray:
    s = df["split"].str.strip().str.lower()
    return s.replace({"val": "validation", "dev": "validation"}).to_numpy(dtype=object)


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_format_reads_the_same(tmp_path, table_df, ext):
    ds = load_table(_write(table_df, tmp_path / f"t{ext}"))
    assert ds.tasks == ["a", "b"]  # id, text, split skipped; score and note are not 0/1
    assert ds.texts == table_df["text"].tolist()
    np.testing.assert_array_equal(ds.labels, table_df[["a", "b"]].to_numpy())
    np.testing.assert_array_equal(ds.split, _expected_split(table_df))
    assert set(ds.provenance["ignored_columns"]) == {"score", "note"}
    assert ds.provenance["split"]["method"] == "column"
    assert ds.columns["id"].tolist() == table_df["id"].tolist()


def test_split_aliases_val_and_dev(tmp_path, table_df):
    table_df.loc[table_df["split"] == "val", "split"] = ["dev", "val", "Validation", "valid", "VAL", "dev", "val",
                                                         "dev", "val"]
    ds = load_table(_write(table_df, tmp_path / "t.csv"))
    assert (ds.split == "validation").sum() == 9
    assert set(ds.split) == {"train", "validation", "test"}


def test_given_label_columns_and_text_column(tmp_path, table_df):
    df = table_df.rename(columns={"text": "body"})
    ds = load_table(_write(df, tmp_path / "t.csv"), text_column="body", label_columns=["b"])
    assert ds.tasks == ["b"]
    assert ds.provenance["label_columns"] == "given"
    assert ds.texts[0] == "message number 0"


def test_empty_cells_are_missing_labels_and_missing_text_rows_are_dropped(tmp_path, table_df):
    df = table_df.astype({"a": "float"})
    df.loc[[1, 2], "a"] = np.nan
    df.loc[5, "text"] = None
    df.loc[7, "text"] = "   "
    ds = load_table(_write(df, tmp_path / "t.csv"))
    assert len(ds) == len(df) - 2
    assert ds.provenance["dropped_rows"]["missing_text"] == 2
    assert (ds.labels[:, ds.task_index("a")] == MISSING).sum() == 2
    assert len(ds.indices("train", "a")) == (ds.split == "train").sum() - 2


def test_literal_na_text_is_kept(tmp_path, table_df):
    table_df.loc[0, "text"] = "NA"
    ds = load_table(_write(table_df, tmp_path / "t.csv"))
    assert ds.texts[0] == "NA"


def test_no_split_column_gives_seeded_stratified_split(tmp_path, table_df):
    df = pd.concat([table_df] * 4, ignore_index=True).drop(columns=["split"])
    path = _write(df, tmp_path / "t.parquet")
    ds = load_table(path, val_fraction=0.2, test_fraction=0.1, seed=3)
    again = load_table(path, val_fraction=0.2, test_fraction=0.1, seed=3)
    other = load_table(path, val_fraction=0.2, test_fraction=0.1, seed=4)
    np.testing.assert_array_equal(ds.split, again.split)
    assert (ds.split != other.split).any()
    n = len(df)
    assert abs((ds.split == "validation").sum() - 0.2 * n) <= 4
    assert abs((ds.split == "test").sum() - 0.1 * n) <= 4
    for t, pos in ds.positives().items():
        assert min(pos.values()) > 0, t
    assert ds.provenance["split"]["seed"] == 3


def test_auto_labels_exclude_a_column_without_positives_in_a_split(tmp_path, table_df):
    table_df["rare"] = 0
    table_df.loc[0, "rare"] = 1  # row 0 is train
    ds = load_table(_write(table_df, tmp_path / "t.jsonl"))
    assert "rare" not in ds.tasks
    assert ds.provenance["excluded"]["rare"] == "no positives in validation, test"
    given = load_table(tmp_path / "t.jsonl", label_columns=["a", "rare"])
    assert given.tasks == ["a", "rare"]  # named columns are kept; training rejects them (test_bad_input)


def test_boolean_labels_in_jsonl(tmp_path):
    lines = "\n".join(f'{{"text": "t{i}", "y": {"true" if i % 2 else "false"}, "z": {i % 3 == 0 and 1 or 0}}}'
                      for i in range(60))
    path = tmp_path / "b.jsonl"
    path.write_text(lines + "\n", encoding="utf-8")
    ds = load_table(path, split_column=None)
    assert ds.tasks == ["y", "z"]
    assert ds.labels[:, 0].tolist() == [i % 2 for i in range(60)]


def test_dispatch_through_dataset_config(tmp_path, table_df):
    path = _write(table_df, tmp_path / "t.csv")
    ds = load_dataset(DatasetConfig(name="table", path=path))
    assert ds.tasks == ["a", "b"] and len(ds) == len(table_df)


# -- a multi-class label column: one task per class --------------------------------------------------------------

MULTI_TASKS = ["Credit_card_or_prepaid_card", "Debt_collection", "Mortgage", "Student_loan"]


@pytest.mark.parametrize("with_split", [True, False])
def test_multiclass_column_gives_one_task_per_class(tmp_path, with_split):
    from tests.data.conftest import CLASSES, multiclass_frame
    df = multiclass_frame()
    path = _write(df if with_split else df.drop(columns="split"), tmp_path / "complaints.csv")
    ds = load_dataset(DatasetConfig(name="table", path=path, label_column="Product"))
    assert ds.tasks == MULTI_TASKS
    assert ds.provenance["classes"] == {t: t.replace("_", " ") for t in MULTI_TASKS}
    assert ds.provenance["split"]["method"] == ("column" if with_split else "stratified (rarest positive label)")
    # every row labelled 0/1 for every class, positive exactly for its own class
    assert set(np.unique(ds.labels)) == {0, 1} and (ds.labels.sum(axis=1) == 1).all()
    for j, t in enumerate(ds.tasks):
        np.testing.assert_array_equal(ds.labels[:, j], (df["Product"] == ds.provenance["classes"][t]).to_numpy())
    if with_split:
        np.testing.assert_array_equal(ds.split, _expected_split(df))
    pos = ds.positives()
    for t in ds.tasks:  # 8:1:1 within each class, by the column or by the stratified split
        n = CLASSES[ds.provenance["classes"][t]]
        assert pos[t] == {"train": n * 8 // 10, "validation": n // 10, "test": n // 10}


def test_multiclass_empty_cell_is_missing_for_every_class_and_numbers_read_as_text(tmp_path):
    from tests.data.conftest import multiclass_frame
    df = multiclass_frame()
    df["Product"] = df["Product"].map({"Debt collection": 1, "Mortgage": 2, "Credit card or prepaid card": 3,
                                       "Student loan": 4}).astype("Int64")
    df.loc[0, "Product"] = pd.NA
    ds = load_table(_write(df, tmp_path / "t.csv"), label_column="Product")
    assert ds.tasks == ["1", "2", "3", "4"]  # 3.0 (an integer column with an empty cell) is class "3"
    assert (ds.labels[0] == MISSING).all() and (ds.labels[1:].sum(axis=1) == 1).all()


def test_safe_task_names_are_deterministic():
    from raytp.task_names import safe_task_name, task_name_problem
    cases = {"Mortgage": "Mortgage", "Debt collection": "Debt_collection", "Café": "Cafe", " -x y- ": "x_y-",
             "Money transfer, virtual currency, or money service": "Money_transfer_virtual_currency_or_money_service",
             "日本": None, "a" * 200: "a" * 128}
    for value, name in cases.items():
        assert safe_task_name(value) == name, value
        assert name is None or task_name_problem(name) is None
