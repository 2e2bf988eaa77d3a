"""TransferPredictor: pair features -> P(beneficial), scikit-learn style, saved as JSON (never pickle).

Modes:
- ``zero-shot``: ranks pairs by one feature (``feature``; prefix ``-`` for lower-is-better), or by
  the mean rank of several (``"label_phi+logme+textemb"``), or by the default rule (``"auto"``: the
  mean rank of whichever signal families the pair has, ``raytp.predict.families.RULE``). The probability is the rank scaled
  into [0, 1] over the rows passed to ``predict_proba`` (ties share their mean rank; a feature that
  is NaN for a row is left out of that row's mean, and a row with no finite feature ranks lowest at
  0). ``fit`` needs no labels and only records the features.
- ``learned``: ``estimator="gbm"`` (HistGradientBoostingClassifier, NaN-aware, class-balanced) or
  ``"logreg"`` (median imputation + missing indicators + standardisation + balanced logistic
  regression). With fewer than ``min_class`` examples of either class the learned mode falls back
  to zero-shot (``fallback_`` says why): a calibration sample may hold no beneficial pair at all.

JSON: logreg stores its coefficients, imputation medians and scaler; gbm stores its training rows
and refits deterministically on load (same data, same ``random_state`` -> same trees).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from raytp.errors import PredictorError
from raytp.predict.families import AUTO_RULES, RANKER_COLUMNS, rule_columns
from raytp.predict.ranks import mean_rank, rank_scale

ESTIMATORS = ("gbm", "logreg")
MODES = ("zero-shot", "learned")  # prune.predictor atlas is the learned mode trained on an atlas
NON_FEATURES = frozenset({"source", "target", "random", "gain", "gain_val", "gain_sd", "beneficial", "harmful",
                          "probability", *RANKER_COLUMNS})  # the rankers' columns are ranks over one table


def default_features(X: pd.DataFrame) -> list[str]:
    """Numeric columns of a pair table that a learned predictor may use (not ids, outcomes or ``random``)."""
    return [c for c in X.columns if c not in NON_FEATURES and pd.api.types.is_numeric_dtype(X[c])
            and not pd.api.types.is_bool_dtype(X[c])]


def _one_thread():
    """Pair tables are tiny: OpenMP threads only add overhead (and contend with training)."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1)


def _finite_or_nan(a: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(a), a, np.nan)


def _nan_to_none(rows: list[list[float]]) -> list[list[float | None]]:
    return [[None if (isinstance(x, float) and math.isnan(x)) else x for x in r] for r in rows]


def _none_to_nan(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if x is None else x for x in r] for r in rows], dtype=np.float64).reshape(len(rows), -1)


