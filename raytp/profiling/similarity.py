"""Similarities between two signatures (pure numpy). Each returns a float; NaN when undefined.

Vector measures (``cosine``, ``spearman``, ``topk_overlap``) compare neuron importance and only
mean something when neuron i of one model corresponds to neuron i of the other (models sharing
one initialisation). Matrix measures over probe responses (``linear_cka``, ``rsa``) compare
examples x neurons matrices and are invariant to permuting (CKA: any orthogonal map) neurons.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import rankdata

from raytp.errors import ProfilingError


def _vec(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).ravel()


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ProfilingError(f"cannot compare signatures of shapes {a.shape} and {b.shape}")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two (flattened) signatures."""
    a, b = _vec(a), _vec(b)
    _same_shape(a, b)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _vec(a), _vec(b)
    _same_shape(a, b)
    return cosine(a - a.mean(), b - b.mean()) if len(a) > 1 else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    a, b = _vec(a), _vec(b)
    _same_shape(a, b)
    return pearson(rankdata(a), rankdata(b))


def top_indices(a: np.ndarray, share: float) -> np.ndarray:
    """Indices of the ``ceil(share * n)`` entries of largest magnitude (ties broken by index)."""
    a = _vec(a)
    if not 0 < share <= 1:
        raise ProfilingError(f"top-k share must be in (0, 1], got {share}")
    k = max(1, int(np.ceil(share * len(a))))
    return np.sort(np.argsort(-np.abs(a), kind="stable")[:k])


def topk_overlap(a: np.ndarray, b: np.ndarray, share: float = 0.1) -> float:
    """Jaccard overlap of the two signatures' top ``share`` neurons by magnitude."""
    a, b = _vec(a), _vec(b)
    _same_shape(a, b)
    ta, tb = set(top_indices(a, share).tolist()), set(top_indices(b, share).tolist())
    return len(ta & tb) / len(ta | tb)


def _matrix(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ProfilingError(f"expected an examples x neurons matrix, got shape {x.shape}")
    return x


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al., 2019) between two examples x neurons matrices on the same examples."""
    x, y = _matrix(x), _matrix(y)
    if x.shape[0] != y.shape[0]:
        raise ProfilingError(f"CKA needs the same examples: {x.shape[0]} vs {y.shape[0]} rows")
    x = x - x.mean(0)
    y = y - y.mean(0)
    xx = np.linalg.norm(x.T @ x)
    yy = np.linalg.norm(y.T @ y)
    if xx == 0 or yy == 0:
        return float("nan")
    return float(np.linalg.norm(y.T @ x) ** 2 / (xx * yy))


def rdm(x: np.ndarray) -> np.ndarray:
    """Representational dissimilarity (condensed): 1 - Pearson r between examples' responses.

    Examples whose responses are constant have undefined distances (NaN)."""
    x = _matrix(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pdist(x, metric="correlation")


def rsa(x: np.ndarray, y: np.ndarray) -> float:
    """Representational similarity analysis: Spearman between the two models' RDMs over the same examples."""
    x, y = _matrix(x), _matrix(y)
    if x.shape[0] != y.shape[0]:
        raise ProfilingError(f"RSA needs the same examples: {x.shape[0]} vs {y.shape[0]} rows")
    return rdm_similarity(rdm(x), rdm(y))


def rdm_similarity(dx: np.ndarray, dy: np.ndarray) -> float:
    """Spearman between two condensed RDMs, over the entries defined in both."""
    ok = np.isfinite(dx) & np.isfinite(dy)
    return spearman(dx[ok], dy[ok]) if ok.sum() > 2 else float("nan")


class PreparedMatrix:
    """One examples x neurons matrix prepared once for many CKA / RSA comparisons."""

    def __init__(self, x: np.ndarray):
        x = _matrix(x)
        self.n = x.shape[0]
        self.centered = x - x.mean(0)
        self.gram_norm = float(np.linalg.norm(self.centered.T @ self.centered))
        self.rdm = rdm(x)
        finite = np.isfinite(self.rdm).all() and len(self.rdm) > 2
        r = rankdata(self.rdm) if finite else None
        self.rank_z = (r - r.mean()) / r.std() if r is not None and r.std() > 0 else None

    def cka(self, other: "PreparedMatrix") -> float:
        """Same value as ``linear_cka`` on the two original matrices."""
        if self.n != other.n:
            raise ProfilingError(f"CKA needs the same examples: {self.n} vs {other.n} rows")
        if self.gram_norm == 0 or other.gram_norm == 0:
            return float("nan")
        return float(np.linalg.norm(other.centered.T @ self.centered) ** 2 / (self.gram_norm * other.gram_norm))

    def rsa(self, other: "PreparedMatrix") -> float:
        """Same value as ``rsa`` on the two original matrices."""
        if self.n != other.n:
            raise ProfilingError(f"RSA needs the same examples: {self.n} vs {other.n} rows")
        if self.rank_z is not None and other.rank_z is not None:
            return float(np.mean(self.rank_z * other.rank_z))
        return rdm_similarity(self.rdm, other.rdm)
