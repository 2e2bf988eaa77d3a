"""Keep, per target, the model its verdict recommends (``raytp.search.keep``) in the run directory: models/<target>/.

Pure of Ray: ``raytp run`` calls it in the driver after the searches (it trains a few seeds per target)."""

from __future__ import annotations

import time
from typing import Any

from raytp.config import ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.rundir import RunDir
from raytp.rundir.records import read_single_task

__all__ = ["keep_models"]


def keep_models(cfg: ExperimentConfig, ds: MultiTaskDataset, run: RunDir, resume: bool = False) -> dict[str, Any]:
    """Per target, retrain and keep the checkpoint its verdict recommends; with ``resume``, targets already kept are
    skipped. Returns the stage's cost for pipeline.json."""
    from raytp.models.encoders import pick_device
    from raytp.models.registry import make_backend
    from raytp.search.keep import keep_model, model_paths, save_kept
    from raytp.serving.recommender import Recommender
    start = time.perf_counter()
    rec = Recommender.from_run_dir(run.root)
    single = read_single_task(run).tasks
    todo = [t for t in cfg.data.tasks if t in single and not (resume and run.has(model_paths(t)[1]))]
    if not todo:
        return {"models_s": 0.0, "kept": 0, "example_epochs": 0}
    backend = make_backend(cfg.backend, pick_device(cfg.resources.gpus_per_worker))
    features = backend.featurize(ds.texts)
    spent = 0  # example-epochs of the retraining (every seed), the deterministic twin of models_s
    for t in todo:
        weights, meta = keep_model(backend, features, ds, cfg, rec.verdict(t), single[t])
        save_kept(run, weights, meta)
        spent += int(meta["example_epochs"])
    return {"models_s": time.perf_counter() - start, "kept": len(todo), "example_epochs": spent}
