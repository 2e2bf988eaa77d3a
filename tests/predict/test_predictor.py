"""TransferPredictor API, JSON round trip, fallbacks and leave-targets-out evaluation."""

import json

import numpy as np
import pandas as pd
import pytest

from raytp.errors import PredictorError
from raytp.predict import (TransferPredictor, ablation, evaluate_leave_targets_out, evaluate_scores,
                           feature_groups, leave_targets_out_proba, ndcg_at_k, regret_at_k)


def pair_table(seed=0, n_tasks=7):
    """Synthetic pairs: gain follows label_phi (+ a signature column), NaNs sprinkled in."""
    rng = np.random.default_rng(seed)
    tasks = [f"t{i}" for i in range(n_tasks)]
    rows = []
    for s in tasks:
        for t in tasks:
            if s != t:
                phi = rng.uniform(-0.2, 0.6)
                sig = phi + rng.normal(0, 0.2)
                gain = 0.08 * phi + rng.normal(0, 0.01)
                rows.append({"source": s, "target": t, "label_phi": phi, "responses/hidden/cka": sig,
                             "source_positives": rng.integers(10, 100), "target_positives": rng.integers(10, 100),
                             "random": rng.random(), "gain": gain, "beneficial": gain > 0.02})
    df = pd.DataFrame(rows)
    df.loc[df.index[::9], "responses/hidden/cka"] = np.nan
    return df


@pytest.mark.parametrize("estimator", ["gbm", "logreg"])
def test_learned_fit_predict_and_learned_attributes(estimator):
    df = pair_table()
    p = TransferPredictor(mode="learned", estimator=estimator, random_state=0)
    assert p.fit(df, df["beneficial"]) is p
    proba = p.predict_proba(df)
    assert proba.shape == (len(df), 2) and np.allclose(proba.sum(1), 1)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert p.mode_ == "learned" and p.fallback_ is None and p.n_train_ == len(df)
    assert "label_phi" in p.feature_names_ and "random" not in p.feature_names_ and "gain" not in p.feature_names_
    assert p.estimator_ is not None
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(df["beneficial"], proba[:, 1]) > 0.8  # in-sample: it learned the signal
    assert p.predict(df).dtype == bool


@pytest.mark.parametrize("estimator", ["gbm", "logreg"])
def test_json_roundtrip_gives_identical_probabilities(estimator):
    df = pair_table()
    p = TransferPredictor(mode="learned", estimator=estimator, random_state=3).fit(df, df["beneficial"])
    text = p.to_json()
    json.loads(text)  # strict JSON (NaN stored as null)
    assert "NaN" not in text
    q = TransferPredictor.from_json(text)
    other = pair_table(seed=5)
    assert np.array_equal(p.predict_proba(other), q.predict_proba(other))
    assert q.feature_names_ == p.feature_names_ and q.get_params() == p.get_params()


def test_zero_shot_ranks_one_feature_without_labels():
    df = pair_table()
    p = TransferPredictor(mode="zero-shot", feature="label_phi").fit(df)
    proba = p.predict_proba(df)[:, 1]
    assert p.feature_names_ == ["label_phi"]
    assert proba.min() == 0.0 and proba.max() == 1.0
    assert np.argmax(proba) == np.argmax(df["label_phi"].to_numpy())
    inv = TransferPredictor(mode="zero-shot", feature="-label_phi").fit(df).predict_proba(df)[:, 1]
    assert np.argmax(inv) == np.argmin(df["label_phi"].to_numpy())
    nan_first = df.copy()
    nan_first.loc[0, "label_phi"] = np.nan
    assert p.predict_proba(nan_first)[0, 1] == 0.0
    assert np.array_equal(TransferPredictor.from_json(p.to_json()).predict_proba(df), p.predict_proba(df))


def test_learned_falls_back_to_zero_shot_with_one_class():
    df = pair_table().head(10)
    p = TransferPredictor(mode="learned", feature="label_phi").fit(df, np.zeros(10, dtype=bool))
    assert p.mode_ == "zero-shot" and "ranking by label_phi" in p.fallback_
    assert p.predict_proba(df).shape == (10, 2)


def test_bad_input_raises_one_line_errors():
    df = pair_table()
    with pytest.raises(PredictorError):
        TransferPredictor(mode="oracle").fit(df, df["beneficial"])
    with pytest.raises(PredictorError):
        TransferPredictor(mode="learned").fit(df, df["beneficial"].head(3))
    with pytest.raises(PredictorError):
        TransferPredictor(mode="zero-shot", feature="nope").fit(df)
    with pytest.raises(PredictorError):
        TransferPredictor().predict_proba(df)
    with pytest.raises(PredictorError):
        TransferPredictor.from_json('{"kind": "something else"}')


