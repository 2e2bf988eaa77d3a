"""Loader for any table of texts with 0/1 label columns: CSV, TSV, JSONL or Parquet (by extension).

- ``text_column`` holds the text; rows whose text is missing or blank are dropped and counted
  in provenance["dropped_rows"].
- Label columns: the given ``label_columns``, or by default every column (other than the text,
  split and ``id`` columns) whose non-empty values are all 0/1. Non-binary columns are then
  listed in provenance["ignored_columns"]; auto-detected columns with no positive in some split
  are left out and listed in provenance["excluded"]. An empty cell is ``MISSING`` (not annotated).
- Or one multi-class ``label_column``: one task per class, positive where the row's class is it,
  negative elsewhere (an empty cell is ``MISSING`` for every class). The task name is the class value
  made a valid task name by ``raytp.task_names.safe_task_name`` (``Debt collection`` -> ``Debt_collection``;
  provenance["classes"] maps names to values); two values giving one name, a value giving none, or a
  class with fewer than ``MIN_CLASS_TRAIN`` training examples is refused.
- Split: the ``split_column`` when the table has it (train / validation / test; val, valid and
  dev count as validation), else the seeded stratified split of ``raytp.data.splitting``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from raytp.data.dataset import MISSING, SPLITS, MultiTaskDataset
from raytp.data.files import existing_file, read_jsonl
from raytp.data.splitting import stratified_split
from raytp.errors import DataError
from raytp.task_names import safe_task_name, task_name_problem

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "val": "validation",
                 "valid": "validation", "dev": "validation", "test": "test"}
ID_COLUMNS = {"id"}
MIN_CLASS_TRAIN = 10  # training examples a class of a multi-class label column needs


def table_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unsupported file extension {path.suffix or '(none)'!r}; "
                        f"use one of {', '.join(sorted(FORMATS))}")
    return fmt


def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV/TSV/JSONL/Parquet file into a DataFrame; only empty cells count as missing."""
    path = Path(path)
    fmt = table_format(path)
    path = existing_file(path)
    try:
        if fmt in ("csv", "tsv"):
            df = pd.read_csv(path, sep="," if fmt == "csv" else "\t", encoding="utf-8-sig",
                             keep_default_na=False, na_values=[""])
        elif fmt == "jsonl":
            df = pd.DataFrame.from_records(read_jsonl(path))
        else:
            df = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except pd.errors.ParserError as e:
        detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: cannot parse as {fmt.upper()}: {detail}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except (OSError, ValueError) as e:  # pyarrow.ArrowInvalid is a ValueError
        raise DataError(f"{path}: cannot read as {fmt.upper()} ({type(e).__name__})") from None
    if len(df) == 0:
        raise DataError(f"{path}: no rows")
    df.columns = [str(c) for c in df.columns]
    return df.reset_index(drop=True), fmt


def binary_values(col: pd.Series) -> tuple[np.ndarray | None, tuple[int, object] | None]:
    """(int8 labels with MISSING for empty cells, None) or (None, (row, first non-0/1 value))."""
    out = np.full(len(col), MISSING, dtype=np.int8)
    for i, v in enumerate(col.tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)):
            out[i] = int(v)
        elif isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
            out[i] = int(v)
        elif isinstance(v, str) and v.strip() in ("0", "1"):
            out[i] = int(v.strip())
        else:
            return None, (i, v)
    return out, None


