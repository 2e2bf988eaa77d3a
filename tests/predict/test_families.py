"""Signal families of the pair table, the signature-only and task-statistics rankers, and the default rule."""

import json

import numpy as np
import pandas as pd
import pytest

from raytp.config import DataConfig, ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import PredictorError
from raytp.predict import (BASELINES, TransferPredictor, column_family, feature_groups, signature_only_scores,
                           task_statistics_scores)
from raytp.predict.families import (GRADIENT_ATTRIBUTION, LABEL_COOCCURRENCE, REPRESENTATION, TASK_STATISTICS,
                                    TEXT_EMBEDDING, rule_columns, with_rankers)
from raytp.profiling.pair_features import describe_column, task_pair_statistics

GRAD = ["input_ig/cosine", "input_ig/topk", "layer_conductance/hidden/cosine", "neuron_conductance/hidden/spearman",
        "neuron_conductance_inputs/hidden/cosine", "layer_conductance_examples/hidden/cka",
        "layer_integrated_gradients_examples/hidden/rsa", "layer_integrated_gradients/hidden/topk"]
REPR = ["responses/hidden/cka", "responses/hidden/rsa", "layer_activation/hidden/cosine", "logme"]


def test_every_column_has_one_family_and_its_description_names_it():
    for c in GRAD:
        assert column_family(c) == GRADIENT_ATTRIBUTION, c
    for c in REPR:
        assert column_family(c) == REPRESENTATION, c
    assert column_family("label_phi") == column_family("label_copositives") == LABEL_COOCCURRENCE
    assert {column_family(c) for c in ("source_positives", "target_positives", "source_f1_val",
                                       "target_f1_val")} == {TASK_STATISTICS}
    assert column_family("textemb") == TEXT_EMBEDDING
    for c in ("source", "target", "random", "gain", "signature_only", "task_statistics", "mystery/hidden/cka"):
        assert column_family(c) is None, c
    for c in GRAD + REPR + ["label_phi", "textemb", "target_positives"]:
        assert describe_column(c).endswith(f"[{column_family(c)}]"), describe_column(c)


def _table(n_tasks=5, seed=0, copositives=1):
    rng = np.random.default_rng(seed)
    rows = []
    tasks = [f"t{i}" for i in range(n_tasks)]
    for s in tasks:
        for t in tasks:
            if s != t:
                row = {"source": s, "target": t, "label_phi": rng.normal(), "label_copositives": copositives,
                       "logme": rng.normal(), "textemb": rng.normal(), "source_positives": int(rng.integers(5, 50)),
                       "target_positives": int(rng.integers(5, 50)), "target_f1_val": rng.random(),
                       "source_f1_val": rng.random(), "random": rng.random()}
                row.update({c: rng.normal() for c in GRAD + REPR if c != "logme"})
                rows.append(row)
    return pd.DataFrame(rows)


def test_ablation_groups_name_the_two_signature_families_apart():
    groups = feature_groups(with_rankers(_table()))
    assert groups["gradient_attribution"] == GRAD
    assert groups["representation"] == [c for c in _table().columns if c in REPR]
    assert set(groups["signatures"]) == set(GRAD + REPR) - {"logme"}  # the old group: every column with a '/'
    assert "signature_only" not in groups["all"] and "task_statistics" not in groups["all"]  # rankers, not features


def test_signature_only_reads_the_gradient_family_alone():
    X = _table()
    base = signature_only_scores(X)
    assert np.isfinite(base).all() and 0 <= base.min() and base.max() <= 1
    Y = X.copy()
    for c in REPR + ["label_phi", "textemb", "target_positives"]:
        Y[c] = np.random.default_rng(9).permutation(Y[c].to_numpy())  # other families scrambled: no change
    np.testing.assert_array_equal(signature_only_scores(Y), base)
    Z = X.copy()
    Z["input_ig/cosine"] = -Z["input_ig/cosine"]
    assert not np.array_equal(signature_only_scores(Z), base)
    one = X[["source", "target", "input_ig/cosine"]]
    assert np.argmax(signature_only_scores(one)) == np.argmax(one["input_ig/cosine"].to_numpy())
    assert np.isnan(signature_only_scores(X.drop(columns=GRAD))).all()


def test_task_statistics_prefers_small_targets_large_sources_and_weak_targets():
    X = pd.DataFrame({"target_positives": [10, 100, 10, 100], "source_positives": [500, 50, 50, 500],
                      "target_f1_val": [0.2, 0.9, 0.9, 0.2]})
    s = task_statistics_scores(X)
    assert np.argmax(s) == 0 and np.argmin(s) == 1
    assert {"signature_only", "task_statistics"} <= set(BASELINES)


def _one_vs_rest_dataset(n=400, seed=0):
    classes = np.random.default_rng(seed).choice(4, size=n, p=[0.5, 0.25, 0.15, 0.1])
    labels = np.stack([(classes == k).astype(np.int8) for k in range(4)], 1)
    split = np.array(["train"] * 300 + ["validation"] * 50 + ["test"] * 50, dtype=object)
    return MultiTaskDataset([f"text {i}" for i in range(n)], ["a", "b", "c", "d"], labels, split)


