"""Issue 18: the restructuring changes no figure. Run directories written by the code BEFORE it are recomputed
with the code of this checkout, on copies, and compared with what the old code wrote:

- ``--report RUN``: a run holding both searches (``raytp run --with-full``): ``compare_run`` rewrites report.json
  and report.md from the same searches (the comparison, baselines, bounds and random draws are all recomputed);
- ``--stages RUN``: a default run (``raytp run``): the pure stages rewrite pair_features.parquet,
  pair_predictions.parquet, predictor.json and pruning.json from the same single-task models (``predictor_s``, a
  timing, is left out of the comparison).

    python benchmarks/refactor_identity.py --report /tmp/ref18-small --stages /tmp/ref18-before
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import machine, parser, write_json  # noqa: E402


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_files(before: Path, after: Path, rels: list[str]) -> dict[str, dict]:
    return {rel: {"before": _sha(before / rel), "after": _sha(after / rel),
                  "identical": _sha(before / rel) == _sha(after / rel)} for rel in rels}


def check_report(run: Path, work: Path) -> dict:
    from raytp.report import compare_run
    from raytp.rundir import RunDir, names
    copy = work / "report"
    shutil.copytree(run, copy)
    compare_run(RunDir(copy))
    return _same_files(run, copy, [names.REPORT, names.REPORT_MD])


def check_stages(run: Path, work: Path) -> dict:
    from raytp.data import load_experiment_data
    from raytp.pipeline import features_stage, predict_stage
    from raytp.rundir import RunDir, load_run_config, names
    copy = work / "stages"
    shutil.copytree(run, copy)
    out, cfg = RunDir(copy), load_run_config(RunDir(copy))
    if cfg.prune.predictor != "zero-shot":
        raise SystemExit("--stages needs a zero-shot run (the default config)")
    features_stage(cfg, load_experiment_data(cfg), out)
    predict_stage(cfg, out, None, set(), 0, margin=cfg.search.min_margin, outcomes=None)
    result = _same_files(run, copy, [names.PAIR_FEATURES, names.PAIR_PREDICTIONS, names.PREDICTOR])
    strip = lambda plan: {k: v for k, v in plan.items() if k != "predictor_s"}  # noqa: E731
    same = strip(RunDir(run).read_json(names.PRUNING)) == strip(out.read_json(names.PRUNING))
    result[names.PRUNING] = {"identical": same, "compared": "every field but predictor_s (a timing)"}
    return result


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--report", type=Path, help="run directory with both searches, written by the old code")
    p.add_argument("--stages", type=Path, help="default run directory (pruned side), written by the old code")
    args = p.parse_args()
    start, load = time.time(), os.getloadavg()
    result: dict = {"benchmark": "refactor_identity", "machine": machine(), "load_avg_1_5_15": load}
    with tempfile.TemporaryDirectory() as tmp:
        if args.report:
            result["report"] = {"run_tasks": _tasks(args.report), "files": check_report(args.report, Path(tmp))}
        if args.stages:
            result["stages"] = {"run_tasks": _tasks(args.stages), "files": check_stages(args.stages, Path(tmp))}
    files = [f for part in ("report", "stages") for f in result.get(part, {}).get("files", {}).values()]
    result["all_identical"] = bool(files) and all(f["identical"] for f in files)
    result["seconds"] = time.time() - start
    for part in ("report", "stages"):
        for rel, f in result.get(part, {}).get("files", {}).items():
            print(f"{part:7s} {rel:28s} {'identical' if f['identical'] else 'DIFFERENT'}")
    print(f"all identical: {result['all_identical']} (load {load[0]:.1f})")
    write_json(Path(__file__).parent / "results", "refactor_identity.json", result)


def _tasks(run: Path) -> list[str]:
    from raytp.rundir import RunDir, load_run_config
    return load_run_config(RunDir(run)).data.tasks


if __name__ == "__main__":
    main()
