"""One Optuna TPE study per target (pure, no Ray): the pruned search's sampler, like with like.

``TargetStudies`` hands out trials in a fixed, resumable schedule: targets take turns (so concurrent
trials span targets), and inside a target each kept pair is first tried at the warm-start point
(the grid's first point), then TPE samples ``search.space`` for the target's further trials, the
most probable pairs first, each pair as often as its allocation says. Every trial of a target is
told to that target's study only, so TPE learns from the target's earlier trials and never compares
gains over different baselines. The live search (``raytp.runtime.per_target``) and the ablation's
exact simulation (``benchmarks/pruned_vs_full.py``) drive the same object.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from raytp.search.distributions import suggest


def schedule(allocation: list[dict[str, Any]]) -> dict[str, list[tuple[str, bool]]]:
    """Per target, the order of its trials as (source, warm): every kept pair's warm trial (most probable
    first), then the further trials, pairs taking turns most probable first while they have allocation left."""
    by_target: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(allocation, key=lambda p: (-float(p.get("probability", 0.0)), p["source"], p["target"])):
        if int(p.get("trials", 1)) >= 1:
            by_target.setdefault(p["target"], []).append(p)
    out: dict[str, list[tuple[str, bool]]] = {}
    for target, pairs in by_target.items():
        order = [(p["source"], True) for p in pairs]
        left = {p["source"]: int(p.get("trials", 1)) - 1 for p in pairs}
        while any(left.values()):
            for p in pairs:
                if left[p["source"]] > 0:
                    order.append((p["source"], False))
                    left[p["source"]] -= 1
        out[target] = order
    return out


class TargetStudies:
    """Per-target TPE studies over ``space`` (normalised ``search.space``), driven by ``ask``/``tell``.

    ``warm``: the warm-start point (unresolved), ``fixed``: values added to every point (e.g. the epochs
    ASHA allocates up to). ``n_startup``: trials a study samples at random before TPE models it."""

    def __init__(self, space: dict[str, dict[str, Any]], allocation: list[dict[str, Any]], seed: int,
                 warm: dict[str, Any] | None = None, fixed: dict[str, Any] | None = None, n_startup: int = 2,
                 sampler: str = "tpe"):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.init_args = {"space": space, "allocation": allocation, "seed": seed, "warm": warm, "fixed": fixed,
                          "n_startup": n_startup, "sampler": sampler}
        self.space, self.warm, self.fixed = space, dict(warm or {}), dict(fixed or {})
        self.order = schedule(allocation)
        self.targets = sorted(self.order)
        self.next_index = {t: 0 for t in self.targets}
        self.turn = 0
        self.studies = {t: optuna.create_study(direction="maximize",
                                               sampler=_sampler(sampler, seed + zlib.crc32(t.encode()) % 100_000,
                                                                n_startup))
                        for t in self.targets}
        self.pending: dict[str, tuple[str, Any]] = {}
        self.told: dict[str, list[float]] = {t: [] for t in self.targets}

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.order.values())

    def remaining(self) -> int:
        return sum(len(self.order[t]) - self.next_index[t] for t in self.targets)

    def ask(self, key: str) -> dict[str, Any] | None:
        """The next trial as {"target", "source", "warm", "point"} (None when the schedule is spent)."""
        for _ in range(len(self.targets)):
            target = self.targets[self.turn % len(self.targets)]
            self.turn += 1
            i = self.next_index[target]
            if i < len(self.order[target]):
                self.next_index[target] = i + 1
                source, warm = self.order[target][i]
                study = self.studies[target]
                if warm and self.warm:
                    study.enqueue_trial(self._warm_params(), skip_if_exists=False)
                trial = study.ask()
                point = suggest(trial, self.space, self.fixed)
                trial.set_user_attr("source", source)
                self.pending[key] = (target, trial)
                return {"target": target, "source": source, "warm": warm, "point": point}
        return None

    def _warm_params(self) -> dict[str, Any]:
        mode = self.warm.get("mode", "multitask")
        keep = {"mode"} | {k for k, s in self.space.items() if s.get("when", {}).get("mode", mode) == mode}
        return {k: v for k, v in self.warm.items() if k in keep and k in self.space}

    def tell(self, key: str, value: float | None) -> None:
        """The trial's final (or last reported) validation gain; None or NaN: failed."""
        import optuna
        if key not in self.pending:
            return
        target, trial = self.pending.pop(key)
        study = self.studies[target]
        if value is None or not math.isfinite(float(value)):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, float(value))
            self.told[target].append(float(value))


    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON (no pickle): constructor arguments, schedule position and every finished trial.
        Trials in flight are not kept: a resumed search re-runs them, and ``tell`` ignores their old keys."""
        from optuna.distributions import distribution_to_json
        from optuna.trial import TrialState
        done = {t: [{"params": tr.params, "value": tr.value, "state": tr.state.name, "user_attrs": tr.user_attrs,
                     "distributions": {k: distribution_to_json(d) for k, d in tr.distributions.items()}}
                    for tr in s.trials if tr.state in (TrialState.COMPLETE, TrialState.FAIL)]
                for t, s in self.studies.items()}
        return {"init": self.init_args, "next_index": self.next_index, "turn": self.turn, "told": self.told,
                "trials": done}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> "TargetStudies":
        """Rebuild from ``to_json``: the same schedule position, each study told its finished trials again."""
        import optuna
        from optuna.distributions import json_to_distribution
        self = cls(**state["init"])
        self.next_index = {t: int(i) for t, i in state["next_index"].items()}
        self.turn, self.told = int(state["turn"]), {t: list(v) for t, v in state["told"].items()}
        for target, trials in state["trials"].items():
            for tr in trials:
                failed = tr["state"] == "FAIL"
                self.studies[target].add_trial(optuna.trial.create_trial(
                    params=tr["params"], value=None if failed else tr["value"],
                    state=optuna.trial.TrialState[tr["state"]], user_attrs=tr["user_attrs"],
                    distributions={k: json_to_distribution(d) for k, d in tr["distributions"].items()}))
        return self


def _sampler(kind: str, seed: int, n_startup: int) -> Any:
    import warnings

    import optuna
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():  # multivariate / group / constant_liar are flagged experimental
        warnings.simplefilter("ignore")
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True, group=True,
                                          constant_liar=True)
