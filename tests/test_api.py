"""The public surface, pinned: a change to any package's ``__all__`` is a deliberate edit of this file."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import raytp
from raytp.config import load_config
from raytp.rundir import CONFIG, SINGLE_TASK, RunDir

PUBLIC = {
    "raytp": ["__version__", "load_config", "read_results", "run_config", "train"],
    "raytp.api": ["load_config", "read_results", "run_config", "train"],
    "raytp.data": ["MISSING", "MultiTaskDataset", "SPLITS", "combine_datasets", "load_data", "load_dataset",
                   "load_experiment_data"],
    "raytp.models": ["Backend", "HParams", "TaskModel", "binary_scores", "fit", "make_backend", "pick_device",
                     "predict_proba", "run_task", "train_single"],
    "raytp.profiling": ["METHODS", "check_metadata", "compute_signatures", "cosine", "describe_column", "label_phi",
                        "linear_cka", "load_signatures", "logme_table", "pair_features", "probe_fingerprint", "rsa",
                        "save_signatures", "signature_metadata", "signature_similarities", "spearman",
                        "task_pair_statistics", "task_vectors", "textemb_table", "topk_overlap"],
    "raytp.predict": ["BASELINES", "FAMILIES", "POLICIES", "TransferPredictor", "ablation", "build_pruning_plan", "clone",
                      "column_family", "default_features", "evaluate_baselines", "evaluate_leave_targets_out",
                      "evaluate_scores", "feature_groups", "fit_atlas_predictor", "hopeless_values", "label_phi_matrix",
                      "leave_targets_out_proba", "leave_tasks_out", "load_atlas", "logme",
                      "ndcg_at_k", "phi", "random_scores", "rank_scale", "regret_at_k", "score_pairs", "select_pairs",
                      "signature_only_scores", "task_statistics_scores", "warm_start"],
    "raytp.search": ["PairPoint", "PairTrainer", "SourceCache", "add_gains", "full_space", "grid_points", "hp_columns",
                     "label_rows", "noise_margin", "ordered_pairs", "pair_outcomes", "pooled_seed_sd", "resolve_point",
                     "shuffled_labels", "summarize", "train_pair", "trial_configs"],
    "raytp.rundir": ["CONFIG", "MANIFEST", "PruningPlan", "RunDir", "SINGLE_TASK", "SingleTaskSummary",
                     "atomic_write_bytes", "check_run_dir", "checkpoint_path", "load_run_config", "names",
                     "prepare_run_dir", "read_pruning_plan", "read_single_task", "signature_path", "task_summary_path",
                     "write_pruning_plan", "write_single_task"],
    "raytp.serving": ["DEFAULT_K", "QueryError", "Recommender", "UnknownTaskError"],
    "raytp.report": ["compare", "compare_run", "pair_truth", "plot_report", "pruned_side_trials", "report_markdown",
                     "selected_f1"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned_and_exist(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_raytp_reexports_the_api():
    assert set(raytp.__all__) - {"__version__"} == set(raytp.api.__all__)
    assert raytp.train is raytp.api.train and raytp.load_config is load_config
    with pytest.raises(AttributeError):
        raytp.no_such_thing  # noqa: B018


def test_read_results_and_run_config_through_the_package(tmp_path):
    cfg = load_config(None, {"data.tasks": ["food", "water"]})
    run = RunDir(tmp_path / "run", create=True)
    run.write_text(CONFIG, cfg.to_yaml())
    run.write_json(SINGLE_TASK, {"tasks": {"food": {"f1_test": 0.5}, "water": {"f1_test": 0.4}}})
    assert raytp.run_config(tmp_path / "run").fingerprint() == cfg.fingerprint()
    assert raytp.read_results(tmp_path / "run") == {"single_task": {"tasks": {"food": {"f1_test": 0.5},
                                                                             "water": {"f1_test": 0.4}}}}


# -- the pure commands never load Ray ------------------------------------------------------------------------------

def _comparable_run(path: Path) -> Path:
    """A generated run directory holding both searches (what `raytp compare` needs)."""
    from tests.recommender_runs import TASKS, write_run
    run = write_run(path, searches=("pruned", "full"))
    single = run.read_json(SINGLE_TASK)
    for s in single["tasks"].values():
        s.update(compute_s=20.0, profiling_s=1.0, resources={"CPU": 1.0, "GPU": 0.0})
    run.write_json(SINGLE_TASK, single)
    run.write_text(CONFIG, load_config(None, {"data.tasks": TASKS}).to_yaml())
    return path


def _ray_modules_after(code: str) -> list[str]:
    check = (f"{code}\nimport sys\n"
             "print('RAY=' + ','.join(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    return [m for m in out.stdout.strip().splitlines()[-1].removeprefix("RAY=").split(",") if m]


def test_compare_command_loads_no_ray(tmp_path):
    run = _comparable_run(tmp_path / "run")
    code = ("import contextlib, io\nfrom raytp.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['compare', '--run', {str(run)!r}, '--json']) == 0")
    assert _ray_modules_after("import raytp.commands.compare") == []
    assert _ray_modules_after(code) == []
    assert json.loads((run / "report.json").read_text())["trials"]["full"] > 0  # it did compare


def test_recommend_from_a_run_directory_loads_no_ray(tmp_path):
    run = _comparable_run(tmp_path / "run")
    code = ("import contextlib, io\nfrom raytp.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['recommend', '--run', {str(run)!r}, '--target', 'food', '--json']) == 0")
    assert _ray_modules_after(code) == []


# -- the layers of ARCHITECTURE.md ---------------------------------------------------------------------------------

LAYERS = ["errors", "config", "data", "rundir", "models", "predict", "profiling", "search", "report", "pipeline",
          "serving", "runtime", "api", "commands", "cli"]


def _imports(py: Path) -> set[str]:
    import ast
    out = set()
    for node in ast.walk(ast.parse(py.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_imports_go_down_the_layers_and_only_runtime_imports_ray():
    root = Path(raytp.__file__).parent
    upward, ray_outside = [], []
    for py in sorted(root.rglob("*.py")):
        rel = py.relative_to(root)
        own = rel.parts[0].removesuffix(".py")
        if own not in LAYERS:
            continue  # __init__, config_reference: leaves nothing imports
        for module in _imports(py):
            parts = module.split(".")
            if parts[0] == "ray" and own != "runtime":
                ray_outside.append(f"{rel}: {module}")
            if parts[0] == "raytp" and len(parts) > 1 and parts[1] in LAYERS and parts[1] != own \
                    and LAYERS.index(parts[1]) > LAYERS.index(own):
                upward.append(f"{rel}: {module}")
    assert upward == [] and ray_outside == []
