"""Baselines: phi on known labels, LogME prefers informative features, seeded random ranking."""

import numpy as np
import pandas as pd
import pytest

from raytp.errors import PredictorError
from raytp.predict.baselines import label_phi_matrix, logme, phi, random_scores


def test_phi_known_values_and_missing():
    a = np.array([1, 0, 1, 0, 1, 0])
    assert phi(a, a) == pytest.approx(1.0)
    assert phi(a, 1 - a) == pytest.approx(-1.0)
    assert phi([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.0)
    assert np.isnan(phi([1, 0, -1, -1], [-1, -1, 1, 0]))  # no shared annotation: NaN, not 0
    assert phi([1, 0, 1, -1], [1, 0, 1, 0]) == pytest.approx(1.0)  # the missing row is ignored
    with pytest.raises(PredictorError):
        phi([1, 0], [1, 0, 1])


def test_phi_matrix_symmetric():
    labels = np.array([[1, 1, 0], [0, 0, 1], [1, 1, 1], [0, 1, 0]])
    m = label_phi_matrix(labels, ["a", "b", "c"])
    assert np.allclose(m.to_numpy(), m.to_numpy().T, equal_nan=True)
    assert m.loc["a", "a"] == pytest.approx(1.0)


def test_logme_higher_for_informative_features_than_noise():
    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 2, n)
    informative = np.column_stack([y + 0.3 * rng.normal(size=n), rng.normal(size=(n, 7))])
    noise = rng.normal(size=(n, 8))
    assert logme(informative, y) > logme(noise, y) + 0.1
    weak = np.column_stack([y + 2.0 * rng.normal(size=n), rng.normal(size=(n, 7))])
    assert logme(informative, y) > logme(weak, y) > logme(noise, y) - 0.05


def test_logme_handles_wide_features_missing_labels_and_one_class():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(20, 64))  # d > n
    y = rng.integers(0, 2, 20)
    assert np.isfinite(logme(f, y))
    y2 = y.copy()
    y2[:5] = -1
    assert logme(f, y2) == pytest.approx(logme(f[5:], y[5:]))
    assert np.isnan(logme(f, np.ones(20, dtype=int)))


def test_random_scores_seeded():
    pairs = pd.DataFrame({"source": list("abc"), "target": list("bca")})
    assert np.array_equal(random_scores(pairs, 3), random_scores(pairs, 3))
    assert not np.array_equal(random_scores(pairs, 3), random_scores(pairs, 4))