class SpyPredictor(TransferPredictor):
    """Records which rows each fold trained on and which it scored."""

    log: list = []

    def fit(self, X, y=None):
        SpyPredictor.log.append(("fit", set(X.index)))
        return super().fit(X, y)

    def predict_proba(self, X):
        SpyPredictor.log.append(("predict", set(X.index)))
        return super().predict_proba(X)


def test_leave_targets_out_never_trains_on_the_held_out_target():
    df = pair_table()
    SpyPredictor.log = []
    proba = leave_targets_out_proba(df, df["beneficial"].to_numpy(), df["target"].to_numpy(),
                                    lambda: SpyPredictor(mode="learned", estimator="logreg"))
    assert np.isfinite(proba).all()
    fits = [rows for kind, rows in SpyPredictor.log if kind == "fit"]
    preds = [rows for kind, rows in SpyPredictor.log if kind == "predict"]
    assert len(fits) == len(preds) == df["target"].nunique()
    for trained, scored in zip(fits, preds):
        held_out = set(df.loc[list(scored), "target"])
        assert len(held_out) == 1
        assert not trained & scored
        assert held_out.isdisjoint(set(df.loc[list(trained), "target"]))


def test_evaluation_metrics_and_ablation():
    df = pair_table()
    y, gains, groups = df["beneficial"].to_numpy(), df["gain"].to_numpy(), df["target"].to_numpy()
    learned = evaluate_leave_targets_out(df, y, gains, groups, TransferPredictor(mode="learned", estimator="logreg"))
    rnd = evaluate_scores(df["random"].to_numpy(), y, gains, groups, keep=learned["kept"])
    assert learned["auc"] > 0.75 and learned["auc"] > rnd["auc"]
    assert learned["regret@1"] <= rnd["regret@1"] + 1e-9
    assert 0 <= learned["ndcg@3"] <= 1 and rnd["kept"] == learned["kept"]
    groups_ = feature_groups(df)
    assert groups_["phi"] == ["label_phi"] and groups_["signatures"] == ["responses/hidden/cka"]
    assert "random" not in groups_["all"]
    table = ablation(df, y, gains, groups, TransferPredictor(mode="learned", estimator="logreg"))
    assert set(table["group"]) >= {"task_stats", "phi", "signatures", "all"}
    by = table.set_index("group")
    assert by.loc["phi", "auc"] > by.loc["task_stats", "auc"]  # positives carry no signal here


def test_regret_and_ndcg_on_known_rankings():
    gains = np.array([0.05, -0.01, 0.02])
    assert regret_at_k(np.array([3, 2, 1]), gains, 1) == 0.0
    assert regret_at_k(np.array([1, 3, 2]), gains, 1) == pytest.approx(0.06)
    assert regret_at_k(np.array([1, 3, 2]), gains, 3) == 0.0
    assert ndcg_at_k(np.array([3, 2, 1]), gains, 3) == pytest.approx((0.05 + 0.02 / 2) / (0.05 + 0.02 / np.log2(3)))
    assert ndcg_at_k(np.array([1, 2, 3]), np.array([0.05, 0.0, 0.02]), 1) == pytest.approx(0.02 / 0.05)
    assert np.isnan(ndcg_at_k(np.array([1, 2]), np.array([-0.1, 0.0]), 2))


def test_zero_shot_mean_rank_of_several_features_is_nan_aware():
    import numpy as np
    import pandas as pd

    from raytp.predict import TransferPredictor
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan], "b": [3.0, 2.0, 1.0, 5.0]})
    p = TransferPredictor(mode="zero-shot", feature="a+b").fit(X).predict_proba(X)[:, 1]
    # mean ranks: (0 + 2/3)/2, (1/2 + 1/3)/2, (1 + 0)/2, b alone (a is NaN) = 1 -> ordered 0 < 1 < 2 < 3
    assert list(np.argsort(p)) == [0, 1, 2, 3]
    q = TransferPredictor(mode="zero-shot", feature="a+-b").fit(X).predict_proba(X)[:, 1]
    assert q[3] == 0.0 and q[2] == 1.0  # row 3 has the lowest -b and no a
    assert TransferPredictor(mode="zero-shot", feature="a+b").fit(X).feature_names_ == ["a", "b"]
