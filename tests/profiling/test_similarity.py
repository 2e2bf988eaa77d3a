"""Similarity measures on inputs whose answer is known."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from raytp.errors import ProfilingError
from raytp.profiling.similarity import cosine, linear_cka, rsa, spearman, top_indices, topk_overlap


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_cosine_known_values(rng):
    a = rng.normal(size=20)
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine(a, 3 * a) == pytest.approx(1.0)
    assert np.isnan(cosine(np.zeros(3), [1, 2, 3]))


def test_spearman_is_rank_based(rng):
    a = rng.normal(size=30)
    assert spearman(a, np.exp(a)) == pytest.approx(1.0)  # monotone transform keeps ranks
    assert spearman(a, -a ** 3) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, np.ones(30)))


def test_shape_mismatch_raises():
    with pytest.raises(ProfilingError):
        cosine(np.ones(3), np.ones(4))


def test_topk_overlap_identical_disjoint_partial():
    a = np.array([9, 8, 0, 0, 0, 0, 0, 0, 0, 0.0])
    b = np.array([0, 0, 0, 0, 0, 0, 0, 0, 7, 6.0])
    assert topk_overlap(a, a, 0.2) == 1.0
    assert topk_overlap(a, b, 0.2) == 0.0
    c = np.array([9, 0, 0, 0, 0, 0, 0, 0, 7, 0.0])
    assert topk_overlap(a, c, 0.2) == pytest.approx(1 / 3)  # {0,1} vs {0,8}
    assert list(top_indices(-a, 0.2)) == [0, 1]  # by magnitude


def test_cka_identity_orthogonal_and_scaling_invariance(rng):
    x = rng.normal(size=(100, 12))
    q = ortho_group.rvs(12, random_state=1)
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 5.0 * x @ q) == pytest.approx(1.0)
    y = rng.normal(size=(100, 12))
    assert linear_cka(x, y) < 0.3
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))


def test_cka_not_invariant_to_anisotropic_scaling(rng):
    x = rng.normal(size=(100, 6))
    assert linear_cka(x, x * np.array([10, 1, 1, 1, 1, 0.1])) < 0.9


def test_rsa_invariant_to_neuron_permutation_and_scale(rng):
    x = rng.normal(size=(40, 16))
    perm = rng.permutation(16)
    assert rsa(x, 2.0 * x[:, perm]) == pytest.approx(1.0)
    assert abs(rsa(x, rng.normal(size=(40, 16)))) < 0.2


def test_rsa_and_cka_need_same_examples(rng):
    with pytest.raises(ProfilingError):
        rsa(rng.normal(size=(5, 3)), rng.normal(size=(6, 3)))
    with pytest.raises(ProfilingError):
        linear_cka(rng.normal(size=(5, 3)), rng.normal(size=(6, 3)))


def test_prepared_matrices_match_direct_measures(rng):
    from raytp.profiling.similarity import PreparedMatrix
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 7))
    y[:, 0] = x[:, 0]
    px, py = PreparedMatrix(x), PreparedMatrix(y)
    assert px.cka(py) == pytest.approx(linear_cka(x, y))
    assert px.rsa(py) == pytest.approx(rsa(x, y))
    z = y.copy()
    z[3] = 1.0  # a constant row: undefined distances, slow path
    assert PreparedMatrix(z).rsa(px) == pytest.approx(rsa(z, x))