class TransferPredictor:
    """Predicts whether a (source, target) pair is beneficial from its pair features."""

    def __init__(self, mode: str = "learned", feature: str = "label_phi", threshold: float = 0.5,
                 estimator: str = "gbm", features: list[str] | None = None, random_state: int = 0,
                 min_class: int = 2):
        self.mode = mode
        self.feature = feature
        self.threshold = threshold
        self.estimator = estimator
        self.features = features
        self.random_state = random_state
        self.min_class = min_class

    # -- scikit-learn protocol ----------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("mode", "feature", "threshold", "estimator", "features",
                                              "random_state", "min_class")}

    def set_params(self, **params: Any) -> "TransferPredictor":
        for k, v in params.items():
            if k not in self.get_params():
                raise PredictorError(f"unknown predictor parameter {k!r}")
            setattr(self, k, v)
        return self

    def _check_params(self) -> None:
        if self.mode not in MODES:
            raise PredictorError(f"unknown predictor mode {self.mode!r}; use {' or '.join(MODES)}")
        if self.estimator not in ESTIMATORS:
            raise PredictorError(f"unknown estimator {self.estimator!r}; use {' or '.join(ESTIMATORS)}")
        if not 0 <= self.threshold <= 1:
            raise PredictorError(f"threshold must be in [0, 1], got {self.threshold}")

    def _zero_shot_terms(self) -> list[tuple[str, float]]:
        """(column, sign) for each ``+``-separated term of ``feature``; ``-`` prefix = lower is better."""
        terms = [t.strip() for t in self.feature.split("+") if t.strip()]
        if not terms:
            raise PredictorError(f"zero-shot feature {self.feature!r} names no column")
        return [(t[1:], -1.0) if t.startswith("-") else (t, 1.0) for t in terms]

    def _zero_shot_column(self) -> str:
        return self._zero_shot_terms()[0][0]

    def _zero_shot_scores(self, X: pd.DataFrame) -> np.ndarray:
        if self.feature in AUTO_RULES:
            families = rule_columns(X, self.feature)
            return rank_scale(mean_rank(list(families.values()))) if families else np.zeros(len(X))
        terms = self._zero_shot_terms()
        mean = mean_rank([sign * X[col].to_numpy(dtype=np.float64) for col, sign in terms])
        return rank_scale(mean) if len(terms) > 1 else np.nan_to_num(mean, nan=0.0)

    def _require(self, X: pd.DataFrame, cols: list[str]) -> None:
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise PredictorError(f"pair features lack column(s) {missing[:5]}")

    def fit(self, X: pd.DataFrame, y: Any = None) -> "TransferPredictor":
        """Learn from pair features ``X`` and outcomes ``y`` (bool/0-1); zero-shot ignores ``y``."""
        self._check_params()
        self.fallback_: str | None = None
        self.mode_ = self.mode
        if self.mode == "learned":
            if y is None:
                raise PredictorError("the learned predictor needs outcomes y")
            yv = np.asarray(y).astype(np.int64).ravel()
            if len(yv) != len(X):
                raise PredictorError(f"{len(X)} feature rows but {len(yv)} outcomes")
            counts = np.bincount(yv, minlength=2)
            if counts.min() < self.min_class:
                self.mode_ = "zero-shot"
                self.fallback_ = (f"only {counts[1]} beneficial and {counts[0]} other pairs to learn from "
                                  f"(< {self.min_class} of a class): ranking by {self.feature} instead")
        if self.mode_ == "zero-shot" and self.feature in AUTO_RULES:
            self.feature_names_ = list(rule_columns(X, self.feature))  # the families found; at predict time the rule re-reads X
            if not self.feature_names_:
                raise PredictorError("the default rule found no signal family (label_phi, logme, gradient-attribution "
                                     "signatures, textemb) in the pair table")
            self.n_train_ = int(len(X))
            return self
        if self.mode_ == "zero-shot":
            self.feature_names_ = [c for c, _ in self._zero_shot_terms()]
            self._require(X, self.feature_names_)
            self.n_train_ = int(len(X))
            return self
        names = list(self.features) if self.features is not None else default_features(X)
        if not names:
            raise PredictorError("no numeric pair features to learn from")
        self._require(X, names)
        Xv = _finite_or_nan(X[names].to_numpy(dtype=np.float64))
        # a feature missing on every training pair (e.g. label_phi when all of them cross corpora) teaches
        # nothing and breaks gbm binning: leave it out
        has_value = ~np.isnan(Xv).all(axis=0)
        if not has_value.any():
            raise PredictorError(f"every pair feature is missing (NaN) on all {len(X)} training pairs")
        names = [n for n, ok in zip(names, has_value) if ok]
        Xv = Xv[:, has_value]
        self.feature_names_ = names
        self.n_train_ = int(len(X))
        if self.estimator == "gbm":
            self.train_X_, self.train_y_ = Xv, yv
            self.estimator_ = self._fit_gbm(Xv, yv)
        else:
            self._fit_logreg(Xv, yv)
        return self

    def _fit_gbm(self, Xv: np.ndarray, yv: np.ndarray):
        from sklearn.ensemble import HistGradientBoostingClassifier
        est = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=8, max_depth=3,
                                             min_samples_leaf=max(2, len(yv) // 20), l2_regularization=1.0,
                                             class_weight="balanced", early_stopping=False,
                                             random_state=self.random_state)
        with _one_thread():
            return est.fit(Xv, yv)

    def _fit_logreg(self, Xv: np.ndarray, yv: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression
        med = np.nanmedian(np.where(np.isfinite(Xv), Xv, np.nan), axis=0)
        self.medians_ = np.where(np.isfinite(med), med, 0.0)
        Z = self._logreg_design(Xv)
        self.scale_mean_ = Z.mean(0)
        sd = Z.std(0)
        self.scale_sd_ = np.where(sd > 0, sd, 1.0)
        lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        lr.fit((Z - self.scale_mean_) / self.scale_sd_, yv)
        self.coef_ = lr.coef_.ravel().astype(np.float64)
        self.intercept_ = float(lr.intercept_[0])
        self.estimator_ = lr

    def _logreg_design(self, Xv: np.ndarray) -> np.ndarray:
        missing = np.isnan(Xv)
        filled = np.where(missing, self.medians_, Xv)
        return np.hstack([filled, missing.astype(np.float64)])

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_"):
            raise PredictorError("the predictor is not fitted: call fit first (or load one)")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2) array: P(not beneficial), P(beneficial) per row of ``X``."""
        self._check_fitted()
        if not (self.mode_ == "zero-shot" and self.feature in AUTO_RULES):
            self._require(X, self.feature_names_)
        if self.mode_ == "zero-shot":
            p = self._zero_shot_scores(X)
        else:
            Xv = _finite_or_nan(X[self.feature_names_].to_numpy(dtype=np.float64))
            if self.estimator == "gbm":
                with _one_thread():
                    p = self.estimator_.predict_proba(Xv)[:, 1]
            else:
                z = (self._logreg_design(Xv) - self.scale_mean_) / self.scale_sd_ @ self.coef_ + self.intercept_
                p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Beneficial (True) where P(beneficial) >= ``threshold``."""
        return self.predict_proba(X)[:, 1] >= self.threshold

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description that ``from_dict`` turns back into the same predictor."""
        self._check_fitted()
        d: dict[str, Any] = {"kind": "TransferPredictor", "version": 1, "params": self.get_params(),
                             "mode_": self.mode_, "fallback_": self.fallback_, "feature_names_": self.feature_names_,
                             "n_train_": self.n_train_}
        if self.mode_ == "learned" and self.estimator == "gbm":
            d["train_X"] = _nan_to_none(self.train_X_.tolist())
            d["train_y"] = self.train_y_.tolist()
        elif self.mode_ == "learned":
            d.update(medians=self.medians_.tolist(), scale_mean=self.scale_mean_.tolist(),
                     scale_sd=self.scale_sd_.tolist(), coef=self.coef_.tolist(), intercept=self.intercept_)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TransferPredictor":
        if not isinstance(d, dict) or d.get("kind") != "TransferPredictor":
            raise PredictorError("not a saved TransferPredictor (missing kind)")
        try:
            self = cls(**d["params"])
            self._check_params()
            self.mode_, self.fallback_ = d["mode_"], d["fallback_"]
            self.feature_names_, self.n_train_ = list(d["feature_names_"]), int(d["n_train_"])
            if self.mode_ == "learned" and self.estimator == "gbm":
                self.train_X_ = _none_to_nan(d["train_X"])
                self.train_y_ = np.asarray(d["train_y"], dtype=np.int64)
                self.estimator_ = self._fit_gbm(self.train_X_, self.train_y_)
            elif self.mode_ == "learned":
                self.medians_ = np.asarray(d["medians"], dtype=np.float64)
                self.scale_mean_ = np.asarray(d["scale_mean"], dtype=np.float64)
                self.scale_sd_ = np.asarray(d["scale_sd"], dtype=np.float64)
                self.coef_ = np.asarray(d["coef"], dtype=np.float64)
                self.intercept_ = float(d["intercept"])
                self.estimator_ = None
        except (KeyError, TypeError, ValueError) as e:
            raise PredictorError(f"saved predictor is malformed ({type(e).__name__}: {e})") from None
        return self

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "TransferPredictor":
        try:
            d = json.loads(text)
        except json.JSONDecodeError:
            raise PredictorError("saved predictor is not valid JSON") from None
        return cls.from_dict(d)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"TransferPredictor({params})"


def clone(predictor: TransferPredictor) -> TransferPredictor:
    """An unfitted copy with the same parameters."""
    return TransferPredictor(**predictor.get_params())


def score_pairs(predictor: TransferPredictor, X: pd.DataFrame) -> pd.DataFrame:
    """Frame (source, target, probability) of a fitted predictor over a pair table."""
    if not {"source", "target"} <= set(X.columns):
        raise PredictorError("pair table lacks the source/target columns")
    return pd.DataFrame({"source": X["source"].to_numpy(), "target": X["target"].to_numpy(),
                         "probability": predictor.predict_proba(X)[:, 1]})
