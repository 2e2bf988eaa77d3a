"""The lockstep Fitter, the validation-tuned threshold and the fit wrapper built on them."""

from __future__ import annotations

import numpy as np

from raytp.models.metrics import binary_scores
from raytp.models.training import best_threshold


def _brute_force_f1(y: np.ndarray, p: np.ndarray) -> float:
    return max(binary_scores(y, p >= t)["f1"] for t in np.unique(np.concatenate([p, [np.inf]])))


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.random(200) < 0.1
        p = np.round(rng.random(200) * 0.5 + 0.3 * y, 2)  # ties on purpose
        thr = best_threshold(y, p)
        assert abs(binary_scores(y, p >= thr)["f1"] - _brute_force_f1(y, p)) < 1e-12


def test_best_threshold_without_positives_is_half():
    assert best_threshold(np.zeros(5), np.linspace(0, 1, 5)) == 0.5


def test_fitter_lockstep_equals_fit(small_cfg, disaster):
    """Advancing a Fitter epoch by epoch gives the same model as ``fit``; threshold tuned on validation."""
    import torch
    from raytp.models.registry import make_backend
    from raytp.models.single import eval_sets, target_part
    from raytp.models.training import Fitter, HParams, fit
    ds = disaster.select_tasks(small_cfg.data.tasks)
    be = make_backend(small_cfg.backend)
    feats = be.featurize(ds.texts)
    val, _ = eval_sets(ds, "food", small_cfg)
    hp = HParams.from_config(small_cfg.train)
    assert hp.tune_threshold
    m1 = be.new_model(["food"], 0)
    r1 = fit(m1, be, feats, [target_part(ds, "food", small_cfg)], val, hp, seed=0)
    m2 = be.new_model(["food"], 0)
    f = Fitter(m2, be, feats, [target_part(ds, "food", small_cfg)], val, hp, seed=0)
    while not f.done:
        f.run_epoch()
    r2 = f.result()
    assert r1.val == r2.val and r1.best_epoch == r2.best_epoch and r1.threshold == r2.threshold
    assert r1.threshold != 0.5
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
