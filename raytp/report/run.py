"""The pruned-vs-full report of a run directory (pure, no Ray): ``raytp compare`` and ``raytp run --with-full``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from raytp.predict.families import AUTO, NO_ATTRIBUTION, RULE, WITH_ATTRIBUTION
from raytp.rundir import RunDir, load_run_config
from raytp.rundir.records import read_pruning_plan, read_single_task
from raytp.rundir.names import (CALIBRATION, PAIR_PREDICTIONS, PIPELINE, PLOTS, PRUNING, REPORT, REPORT_MD,
                                SEARCH_FULL, SEARCH_PRUNED, search_summary)


def pruned_side_trials(run: RunDir) -> pd.DataFrame:
    """Every trial the pruned pipeline ran: its calibration sample and its Optuna search."""
    frames = [run.read_parquet(rel) for rel in (CALIBRATION, SEARCH_PRUNED) if run.has(rel)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["source", "target", "f1_val", "f1_test", "compute_s", "status"])


def compare_run(run: RunDir) -> dict[str, Any]:
    """Write report.json, report.md and plots/ from a run directory that holds both searches."""
    from raytp.errors import RunDirError
    from raytp.report.comparison import compare, plot_report, report_markdown
    from raytp.search.space import first_point
    for rel in (SEARCH_FULL, PAIR_PREDICTIONS):
        if not run.has(rel):
            raise RunDirError(f"{run.path(rel)}: missing; `raytp compare` needs both searches "
                              f"(run `raytp run --with-full --out {run.root}`)")
    single = read_single_task(run).tasks
    full = run.read_parquet(SEARCH_FULL)
    pruned = pruned_side_trials(run)
    predictions = run.read_parquet(PAIR_PREDICTIONS)
    stages = run.read_json(PIPELINE)["stages"] if run.has(PIPELINE) else {}
    costs = {"pair_features_s": float(stages.get("pair_features", {}).get("pair_features_s", 0.0)),
             "predictor_s": float(stages.get("predict", {}).get("compute_s", 0.0))}
    space = read_pruning_plan(run).space if run.has(PRUNING) else {}
    noise = run.read_json(search_summary("full")).get("noise") if run.has(search_summary("full")) else None
    report = compare(single, full, pruned, predictions, costs, first_point=first_point(space) or None,
                     margin=float((noise or {}).get("margin") or 0.0))
    report["noise"] = noise
    report["protocol"] = _protocol(run)
    plot_report(report, single, full, pruned, predictions, run.path(PLOTS))
    run.write_json(REPORT, report)
    run.write_text(REPORT_MD, report_markdown(report))
    return report


def _protocol(run: RunDir) -> str:
    p = load_run_config(run).prune
    if p.predictor == "zero-shot":
        if p.zero_shot_feature in (AUTO, NO_ATTRIBUTION):
            return f"zero-shot: pairs ranked by the default rule, {RULE}; no outcomes used"
        if p.zero_shot_feature == WITH_ATTRIBUTION:
            return (f"zero-shot: pairs ranked by the default rule with gradient attribution as a fourth family, {RULE}; "
                    "no outcomes used")
        return f"zero-shot: pairs ranked by {p.zero_shot_feature}, no outcomes used"
    if p.predictor == "atlas":
        return f"learned from the transfer atlas {p.atlas}, leaving out every row that involves a task of this run"
    parts = []
    if p.calibration_pairs:
        parts.append(f"{p.calibration_pairs} calibration pairs of this run (searched, cost counted, results kept)")
    if p.knowledge_base:
        parts.append(f"knowledge base of earlier runs: {', '.join(map(str, p.knowledge_base))}")
    return "learned from " + " + ".join(parts or ["nothing (zero-shot fallback)"])