def test_one_vs_rest_phi_is_a_function_of_base_rates_and_has_no_copositives():
    ds = _one_vs_rest_dataset()
    cfg = DataConfig(tasks=ds.tasks, max_train=200, source_max_train=None)
    stats = task_pair_statistics(ds, cfg, ds.tasks)
    assert (stats["label_copositives"] == 0).all()
    from raytp.data.subsets import pair_label_examples
    for r in stats.itertuples():
        idx = pair_label_examples(ds, r.source, r.target, cfg)
        ps, pt = (ds.y(r.source, idx) == 1).mean(), (ds.y(r.target, idx) == 1).mean()
        assert r.label_phi == pytest.approx(-np.sqrt(ps * pt / ((1 - ps) * (1 - pt))))
    assert not shares(stats).any()


def shares(X):
    from raytp.predict.families import shares_positives
    return shares_positives(X)


def test_default_rule_is_the_config_default_and_leaves_phi_out_on_one_vs_rest():
    assert ExperimentConfig().prune.zero_shot_feature == "auto"
    ovr = with_rankers(_table(copositives=0))
    auto = TransferPredictor(mode="zero-shot", feature="auto").fit(ovr)
    assert auto.feature_names_ == [REPRESENTATION, TEXT_EMBEDDING]  # no phi family, no gradient family
    p = auto.predict_proba(ovr)[:, 1]
    flipped = ovr.assign(label_phi=-ovr["label_phi"])
    np.testing.assert_array_equal(auto.predict_proba(flipped)[:, 1], p)  # phi has no say
    same = TransferPredictor(mode="zero-shot", feature="logme+textemb").fit(ovr)
    np.testing.assert_allclose(same.predict_proba(ovr)[:, 1], p)
    # where pairs share positives, phi is one of the families
    co = with_rankers(_table(copositives=3))
    auto_co = TransferPredictor(mode="zero-shot", feature="auto").fit(co)
    assert auto_co.feature_names_ == [LABEL_COOCCURRENCE, REPRESENTATION, TEXT_EMBEDDING]
    three = TransferPredictor(mode="zero-shot", feature="label_phi+logme+textemb").fit(co)
    np.testing.assert_allclose(auto_co.predict_proba(co)[:, 1], three.predict_proba(co)[:, 1])
    assert not np.allclose(auto_co.predict_proba(co.assign(label_phi=-co["label_phi"]))[:, 1],
                           auto_co.predict_proba(co)[:, 1])
    again = TransferPredictor.from_json(auto_co.to_json())
    np.testing.assert_array_equal(again.predict_proba(co), auto_co.predict_proba(co))
    json.loads(auto_co.to_json())
    # the rule before 2026-11-30 16:08 UTC: the gradient family as a fourth
    with_grad = TransferPredictor(mode="zero-shot", feature="auto-with-attribution").fit(co)
    assert with_grad.feature_names_ == [LABEL_COOCCURRENCE, REPRESENTATION, GRADIENT_ATTRIBUTION, TEXT_EMBEDDING]
    four = TransferPredictor(mode="zero-shot", feature="label_phi+logme+signature_only+textemb").fit(co)
    np.testing.assert_allclose(with_grad.predict_proba(co)[:, 1], four.predict_proba(co)[:, 1])


def test_default_rule_per_pair_and_with_missing_families():
    X = with_rankers(_table(copositives=2))
    X.loc[X.index[:4], "label_copositives"] = 0  # these pairs: phi left out, the others keep it
    fam = rule_columns(X)
    assert np.isnan(fam[LABEL_COOCCURRENCE][:4]).all() and np.isfinite(fam[LABEL_COOCCURRENCE][4:]).all()
    only_text = X[["source", "target", "textemb"]]
    p = TransferPredictor(mode="zero-shot", feature="auto").fit(only_text)
    assert p.feature_names_ == [TEXT_EMBEDDING]
    assert np.argmax(p.predict_proba(only_text)[:, 1]) == np.argmax(only_text["textemb"].to_numpy())
    with pytest.raises(PredictorError, match="no signal family"):
        TransferPredictor(mode="zero-shot", feature="auto").fit(X[["source", "target", "random"]])


def test_the_rule_without_attribution_leaves_the_gradient_family_out_and_nothing_else():
    X = with_rankers(_table(copositives=2))
    with_all, without = rule_columns(X, "auto-with-attribution"), rule_columns(X, "auto-no-attribution")
    assert GRADIENT_ATTRIBUTION in with_all and GRADIENT_ATTRIBUTION not in without
    assert set(with_all) - set(without) == {GRADIENT_ATTRIBUTION}
    assert rule_columns(X).keys() == without.keys()  # the default is the rule without it
    p = TransferPredictor(mode="zero-shot", feature="auto-no-attribution").fit(X)
    assert GRADIENT_ATTRIBUTION not in p.feature_names_ and len(p.predict_proba(X)) == len(X)
