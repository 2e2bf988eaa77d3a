"""The TREC-IS loader on label JSON + hydrated-tweet JSONL files written by the tests."""

from __future__ import annotations

import numpy as np

from raytp.config import DatasetConfig
from raytp.data import load_dataset
from raytp.data.trecis import INFORMATION_TYPES, load_trecis, normalise_category



def test_ontology_has_25_prefixed_types():
    assert len(INFORMATION_TYPES) == 25 == len(set(INFORMATION_TYPES))
    assert all(t.split("-")[0] in {"CallToAction", "Other", "Report", "Request"} for t in INFORMATION_TYPES)


def test_category_names_with_or_without_prefix():
    assert normalise_category("Request-SearchAndRescue") == "Request-SearchAndRescue"
    assert normalise_category("SearchAndRescue") == "Request-SearchAndRescue"
    assert normalise_category(" searchandrescue ") == "Request-SearchAndRescue"
    assert normalise_category("other-irrelevant") == "Other-Irrelevant"
    assert normalise_category("Report-SearchAndRescue") is None  # wrong prefix is not guessed
    assert normalise_category("KnownAlready") is None


def test_join_labels_and_tweets(trecis_files):
    ds = load_trecis(trecis_files.labels, trecis_files.tweets)
    joined = trecis_files.joined
    assert ds.columns["post_id"].tolist() == joined
    expected_tasks = [t for t in INFORMATION_TYPES if any(t in trecis_files.truth[p] for p in joined)]
    assert ds.tasks == expected_tasks
    assert "Report-Location" in ds.tasks and "Request-SearchAndRescue" in ds.tasks
    for i, pid in enumerate(joined):
        assert ds.texts[i] == f"tweet {pid} full text"  # full_text preferred over a truncated text
        assert {t for j, t in enumerate(ds.tasks) if ds.labels[i, j] == 1} == trecis_files.truth[pid]
        assert ds.columns["priority"][i] == trecis_files.priority[pid]
        assert ds.columns["eventid"][i] == trecis_files.event[pid]


def test_missing_text_duplicates_and_unknown_categories_are_reported(trecis_files):
    ds = load_trecis(trecis_files.labels, trecis_files.tweets)
    prov = ds.provenance
    assert prov["labelled_tweets"] == trecis_files.n_posts
    assert prov["missing_text"]["count"] == len(trecis_files.no_text)
    assert set(prov["missing_text"]["examples"]) == set(trecis_files.no_text)
    assert prov["unlabelled_tweets"] == 1
    assert prov["duplicate_labels"] == 1
    assert prov["unknown_categories"] == trecis_files.unknown
    assert prov["events"] == {e: sum(1 for p in trecis_files.joined if trecis_files.event[p] == e)
                              for e in ("floods2020", "quake2020")}
    assert "Request-GoodsServices" in prov["absent_types"]
    dup = list(ds.columns["post_id"]).index(trecis_files.joined[0])  # labelled twice, once as Critical
    assert ds.columns["priority"][dup] == "Critical"


def test_split_is_seeded_and_stratified(trecis_files):
    a = load_trecis(trecis_files.labels, trecis_files.tweets, val_fraction=0.15, test_fraction=0.15, seed=1)
    b = load_trecis(trecis_files.labels, trecis_files.tweets, val_fraction=0.15, test_fraction=0.15, seed=1)
    c = load_trecis(trecis_files.labels, trecis_files.tweets, val_fraction=0.15, test_fraction=0.15, seed=2)
    np.testing.assert_array_equal(a.split, b.split)
    assert (a.split != c.split).any()
    n = len(a)
    assert abs((a.split == "test").sum() - 0.15 * n) <= 3
    for t, pos in a.positives().items():
        total = sum(pos.values())
        if total >= 8:  # rarest-label strata: tasks with enough positives reach every split
            assert min(pos.values()) > 0, (t, pos)


def test_dispatch_through_dataset_config(trecis_files):
    cfg = DatasetConfig(name="trecis", path=trecis_files.labels, tweets=trecis_files.tweets, split_seed=5)
    ds = load_dataset(cfg)
    assert ds.provenance["name"] == "trecis" and ds.provenance["split"]["seed"] == 5
