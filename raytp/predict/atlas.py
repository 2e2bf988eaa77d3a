"""A transfer atlas as the learned predictor's knowledge, used leave-tasks-out (pure).

An atlas (``benchmarks/atlas.py`` writes one under ``benchmarks/results/``) is one row per ordered pair
of many tasks of a corpus: the pair's features (the columns of ``pair_features.parquet``) and its
full-grid outcome: ``gain_val`` / ``beneficial`` / ``harmful`` (the best-validation configuration,
labelled on validation F1 against the validation noise margin: what the predictor learns from) and
``gain`` / ``beneficial_test`` / ``harmful_test`` (the same configuration on test F1: the truth a
benchmark scores against). No texts, no weights.

**Leave-tasks-out**: a predictor that ranks the pairs of a run never learns from an atlas row that
involves any task of that run, as source or as target (``leave_tasks_out``, checked again by
``fit_atlas_predictor`` right before it fits). Names are compared with and without a corpus prefix
(``corpus:task``), so a same-named task of another corpus is left out too (the cautious side).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from raytp.errors import PredictorError
from raytp.predict.predictor import TransferPredictor, default_features

ID_COLUMNS = ("source", "target", "corpus")
# outcome columns an atlas may carry: never pair features (the learned predictor must not see them)
OUTCOME_COLUMNS = frozenset({"gain", "gain_val", "gain_sd", "beneficial", "harmful", "beneficial_test", "harmful_test",
                             "f1_val", "f1_test", "baseline_f1_val", "baseline_f1_test", "best_grid_point",
                             "best_mode", "grid_points_ok", "train_s", "probability"})
REQUIRED = ("source", "target", "beneficial")


def load_atlas(path: str | Path, field: str = "prune.atlas") -> pd.DataFrame:
    """Read an atlas table (``.csv``, ``.csv.gz`` or ``.parquet``); a missing or malformed file is one
    ``PredictorError`` line naming ``field`` and the path."""
    p = Path(path)
    if not p.is_file():
        raise PredictorError(f"{field}: {p}: no such atlas file")
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    except Exception as e:  # noqa: BLE001 - any reader failure is a bad input file
        raise PredictorError(f"{field}: {p}: cannot read as an atlas table ({type(e).__name__})") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise PredictorError(f"{field}: {p}: not an atlas table (no column(s) {missing})")
    if df.empty:
        raise PredictorError(f"{field}: {p}: the atlas has no rows")
    df = df.copy()
    df["source"], df["target"] = df["source"].astype(str), df["target"].astype(str)
    for c in ("beneficial", "harmful", "beneficial_test", "harmful_test"):
        if c in df:
            df[c] = df[c].astype(str).str.lower().isin(("true", "1", "1.0"))
    return df


def feature_columns(atlas: pd.DataFrame) -> list[str]:
    """The atlas's pair-feature columns (numeric; not ids, outcomes or ``random``)."""
    return [c for c in default_features(atlas) if c not in OUTCOME_COLUMNS and c not in ID_COLUMNS]


def task_keys(tasks: Iterable[str]) -> set[str]:
    """Each task name with and without its corpus prefix (``corpus:task`` -> both)."""
    keys: set[str] = set()
    for t in tasks:
        keys |= {str(t), str(t).split(":", 1)[-1]}
    return keys


def overlapping(rows: pd.DataFrame, tasks: Iterable[str]) -> np.ndarray:
    """Boolean mask: rows whose source or target is one of ``tasks`` (see ``task_keys``)."""
    keys = task_keys(tasks)

    def hit(name: str) -> bool:
        return bool(task_keys([name]) & keys)

    return np.array([hit(s) or hit(t) for s, t in zip(rows["source"].astype(str), rows["target"].astype(str))],
                    dtype=bool)


def leave_tasks_out(atlas: pd.DataFrame, tasks: Iterable[str], field: str = "prune.atlas") -> pd.DataFrame:
    """The atlas rows that involve none of ``tasks``; a ``PredictorError`` when none remain."""
    tasks = list(tasks)
    kept = atlas[~overlapping(atlas, tasks)].reset_index(drop=True)
    if kept.empty:
        raise PredictorError(f"{field}: every atlas row involves a task of this run ({', '.join(tasks[:5])}"
                             f"{'...' if len(tasks) > 5 else ''}); nothing left to learn from leave-tasks-out")
    return kept


def fit_atlas_predictor(atlas: pd.DataFrame, tasks: Iterable[str], columns: Iterable[str] | None = None,
                        feature: str = "label_phi", threshold: float = 0.5, estimator: str = "gbm",
                        random_state: int = 0, field: str = "prune.atlas") -> TransferPredictor:
    """The learned predictor trained on the atlas rows that involve none of ``tasks`` (the run's tasks),
    on the atlas feature columns also in ``columns`` (the run's pair-feature columns; all when None).
    ``feature`` is the zero-shot fallback (too few beneficial rows)."""
    tasks = list(tasks)
    rows = leave_tasks_out(atlas, tasks, field)
    if overlapping(rows, tasks).any():  # the guarantee, checked on exactly what is fitted
        raise PredictorError(f"{field}: an atlas row involving a task of this run reached the training rows")
    cols = feature_columns(atlas)
    if columns is not None:
        wanted = set(columns)
        cols = [c for c in cols if c in wanted]
    if not cols:
        raise PredictorError(f"{field}: the atlas shares no pair-feature column with this run")
    pred = TransferPredictor(mode="learned", feature=feature, threshold=threshold, estimator=estimator,
                             features=cols, random_state=random_state)
    return pred.fit(rows, rows["beneficial"].to_numpy(bool))
