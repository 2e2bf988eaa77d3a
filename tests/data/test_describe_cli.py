"""``describe`` (pure) and ``raytp data describe`` / ``raytp data check`` (CLI, in process)."""

from __future__ import annotations

import json
import itertools

import numpy as np
import pandas as pd
import pytest

from raytp.cli import main
from raytp.data import MISSING
from raytp.data.describe import cooccurrence, describe, format_description
from raytp.data.table import load_table


def test_phi_is_the_correlation_of_label_vectors():
    rng = np.random.default_rng(0)
    base = rng.random(400) < 0.3
    labels = np.stack([base, base ^ (rng.random(400) < 0.2), rng.random(400) < 0.1], axis=1).astype(np.int8)
    co = cooccurrence(labels)
    np.testing.assert_allclose(co["phi"], np.corrcoef(labels.T), atol=1e-12)
    assert co["both"][0, 1] == (labels[:, 0] & labels[:, 1]).sum()


def test_phi_uses_only_examples_annotated_for_both():
    rng = np.random.default_rng(1)
    labels = (rng.random((300, 2)) < 0.4).astype(np.int8)
    labels[:50, 1] = MISSING
    co = cooccurrence(labels)
    np.testing.assert_allclose(co["phi"][0, 1], np.corrcoef(labels[50:].T)[0, 1], atol=1e-12)
    assert co["n"][0, 1] == 250


def test_constant_task_has_no_phi():
    labels = np.array([[1, 0], [0, 0], [1, 0]], dtype=np.int8)
    assert np.isnan(cooccurrence(labels)["phi"][0, 1])


def test_describe_counts_against_pandas(tmp_path, table_df):
    path = tmp_path / "t.csv"
    table_df.to_csv(path, index=False)
    d = describe(load_table(path), top=5)
    split = table_df["split"].str.strip().str.lower().replace({"val": "validation"})
    assert d["examples"] == len(table_df)
    assert d["splits"] == {s: int((split == s).sum()) for s in ("train", "validation", "test")}
    for t in ("a", "b"):
        assert d["positives"][t] == {s: int(table_df.loc[split == s, t].sum()) for s in ("train", "validation", "test")}
    train = table_df[split == "train"]
    (pair,) = d["cooccurrence"]["top_pairs"]
    assert pair["phi"] == pytest.approx(train["a"].corr(train["b"]), abs=1e-4)
    assert pair["both"] == int((train["a"] & train["b"]).sum())
    sh = d["cooccurrence"]["sharing"]["b"]
    assert sh["most_with"] == "a" and sh["with_any_other"] == pytest.approx(pair["both"] / train["b"].sum(), abs=1e-4)
    json.dumps(d)  # JSON-able as is


def test_top_pairs_are_sorted_by_phi(disaster):
    ds = disaster.select_tasks(["food", "water", "shelter", "floods", "storm", "earthquake"])
    d = describe(ds, top=15)
    phis = [p["phi"] for p in d["cooccurrence"]["top_pairs"]]
    assert len(phis) == 15 and phis == sorted(phis, reverse=True)
    train = pd.DataFrame(ds.labels[ds.split == "train"], columns=ds.tasks)
    best = max(itertools.combinations(ds.tasks, 2), key=lambda ab: train[ab[0]].corr(train[ab[1]]))
    assert {d["cooccurrence"]["top_pairs"][0]["a"], d["cooccurrence"]["top_pairs"][0]["b"]} == set(best)
    text = format_description(d)
    assert "top co-occurring pairs" in text and "earthquake" in text


def test_cli_default_dataset_readable(capsys):
    assert main(["data", "describe", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("disaster-response")
    assert "26,248 examples: train 21,046 · validation 2,573 · test 2,629" in out
    assert "excluded: child_alone" in out and "excluded: PII" in out and "excluded: offer" in out
    assert "top co-occurring pairs" in out


def test_cli_json_is_one_object(capsys):
    assert main(["data", "describe", "--tasks", "food,water,shelter", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    d = json.loads(out)
    assert d["tasks"] == ["food", "water", "shelter"] and d["examples"] == 26_248
    assert d["cooccurrence"]["pairs"] == 3


def test_cli_trecis_guessed_from_json_path(capsys, trecis_files):
    argv = ["data", "describe", "--path", str(trecis_files.labels), "--tweets", str(trecis_files.tweets), "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["name"] == "trecis" and d["examples"] == len(trecis_files.joined)
    assert d["provenance"]["missing_text"]["count"] == len(trecis_files.no_text)
    assert "Report-Location" in d["no_positive_in"]  # a single positive cannot reach three splits
    assert main(argv[:-1]) == 0
    text = capsys.readouterr().out
    assert "without hydrated text (left out): 4" in text and "unknown categories (ignored): Other-KnownAlready" in text


def test_cli_table_with_options(capsys, tmp_path, table_df):
    path = tmp_path / "t.tsv"
    table_df.rename(columns={"text": "body"}).drop(columns=["split"]).to_csv(path, sep="\t", index=False)
    assert main(["data", "describe", "--path", str(path), "--text-column", "body", "--label-columns", "a,b",
                 "--split-seed", "9", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["name"] == "table" and d["tasks"] == ["a", "b"]
    assert d["provenance"]["split"]["seed"] == 9


def test_cli_check_ok(capsys):
    assert main(["data", "check", "--tasks", "food,water", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] and set(d["positives"]) == {"food", "water"}


def test_cli_multiclass_column_describe_and_check(capsys, tmp_path):
    import yaml
    from tests.data.conftest import multiclass_frame
    path = tmp_path / "complaints.csv"
    multiclass_frame().drop(columns="split").to_csv(path, index=False)
    assert main(["data", "describe", "--path", str(path), "--format", "table", "--label-column", "Product"]) == 0
    out = capsys.readouterr().out
    assert "200 examples: train 160 · validation 20 · test 20" in out and "Student_loan" in out
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dataset": {"name": "table", "path": str(path), "label_column": "Product"},
                                            "tasks": ["Debt_collection", "Student_loan"]}}), encoding="utf-8")
    assert main(["data", "check", "--config", str(cfg), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] and d["examples"] == 200
    assert d["positives"] == {"Debt_collection": {"train": 64, "validation": 8, "test": 8},
                              "Student_loan": {"train": 16, "validation": 2, "test": 2}}
