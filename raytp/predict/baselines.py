"""Baselines a transfer predictor must beat, each a score per ordered pair (higher = more promising).

- ``random``: a seeded random ranking.
- ``label_phi``: phi (Matthews) correlation between the two tasks' labels on examples annotated for
  both; the strongest cheap signal inside one corpus, absent across corpora.
- ``textemb``: cosine between mean sentence embeddings of each task's positive examples (Vu et al.
  2020, TextEmb); computed by ``raytp.profiling.textemb``.
- ``logme``: LogME (You et al., ICML 2021), the evidence of a Bayesian linear model of the source
  model's features for the target's labels.
- ``signature_only``: the mean rank of the gradient-attribution similarity columns (zero-shot, no
  labels, no other family); ``task_statistics``: the mean rank of fewer target positives, more
  source positives and a lower target single-task F1 (``raytp.predict.families``).

``BASELINES`` maps each baseline name to its column in the pair feature table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from raytp.data.dataset import MISSING
from raytp.errors import PredictorError

BASELINES: dict[str, str] = {"random": "random", "label_phi": "label_phi", "textemb": "textemb", "logme": "logme",
                             "signature_only": "signature_only", "task_statistics": "task_statistics"}


def random_scores(pairs: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Uniform random scores, one per row of ``pairs``, reproducible from ``seed``."""
    return np.random.default_rng(seed).random(len(pairs))


def phi(a: np.ndarray, b: np.ndarray) -> float:
    """Phi coefficient of two label vectors over the entries where neither is ``MISSING`` (-1).

    NaN (not zero) when they share no annotated example or either is constant there."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise PredictorError(f"label vectors differ in length: {a.shape} vs {b.shape}")
    ok = (a != MISSING) & (b != MISSING)
    if not ok.any():
        return float("nan")
    x = (a[ok] == 1).astype(np.float64)
    y = (b[ok] == 1).astype(np.float64)
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return float("nan")
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def label_phi_matrix(labels: np.ndarray, tasks: list[str]) -> pd.DataFrame:
    """Symmetric tasks x tasks frame of ``phi`` between label columns (n_examples x n_tasks, -1 = missing)."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != len(tasks):
        raise PredictorError(f"labels of shape {labels.shape} do not match {len(tasks)} tasks")
    m = np.full((len(tasks), len(tasks)), np.nan)
    for i in range(len(tasks)):
        for j in range(i, len(tasks)):
            m[i, j] = m[j, i] = phi(labels[:, i], labels[:, j])
    return pd.DataFrame(m, index=tasks, columns=tasks)


def _evidence(y: np.ndarray, proj: np.ndarray, sigma: np.ndarray, n: int, d: int, max_iter: int = 100,
              tol: float = 1e-3) -> float:
    """Maximised log evidence per example of y ~ N(f w, 1/beta), w ~ N(0, 1/alpha) (fixed-point updates).

    ``sigma`` are the eigenvalues of f^T f and ``proj`` = V^T f^T y in its eigenbasis."""
    eps = 1e-5
    alpha, beta = 1.0, 1.0
    yy = float(y @ y)
    for _ in range(max_iter):
        lam = alpha / beta
        gamma = float((sigma / (sigma + lam)).sum())
        m = proj / (sigma + lam)  # posterior mean of w in the eigenbasis
        m2 = float((m * m).sum())
        # residual ||y - f m||^2 = y.y - 2 m.proj + m^T diag(sigma) m
        res2 = max(yy - 2 * float(m @ proj) + float((sigma * m * m).sum()), 0.0)
        alpha = gamma / (m2 + eps)
        beta = max(n - gamma, eps) / (res2 + eps)
        if abs(alpha / beta - lam) / lam < tol:
            break
    lam = alpha / beta
    m = proj / (sigma + lam)
    m2 = float((m * m).sum())
    res2 = max(yy - 2 * float(m @ proj) + float((sigma * m * m).sum()), 0.0)
    ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * sigma))
          - beta / 2 * res2 - alpha / 2 * m2 - n / 2 * np.log(2 * np.pi))
    return float(ev / n)


def logme(features: np.ndarray, y: np.ndarray) -> float:
    """LogME of ``features`` (n x d) for integer labels ``y`` (``MISSING`` rows are dropped).

    The mean over classes of the maximised evidence of a Bayesian linear regression onto the
    class indicator. Higher means the features predict the labels better. NaN with fewer than two
    classes or two examples."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(y)
    if f.ndim != 2 or f.shape[0] != len(y):
        raise PredictorError(f"LogME needs n x d features and n labels, got {f.shape} and {y.shape}")
    keep = y != MISSING
    f, y = f[keep], y[keep]
    classes = np.unique(y)
    if len(classes) < 2 or len(y) < 2:
        return float("nan")
    n, d = f.shape
    sigma, v = np.linalg.eigh(f.T @ f)
    sigma = np.clip(sigma, 0.0, None)
    return float(np.mean([_evidence((y == c).astype(np.float64), v.T @ (f.T @ (y == c).astype(np.float64)),
                                    sigma, n, d) for c in classes]))
