"""The pruned search's Tune searcher and scheduler: like compared with like, one target at a time.

- ``PerTargetSearcher``: Tune's side of ``raytp.search.tpe.TargetStudies`` (one Optuna TPE study per
  target, trials allocated by the predictor); its state is saved with the experiment, so ``--resume``
  continues the same studies.
- ``PerTargetASHA``: one ASHA per target: a trial is only ever compared with trials of its own target
  (gains over different single-task baselines are not comparable). Warm-start trials (a kept pair's
  first trial, at the grid's first point) can be protected: they report to their target's rungs but
  run until the trainer's own early stopping.
"""

from __future__ import annotations

import json
from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from raytp.search.tpe import TargetStudies


def _target(trial: Any) -> str:
    return str(trial.config["pair"]).split(">")[1]


class PerTargetSearcher(Searcher):
    """Suggests {"pair": "source>target", "_warm": bool, **point} from per-target TPE studies."""

    def __init__(self, studies: TargetStudies, metric: str = "gain_val", mode: str = "max"):
        super().__init__(metric=metric, mode=mode)
        self.studies = studies

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        t = self.studies.ask(trial_id)
        if t is None:
            return Searcher.FINISHED
        return {"pair": f"{t['source']}>{t['target']}", "_warm": bool(t["warm"]), **t["point"]}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        value = None if error or not result else result.get(self.metric)
        self.studies.tell(trial_id, value)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w", encoding="utf-8") as f:  # JSON, never pickle (see TargetStudies.to_json)
            json.dump(self.studies.to_json(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, encoding="utf-8") as f:
            self.studies = TargetStudies.from_json(json.load(f))


class PerTargetASHA(FIFOScheduler):
    """ASHA per target (``time_attr`` epochs from ``grace_period`` up to ``max_t``)."""

    def __init__(self, grace_period: int, max_t: int, reduction_factor: float = 3, protect_warm: bool = True,
                 metric: str = "gain_val", mode: str = "max"):
        super().__init__()
        self.kw = {"time_attr": "training_iteration", "grace_period": grace_period, "max_t": max_t,
                   "reduction_factor": reduction_factor}
        self.protect_warm = protect_warm
        self._metric, self._mode = metric, mode
        self.by_target: dict[str, ASHAScheduler] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        self._metric, self._mode = metric or self._metric, mode or self._mode
        return True

    def _asha(self, trial: Any) -> ASHAScheduler:
        t = _target(trial)
        if t not in self.by_target:
            self.by_target[t] = ASHAScheduler(metric=self._metric, mode=self._mode, **self.kw)
        return self.by_target[t]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._asha(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = self._asha(trial).on_trial_result(tune_controller, trial, result)
        if self.protect_warm and trial.config.get("_warm"):
            return TrialScheduler.CONTINUE
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        self._asha(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._asha(trial).on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._asha(trial).on_trial_error(tune_controller, trial)

    def debug_string(self) -> str:
        return f"PerTargetASHA over {len(self.by_target)} targets"
