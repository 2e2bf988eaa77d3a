"""Every artifact name of a run directory (relative paths); nothing else in raytp spells them.

```
RUN_DIR/
  manifest.json            checksums of every artifact (raytp.rundir.store)
  config.yaml              the experiment config the run was made with
  single_task.json         the single-task stage's summary (SingleTaskSummary)
  single_task/<task>/      summary.json, runs.json, model.safetensors, signature.safetensors
  pair_features.parquet    one row per ordered pair: signature similarities, task statistics, baselines
  pair_predictions.parquet P(beneficial), kept, calibration, score_<baseline> per pair
  predictor.json           the fitted TransferPredictor
  pruning.json             the pruning plan (PruningPlan)
  search_<name>.parquet    one row per trial of a search: full, pruned or calibration
  search_<name>.json       that search's summary (noise margin, replication, best pairs)
  pipeline.json            per-stage costs of `raytp run`
  report.json, report.md   the pruned-vs-full comparison; plots/ its figures
  tune/                    Ray Tune's experiment state (resume)
```
"""

from __future__ import annotations

MANIFEST = "manifest.json"
CONFIG = "config.yaml"
SINGLE_TASK = "single_task.json"
PAIR_FEATURES = "pair_features.parquet"
PAIR_PREDICTIONS = "pair_predictions.parquet"
PREDICTOR = "predictor.json"
PRUNING = "pruning.json"
PIPELINE = "pipeline.json"
REPORT = "report.json"
REPORT_MD = "report.md"
PLOTS = "plots"
TUNE = "tune"


def search_table(name: str) -> str:
    """Trials of the search ``name`` (full, pruned, calibration)."""
    return f"search_{name}.parquet"


def search_summary(name: str) -> str:
    return f"search_{name}.json"


SEARCH_FULL, SEARCH_PRUNED, CALIBRATION = (search_table(n) for n in ("full", "pruned", "calibration"))


def task_summary_path(task: str) -> str:
    return f"single_task/{task}/summary.json"


def task_runs_path(task: str) -> str:
    return f"single_task/{task}/runs.json"


def checkpoint_path(task: str) -> str:
    return f"single_task/{task}/model.safetensors"


def signature_path(task: str) -> str:
    return f"single_task/{task}/signature.safetensors"


def artifact_kind(rel: str) -> str:
    """How an artifact loads: json, parquet, tensors, text or bytes (by its name)."""
    for suffix, kind in ((".json", "json"), (".parquet", "parquet"), (".safetensors", "tensors")):
        if rel.endswith(suffix):
            return kind
    return "text" if rel.endswith((".yaml", ".yml", ".md", ".txt", ".csv")) else "bytes"
