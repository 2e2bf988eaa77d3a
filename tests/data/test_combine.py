"""Combined task sets: config validation, filters, prefixes, combine_datasets, probe shares, describe."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from raytp.cli import main
from raytp.config import CorpusFilter, config_from_dict, load_config
from raytp.data.combine import combine_datasets, filter_dataset, filter_mask, prefix_tasks, shared_examples
from raytp.data.dataset import MISSING, MultiTaskDataset
from raytp.data.describe import describe, format_description
from raytp.data.loading import load_data, load_experiment_data
from raytp.data.subsets import probe_indices, probe_shares
from raytp.errors import ConfigError, DataError, RaytpError

SPLIT_CYCLE = ["train"] * 6 + ["validation"] * 2 + ["test"] * 2


def toy(name: str, n: int, tasks: list[str], seed: int, ids: list[int] | None = None) -> MultiTaskDataset:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, len(tasks))) < 0.4).astype(np.int8)
    labels[:10] = 1  # positives in every split
    split = np.array([SPLIT_CYCLE[i % 10] for i in range(n)], dtype=object)
    cols = {"genre": np.array(["news" if i % 3 == 0 else "direct" for i in range(n)], dtype=object)}
    if ids is not None:
        cols["id"] = np.array(ids)
    return MultiTaskDataset([f"{name} text {i}" for i in range(n)], tasks, labels, split, {"name": name}, None, cols)


# -- combine_datasets ---------------------------------------------------------------------------

def test_combine_marks_other_corpora_missing_not_negative():
    a, b = toy("one", 40, ["x", "y"], 0, ids=list(range(40))), toy("two", 30, ["z"], 1)
    ds = combine_datasets([("c1", a), ("c2", b)])
    assert ds.tasks == ["x", "y", "z"] and len(ds) == 70
    assert ds.texts[:40] == a.texts and ds.texts[40:] == b.texts
    np.testing.assert_array_equal(ds.labels[:40, :2], a.labels)
    np.testing.assert_array_equal(ds.labels[40:, 2], b.labels[:, 0])
    assert (ds.labels[40:, :2] == MISSING).all() and (ds.labels[:40, 2] == MISSING).all()
    assert list(ds.corpus) == ["c1"] * 40 + ["c2"] * 30
    np.testing.assert_array_equal(ds.split, np.concatenate([a.split, b.split]))
    # each task's examples are its own corpus's, split by split
    for s in ("train", "validation", "test"):
        np.testing.assert_array_equal(ds.indices(s, "x"), a.indices(s))
        np.testing.assert_array_equal(ds.indices(s, "z"), 40 + b.indices(s))
    assert ds.positives()["z"] == b.positives()["z"]
    parts = ds.provenance["parts"]
    assert [p["corpus"] for p in parts] == ["c1", "c2"] and [p["tasks"] for p in parts] == [["x", "y"], ["z"]]
    assert parts[1]["splits"] == {"train": 18, "validation": 6, "test": 6}
    # side columns: union, None where a part lacks one
    assert list(ds.columns["id"][:3]) == [0, 1, 2] and all(v is None for v in ds.columns["id"][40:])
    assert list(ds.columns["genre"][40:43]) == ["news", "direct", "direct"]


def test_combine_counts_texts_present_in_two_corpora():
    a, b = toy("one", 20, ["x"], 0), toy("two", 20, ["z"], 1)
    b.texts[3] = a.texts[5]
    b.texts[4] = a.texts[5]
    assert combine_datasets([("a", a), ("b", b)]).provenance["shared_texts"] == 1
    assert combine_datasets([("a", a), ("c", toy("three", 20, ["w"], 2))]).provenance["shared_texts"] == 0


@pytest.mark.parametrize("parts, message", [
    ([], "no data sets"),
    ([("a", "x"), ("a", "z")], "corpus name(s) ['a'] used more than once"),
    ([("a", "x"), ("b", "x")], "task 'x' is in corpus 'a' and corpus 'b': give one of them a `prefix`"),
])
def test_combine_rejects(parts, message):
    with pytest.raises(DataError) as e:
        combine_datasets([(n, toy(n, 20, [t], 0)) for n, t in parts])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_prefix_renames_tasks_and_exclusions():
    ds = toy("one", 20, ["x", "y"], 0)
    ds.provenance["excluded"] = {"q": "no positives in test"}
    out = prefix_tasks(ds, "old")
    assert out.tasks == ["old:x", "old:y"] and out.provenance["excluded"] == {"old:q": "no positives in test"}
    np.testing.assert_array_equal(out.labels, ds.labels)
    assert prefix_tasks(ds, None) is ds


# -- filters -----------------------------------------------------------------------------------

def test_filter_by_column_and_by_id_bucket():
    ds = toy("one", 60, ["x"], 0, ids=[10 + i for i in range(60)])
    genre = filter_mask(ds, CorpusFilter(column="genre", values=["news"]))
    np.testing.assert_array_equal(genre, np.arange(60) % 3 == 0)
    ids = np.arange(10, 70)
    np.testing.assert_array_equal(filter_mask(ds, CorpusFilter(id_modulo=2, remainder=1)), ids % 2 == 1)
    np.testing.assert_array_equal(filter_mask(ds, CorpusFilter(id_modulo=2, remainder=0, id_divisor=2)),
                                  (ids // 2) % 2 == 0)
    np.testing.assert_array_equal(filter_mask(ds, CorpusFilter(id_modulo=3, remainder=[0, 2])), ids % 3 != 1)
    # the two halves of a bucket filter are disjoint and cover the corpus
    half = [filter_mask(ds, CorpusFilter(id_modulo=2, remainder=r, id_divisor=2)) for r in (0, 1)]
    assert not (half[0] & half[1]).any() and (half[0] | half[1]).all()
    out = filter_dataset(ds, CorpusFilter(column="genre", values=["direct"]))
    assert len(out) == 40 and set(out.columns["genre"]) == {"direct"}
    assert out.provenance["filter"]["kept"] == 40 and out.provenance["filter"]["of"] == 60
    assert out.texts == [t for i, t in enumerate(ds.texts) if i % 3]


@pytest.mark.parametrize("filt, ids, message", [
    (CorpusFilter(column="source", values=["x"]), None, "no side column 'source' to filter on (side columns: genre)"),
    (CorpusFilter(id_modulo=2, remainder=0), ["r1", "r2"] * 10, "side column 'id' holds non-integer ids"),
    (CorpusFilter(id_modulo=10, remainder=9), list(range(20)), "keeps 2 examples but none in the train, validation split(s)"),
])
def test_filter_errors_name_the_data(filt, ids, message):
    ds = toy("corpus.csv", 20, ["x"], 0, ids=ids)
    with pytest.raises(DataError) as e:
        filter_dataset(ds, filt)
    assert message in str(e.value) and str(e.value).startswith("corpus.csv: ")


# -- config -------------------------------------------------------------------------------------

def _cfg(datasets, **data):
    return config_from_dict({"data": {"datasets": datasets, **data}}, source="x.yaml")


def test_config_tasks_default_to_the_corpora_tasks_with_prefixes():
    cfg = _cfg([{"tasks": ["food", "water"]}, {"tasks": ["food"], "prefix": "old"}])
    assert cfg.data.tasks == ["food", "water", "old:food"]
    assert cfg.data.corpus_names() == ["disaster-response", "old"]
    cfg = _cfg([{"tasks": ["food"]}, {"tasks": ["water"]}, {"tasks": ["shelter"], "corpus": "disaster-response"}])
    assert cfg.data.corpus_names() == ["disaster-response#1", "disaster-response#2", "disaster-response"]
    cfg = _cfg([{"tasks": ["a"], "corpus": "first"}, {"name": "table", "path": "t.csv", "tasks": ["b"]}])
    assert cfg.data.corpus_names() == ["first", "table"]
    # explicit data.tasks wins; single-corpus configs are unchanged
    assert _cfg([{}, {"prefix": "p"}], tasks=["food", "p:water"]).data.tasks == ["food", "p:water"]
    assert config_from_dict({}).data.datasets is None


def test_combined_config_survives_a_dump_round_trip():
    """Run dirs store cfg.to_yaml() and Ray workers rebuild configs from model_dump()."""
    cfg = _cfg([{"tasks": ["food"], "filter": {"column": "genre", "values": ["news"]}},
                {"tasks": ["water"], "prefix": "p", "filter": {"id_modulo": 2, "remainder": [1], "id_divisor": 2}}])
    for dumped in (cfg.model_dump(mode="json"), yaml.safe_load(cfg.to_yaml())):
        again = config_from_dict(dumped)
        assert again == cfg and again.fingerprint() == cfg.fingerprint()
        assert again.data.tasks == ["food", "p:water"]


def test_single_corpus_fingerprint_ignores_the_datasets_field():
    base = config_from_dict({})
    dumped = base.model_dump(mode="json")
    assert dumped["data"]["datasets"] is None
    del dumped["data"]["datasets"]
    assert config_from_dict(dumped).fingerprint() == base.fingerprint()
    assert _cfg([{"tasks": ["food", "water"]}]).fingerprint() != config_from_dict(
        {"data": {"tasks": ["food", "water"]}}).fingerprint()


@pytest.mark.parametrize("data, message", [
    ({"dataset": {"name": "table"}, "datasets": [{"tasks": ["a", "b"]}]}, "not both"),
    ({"datasets": [{"tasks": ["a"]}, {"tasks": ["a", "b"]}]}, "task 'a' is taken from data.datasets[0] and [1]"),
    ({"datasets": [{"tasks": ["a"]}, {"tasks": ["a"]}], "tasks": ["a", "b"]}, "give one of them a `prefix`"),
    ({"datasets": [{"tasks": ["a", "a"]}]}, "data.datasets[0].tasks names 'a' twice"),
    ({"datasets": [{"tasks": ["a"]}, {}]}, "data.datasets[1] takes every task of its corpus"),
    ({"datasets": []}, "needs at least one corpus"),
    ({"datasets": [{"tasks": ["a", "b"], "filter": {"column": "genre"}}]}, "needs both `column`"),
    ({"datasets": [{"tasks": ["a", "b"], "filter": {"column": "g", "values": ["x"], "id_modulo": 2}}]},
     "either column + values or id_modulo"),
    ({"datasets": [{"tasks": ["a", "b"], "filter": {"id_modulo": 2, "remainder": 2}}]}, "remainder must be in [0, 2)"),
    ({"datasets": [{"tasks": ["a", "b"], "filter": {"id_modulo": 2}}]}, "needs both `id_modulo` and `remainder`"),
    ({"datasets": [{"tasks": ["a", "b"], "prefix": "a:b"}]}, "data.datasets.0.prefix"),
    ({"datasets": [{"tasks": ["a"], "corpus": "c"}, {"tasks": ["b"], "corpus": "c"}]}, "duplicate corpus names"),
    ({"datasets": [{"tasks": ["a", "b"], "colour": 1}]}, "data.datasets.0.colour': unknown key"),
])
def test_config_rejects(data, message):
    with pytest.raises(ConfigError) as e:
        config_from_dict({"data": data}, source="x.yaml")
    assert message in str(e.value) and str(e.value).startswith("x.yaml: ") and "\n" not in str(e.value)


# -- loading tables from two files ---------------------------------------------------------------

def _table(path, n: int, seed: int, no_test_positive: str | None = None):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        split = SPLIT_CYCLE[i % 10]
        a = int(i < 10 or rng.random() < 0.3)
        b = int(i < 10 or rng.random() < 0.3)
        if no_test_positive == "b" and split == "test":
            b = 0
        rows.append({"id": i, "text": f"{path.stem} message {i}", "a": a, "b": b, "split": split})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_two_tables_with_same_task_names_load_with_prefixes(tmp_path):
    one, two = _table(tmp_path / "one.csv", 50, 0), _table(tmp_path / "two.csv", 40, 1)
    cfg = _cfg([{"name": "table", "path": str(one)}, {"name": "table", "path": str(two), "prefix": "t2"}],
               tasks=["a", "b", "t2:a"])
    ds = load_experiment_data(cfg)
    assert ds.tasks == ["a", "b", "t2:a"] and len(ds) == 90
    assert set(ds.corpus[ds.indices("train", "t2:a")]) == {"t2"}
    assert set(ds.corpus[ds.indices("train", "a")]) == {"table"}
    assert ds.provenance["parts"][1]["path"] == str(two)


def test_positive_check_counts_a_task_on_its_own_corpus(tmp_path):
    one = _table(tmp_path / "one.csv", 50, 0)
    two = _table(tmp_path / "two.csv", 40, 1, no_test_positive="b")
    cfg = _cfg([{"name": "table", "path": str(one), "tasks": ["b"]},
                {"name": "table", "path": str(two), "tasks": ["a", "b"], "prefix": "t2", "corpus": "second",
                 "label_columns": ["a", "b"]}])
    with pytest.raises(DataError) as e:
        load_experiment_data(cfg)
    assert str(e.value) == "data.datasets: task 't2:b' has no positive examples in the test split of corpus second"
    ds = load_data(cfg.data)  # describe-style loading does not check
    assert ds.positives()["t2:b"]["test"] == 0 and ds.positives()["b"]["test"] > 0


def test_unknown_task_of_a_corpus_names_the_entry(tmp_path):
    one = _table(tmp_path / "one.csv", 50, 0)
    cfg = _cfg([{"name": "table", "path": str(one), "tasks": ["a", "zzz"]}])
    with pytest.raises(DataError) as e:
        load_experiment_data(cfg)
    assert str(e.value).startswith(f"data.datasets[0] ({one}): unknown task 'zzz'")


def test_id_filter_on_string_ids_is_a_data_error(tmp_path):
    one = _table(tmp_path / "one.csv", 50, 0)
    df = pd.read_csv(one)
    df["id"] = "r" + df["id"].astype(str)
    df.to_csv(one, index=False)
    cfg = _cfg([{"name": "table", "path": str(one), "tasks": ["a", "b"], "filter": {"id_modulo": 2, "remainder": 0}}])
    with pytest.raises(RaytpError) as e:
        load_experiment_data(cfg)
    assert "holds non-integer ids" in str(e.value)


# -- probe set ----------------------------------------------------------------------------------

def test_probe_shares_equal_split_remainder_to_largest_shortfall_redistributed():
    assert probe_shares({"a": 100, "b": 300}, 11) == {"b": 6, "a": 5}
    assert probe_shares({"a": 100, "b": 100, "c": 100}, 10) == {"a": 4, "b": 3, "c": 3}  # ties by name
    assert probe_shares({"small": 2, "big": 50, "mid": 10}, 30) == {"big": 18, "mid": 10, "small": 2}
    assert probe_shares({"a": 3, "b": 4}, 100) == {"b": 4, "a": 3}


def _probe_cfg(size: int, seed: int = 0):
    return config_from_dict({"data": {"tasks": ["x", "z"], "probe_size": size, "subset_seed": seed}}).data


def test_probe_draws_from_every_corpus_deterministically():
    a, b = toy("one", 400, ["x"], 0), toy("two", 100, ["z"], 1)
    ds = combine_datasets([("c1", a), ("c2", b)])
    p = probe_indices(ds, _probe_cfg(33))
    assert len(p) == 33 and len(set(p.tolist())) == 33 and (ds.split[p] == "validation").all()
    counts = {c: int((ds.corpus[p] == c).sum()) for c in ("c1", "c2")}
    assert counts == {"c1": 17, "c2": 16}
    np.testing.assert_array_equal(p, probe_indices(ds, _probe_cfg(33)))
    assert not np.array_equal(p, probe_indices(ds, _probe_cfg(33, seed=5)))
    # a corpus smaller than its share gives every validation text; the rest comes from the other
    p = probe_indices(ds, _probe_cfg(60))
    assert int((ds.corpus[p] == "c2").sum()) == 20 and int((ds.corpus[p] == "c1").sum()) == 40


def test_probe_of_one_corpus_is_unchanged():
    ds = toy("one", 300, ["x", "y"], 3)
    cfg = _probe_cfg(25, seed=4)
    idx = ds.indices("validation")
    expected = np.sort(np.random.default_rng(4 + 2).choice(idx, size=25, replace=False))
    np.testing.assert_array_equal(probe_indices(ds, cfg), expected)


def test_probe_skips_corpora_no_task_uses():
    a, b, c = toy("one", 100, ["x"], 0), toy("two", 100, ["z"], 1), toy("three", 100, ["w"], 2)
    ds = combine_datasets([("c1", a), ("c2", b), ("c3", c)]).select_tasks(["x", "z"])
    p = probe_indices(ds, _probe_cfg(20))
    assert set(ds.corpus[p]) == {"c1", "c2"}


# -- describe: shared examples -------------------------------------------------------------------

def test_shared_examples_groups_tasks_by_common_annotations():
    ds = combine_datasets([("c1", toy("one", 30, ["x", "y"], 0)), ("c2", toy("two", 30, ["z", "w"], 1))])
    sh = shared_examples(ds)
    assert sh["groups"] == [["x", "y"], ["z", "w"]]
    assert sh["shares_with"] == {"x": ["y"], "y": ["x"], "z": ["w"], "w": ["z"]}
    assert sh["counts"]["x"]["y"] == 30 and sh["counts"]["x"]["z"] == 0
    one = shared_examples(toy("one", 30, ["x", "y", "v"], 0))
    assert one["groups"] == [["x", "y", "v"]]


def test_describe_reports_shared_examples_and_parts():
    ds = combine_datasets([("c1", toy("one", 30, ["x", "y"], 0)), ("c2", toy("two", 30, ["z"], 1))])
    d = describe(ds)
    assert d["shared_examples"]["groups"] == [["x", "y"], ["z"]]
    assert d["shared_examples"]["corpora"] == {"x": ["c1"], "y": ["c1"], "z": ["c2"]}
    assert d["annotated"]["z"]["train"] == 18  # counted on its own corpus only
    phi = {(p["a"], p["b"]): p["phi"] for p in d["cooccurrence"]["top_pairs"]}
    assert phi[("x", "z")] is None and phi[("x", "y")] is not None
    text = format_description(d)
    assert "2 groups of tasks with no example in common" in text
    assert "z     shares examples with: none" in text
    assert "corpus c2: 30 examples of two, tasks: z" in text
    json.dumps(d)


def test_cli_describe_config_json_and_conflicts(tmp_path, capsys):
    one, two = _table(tmp_path / "one.csv", 50, 0), _table(tmp_path / "two.csv", 40, 1)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"data": {"datasets": [
        {"name": "table", "path": str(one), "tasks": ["a", "b"]},
        {"name": "table", "path": str(two), "tasks": ["a"], "prefix": "t2"}]}}))
    assert main(["data", "describe", "--config", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tasks"] == ["a", "b", "t2:a"]
    assert out["shared_examples"]["shares_with"]["t2:a"] == []
    assert out["shared_examples"]["shares_with"]["a"] == ["b"]
    assert main(["data", "describe", "--config", str(path), "--tasks", "a,t2:a"]) == 0
    assert "a     shares examples with: none" in capsys.readouterr().out
    assert main(["data", "describe", "--config", str(path), "--path", str(one)]) == 2
    assert "--config conflicts with --path" in capsys.readouterr().err
    assert load_config(path).data.corpus_names() == ["table", "t2"]