def _split_from_column(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    split = np.empty(len(df), dtype=object)
    for i, v in enumerate(df[column].tolist()):
        name = SPLIT_ALIASES.get(str(v).strip().lower()) if v is not None and v == v else None
        if name is None:
            raise DataError(f"{path}: column '{column}' has value {v!r} (row {i + 1}); "
                            "expected train, validation or test (val, valid, dev accepted)")
        split[i] = name
    return split


def _class_value(v: object) -> str | None:
    """A multi-class cell as text (None when empty); 3.0 (an integer column with gaps) reads as 3."""
    if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    return str(v).strip() or None


def class_labels(col: pd.Series, where: str) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """(task names, int8 one-vs-rest labels, task name -> class value) of a multi-class column, tasks sorted."""
    values = [_class_value(v) for v in col.tolist()]
    classes: dict[str, str] = {}
    for value in sorted({v for v in values if v is not None}):
        name = safe_task_name(value)
        if name is None:
            raise DataError(f"{where} has class {value!r}, which gives no valid task name; rename it")
        if name in classes:
            raise DataError(f"{where}: classes {classes[name]!r} and {value!r} both give task name {name!r}; "
                            "rename one")
        classes[name] = value
    if not classes:
        raise DataError(f"{where} is empty")
    tasks = sorted(classes)
    by_value = {classes[t]: j for j, t in enumerate(tasks)}
    matrix = np.zeros((len(values), len(tasks)), dtype=np.int8)
    for i, v in enumerate(values):
        if v is None:
            matrix[i] = MISSING
        else:
            matrix[i, by_value[v]] = 1
    return tasks, matrix, classes


def load_table(path: str | Path, text_column: str = "text", split_column: str | None = "split",
               label_columns: list[str] | None = None, val_fraction: float = 0.1,
               test_fraction: float = 0.1, seed: int = 13, label_column: str | None = None) -> MultiTaskDataset:
    """Load a table of texts and 0/1 labels (or one multi-class ``label_column``) into a ``MultiTaskDataset``
    (see the module doc)."""
    if label_column is not None and label_columns is not None:
        raise DataError("give label_column (one multi-class column) or label_columns (0/1 columns), not both")
    df, fmt = read_table(path)
    return frame_dataset(df, Path(path), fmt, text_column, split_column, label_columns, val_fraction, test_fraction,
                         seed, label_column)


def frame_dataset(df: pd.DataFrame, path: Path, fmt: str, text_column: str = "text", split_column: str | None = "split",
                  label_columns: list[str] | None = None, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  seed: int = 13, label_column: str | None = None) -> MultiTaskDataset:
    """``load_table`` on a table already read (``path`` and ``fmt`` name it in errors and provenance)."""
    if label_column is not None and label_columns is not None:
        raise DataError("give label_column (one multi-class column) or label_columns (0/1 columns), not both")
    columns = list(df.columns)
    if text_column not in df.columns:
        raise DataError(f"{path}: no text column '{text_column}' (columns: {', '.join(columns)}); "
                        "set data.dataset.text_column / --text-column")
    text = df[text_column]
    keep_rows = text.notna().to_numpy() & (text.astype(str).str.strip() != "").to_numpy()
    dropped = int((~keep_rows).sum())
    df = df.loc[keep_rows].reset_index(drop=True)
    if len(df) == 0:
        raise DataError(f"{path}: column '{text_column}' has no non-empty text")
    has_split = split_column is not None and split_column in df.columns

    reserved = {text_column} | ({split_column} if has_split else set())
    ignored: dict[str, str] = {}
    classes: dict[str, str] = {}
    if label_column is not None:
        if label_column not in df.columns:
            raise DataError(f"{path}: no label column '{label_column}' (columns: {', '.join(columns)})")
        if label_column in reserved:
            raise DataError(f"{path}: column '{label_column}' is the text or split column, not a label")
        tasks, matrix, classes = class_labels(df[label_column], f"{path}: label column '{label_column}'")
        labels = {t: matrix[:, j] for j, t in enumerate(tasks)}
    elif label_columns is not None:
        if len(set(label_columns)) != len(label_columns):
            raise DataError(f"{path}: duplicate names in label columns {label_columns}")
        labels = {}
        for c in label_columns:
            if c not in df.columns:
                raise DataError(f"{path}: no label column '{c}' (columns: {', '.join(columns)})")
            if c in reserved:
                raise DataError(f"{path}: column '{c}' is the text or split column, not a label")
            if (problem := task_name_problem(c)) is not None:
                raise DataError(f"{path}: label column {c!r}: {problem}")
            vals, bad = binary_values(df[c])
            if bad is not None:
                raise DataError(f"{path}: label column '{c}' has non-binary value {bad[1]!r} (row {bad[0] + 1}); "
                                "labels must be 0/1 (empty = not annotated)")
            labels[c] = vals
    else:
        labels = {}
        for c in df.columns:
            if c in reserved or c.lower() in ID_COLUMNS:
                continue
            vals, bad = binary_values(df[c])
            if task_name_problem(c) is not None:
                ignored[c] = "name is not a valid task name"
            elif bad is not None:
                ignored[c] = f"non-binary value {bad[1]!r}"
            elif (vals == MISSING).all():
                ignored[c] = "all empty"
            else:
                labels[c] = vals
        if not labels:
            raise DataError(f"{path}: no 0/1 label columns besides '{text_column}' (columns: {', '.join(columns)}); "
                            "name them with data.dataset.label_columns / --label-columns")
    tasks = list(labels)
    matrix = np.stack([labels[t] for t in tasks], axis=1) if tasks else np.zeros((len(df), 0), np.int8)

    if has_split:
        split = _split_from_column(df, split_column, path)
        split_info = {"method": "column", "column": split_column}
    else:
        split = stratified_split(matrix, val_fraction, test_fraction, seed)
        split_info = {"method": "stratified (rarest positive label)", "seed": seed,
                      "val_fraction": val_fraction, "test_fraction": test_fraction}

    if label_column is not None:
        for j, t in enumerate(tasks):
            n_train = int(((split == "train") & (matrix[:, j] == 1)).sum())
            if n_train < MIN_CLASS_TRAIN:
                raise DataError(f"{path}: label column '{label_column}' class {classes[t]!r} has {n_train} "
                                f"training examples; at least {MIN_CLASS_TRAIN} needed")

    excluded: dict[str, str] = {}
    if label_columns is None and label_column is None:
        keep = []
        for j, t in enumerate(tasks):
            empty = [s for s in SPLITS if not ((split == s) & (matrix[:, j] == 1)).any()]
            if empty:
                excluded[t] = "no positives in " + ", ".join(empty)
            else:
                keep.append(j)
        if not keep:
            raise DataError(f"{path}: no label column has positives in every split ({excluded})")
        tasks = [tasks[j] for j in keep]
        matrix = matrix[:, keep]

    side = {}
    id_col = next((c for c in df.columns if c.lower() in ID_COLUMNS), None)
    if id_col is not None:
        side["id"] = df[id_col].astype(str).to_numpy(dtype=object)
    return MultiTaskDataset(
        texts=df[text_column].astype(str).tolist(),
        tasks=tasks,
        labels=matrix,
        split=split,
        provenance={"name": "table", "path": str(path), "format": fmt, "text_column": text_column,
                    "label_columns": (f"classes of '{label_column}'" if label_column is not None else
                                      "given" if label_columns is not None else "auto (every 0/1 column)"),
                    **({"classes": classes} if label_column is not None else {}),
                    "ignored_columns": ignored, "excluded": excluded,
                    "dropped_rows": {"missing_text": dropped}, "split": split_info},
        corpus=np.full(len(df), path.stem, dtype=object),
        columns=side,
    )
