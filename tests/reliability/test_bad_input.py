"""Bad input everywhere: every case gets exit code 2, one clear line naming the file/field, no traceback,
and the run directory it pointed at is left byte-for-byte as it was (a missing one is not created).

Cases run in-process through ``raytp.cli.main`` (fast); two run through the real console script in a
subprocess (one of them needs a real local Ray: impossible resources).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from raytp.cli import main
from raytp.config import config_from_dict
from raytp.rundir import prepare_run_dir
from tests.conftest import small_config_dict
from tests.recommender_runs import write_run
from tests.reliability.helpers import snapshot


def _yaml(tmp: Path, data, name="exp.yaml") -> Path:
    p = tmp / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return p


def _small(tmp: Path, **over) -> Path:
    return _yaml(tmp, small_config_dict(**over), name="small.yaml")


def _other_config_run(tmp: Path) -> Path:
    """A run directory made by a config that differs from small.yaml (another seed)."""
    run = tmp / "run"
    prepare_run_dir(str(run), config_from_dict(small_config_dict(seed=1)))
    return run


# Each case: tmp -> (argv, run directory the command points at, fragments the error line must contain).
def c_malformed_yaml(tmp):
    return ["train", "--config", _yaml(tmp, "data: {tasks: [food, water\n"), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "malformed YAML at line 2"]


def c_unknown_top_key(tmp):
    return ["train", "--config", _yaml(tmp, {"datta": {}}), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "field 'datta'", "unknown key"]


def c_unknown_nested_key(tmp):
    return ["train", "--config", _yaml(tmp, {"train": {"epoch": 3}}), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "field 'train.epoch'", "unknown key"]


def c_wrong_type(tmp):
    return ["train", "--config", _yaml(tmp, {"train": {"epochs": "many"}}), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "field 'train.epochs'", "valid integer"]


def c_section_not_mapping(tmp):
    return ["train", "--config", _yaml(tmp, {"data": [1, 2]}), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "field 'data'"]


def c_top_level_list(tmp):
    return ["train", "--config", _yaml(tmp, "- food\n- water\n"), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "top level must be a mapping"]


def c_not_utf8(tmp):
    p = tmp / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00data")
    return ["train", "--config", p, "--out", tmp / "run"], tmp / "run", ["bin.yaml", "not a UTF-8"]


def c_missing_config(tmp):
    return ["train", "--config", tmp / "nope.yaml", "--out", tmp / "run"], tmp / "run", \
        ["nope.yaml: config file not found"]


def c_config_is_directory(tmp):
    (tmp / "dir.yaml").mkdir()
    return ["train", "--config", tmp / "dir.yaml", "--out", tmp / "run"], tmp / "run", ["dir.yaml"]


def c_empty_task_list(tmp):
    return ["train", "--tasks", ",", "--out", tmp / "run"], tmp / "run", ["--tasks: empty task list"]


def c_one_task(tmp):
    return ["train", "--tasks", "food", "--out", tmp / "run"], tmp / "run", ["data.tasks", "at least two tasks"]


def c_duplicate_tasks(tmp):
    return ["train", "--tasks", "food,food", "--out", tmp / "run"], tmp / "run", ["data.tasks", "duplicate"]


def c_unknown_task(tmp):
    return ["train", "--config", _small(tmp), "--tasks", "food,pizza", "--out", tmp / "run"], tmp / "run", \
        ["disaster_response_messages.csv", "unknown task 'pizza'"]


def c_unknown_backend_flag(tmp):
    return ["train", "--backend", "gpt", "--out", tmp / "run"], tmp / "run", ["backend.name", "'hashed'"]


def c_unknown_backend_yaml(tmp):
    return ["train", "--config", _yaml(tmp, {"backend": {"name": "xgboost"}}), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", "field 'backend.name'"]


def c_atlas_missing_file(tmp):
    cfg = _small(tmp, prune={"predictor": "atlas", "atlas": str(tmp / "no_atlas.csv.gz")})
    return ["run", "--config", cfg, "--out", tmp / "run"], tmp / "run", ["prune.atlas", "no_atlas.csv.gz: no such atlas file"]


def c_atlas_predictor_without_atlas(tmp):
    return ["run", "--config", _small(tmp, prune={"predictor": "atlas"}), "--out", tmp / "run"], tmp / "run", \
        ["prune.predictor atlas needs prune.atlas"]


def c_negative_max_train(tmp):
    return ["train", "--max-train", "-5", "--out", tmp / "run"], tmp / "run", ["data.max_train", "greater than"]


def c_zero_workers(tmp):
    return ["train", "--workers", "0", "--out", tmp / "run"], tmp / "run", ["resources.workers"]


def c_no_resources(tmp):
    cfg = _yaml(tmp, {"resources": {"cpus_per_worker": 0, "gpus_per_worker": 0}})
    return ["train", "--config", cfg, "--out", tmp / "run"], tmp / "run", ["exp.yaml", "field 'resources'", "both be 0"]


def c_grid_unknown_key(tmp):
    return ["train", "--config", _yaml(tmp, {"search": {"grid": {"dropout": [0.1]}}}), "--out", tmp / "run"], \
        tmp / "run", ["exp.yaml", "field 'search.grid'", "unknown grid key(s) ['dropout']"]


def c_grid_unknown_mode(tmp):
    return ["train", "--config", _yaml(tmp, {"search": {"grid": {"mode": ["joint"]}}}), "--out", tmp / "run"], \
        tmp / "run", ["search.grid", "unknown mode(s) ['joint']"]


def c_grid_empty_values(tmp):
    return ["train", "--config", _yaml(tmp, {"search": {"grid": {"lr": []}}}), "--out", tmp / "run"], \
        tmp / "run", ["search.grid", "non-empty list"]


def _space_case(tmp, space, fragments, grid=None):
    search = {"space": space} if grid is None else {"space": space, "grid": grid}
    return ["train", "--config", _yaml(tmp, {"search": search}), "--out", tmp / "run"], tmp / "run", \
        ["exp.yaml", *fragments]


def c_space_unknown_distribution(tmp):
    return _space_case(tmp, {"lr_scale": {"type": "gaussian", "low": 0.1, "high": 1}},
                       ["search.space.lr_scale", "unknown distribution 'gaussian'"])


def c_space_low_above_high(tmp):
    return _space_case(tmp, {"lr_scale": {"type": "uniform", "low": 3, "high": 0.3}},
                       ["search.space.lr_scale", "low 3 > high 0.3"])


def c_space_log_range_through_zero(tmp):
    return _space_case(tmp, {"source_weight": {"type": "loguniform", "low": -1, "high": 1}},
                       ["search.space.source_weight", "log range must be above zero"])


def c_space_conditional_on_wrong_mode(tmp):
    return _space_case(tmp, {"mode": {"type": "choice", "values": ["multitask", "sequential"]},
                             "source_ratio": {"type": "uniform", "low": 1, "high": 4, "when": {"mode": "sequential"}}},
                       ["search.space.source_ratio", "only exists under mode multitask"])


def c_grid_outside_space(tmp):
    return _space_case(tmp, {"mode": {"type": "choice", "values": ["multitask"]},
                             "lr_scale": {"type": "loguniform", "low": 0.1, "high": 1.0}},
                       ["search.grid.lr_scale", "outside search.space.lr_scale"],
                       grid={"mode": ["multitask"], "lr_scale": [1.0, 3.0]})


def c_missing_table_file(tmp):
    cfg = _yaml(tmp, {"data": {"dataset": {"name": "table", "path": str(tmp / "gone.csv")}, "tasks": ["a", "b"]}})
    return ["train", "--config", cfg, "--out", tmp / "run"], tmp / "run", ["gone.csv", "not found"]


def c_multiclass_rare_class(tmp):
    from tests.data.conftest import multiclass_frame
    df = multiclass_frame()
    df.loc[df["Product"] == "Student loan", "Product"] = ["Savings"] * 9 + ["Student loan"] * 11  # < 10 Savings in train
    df.to_csv(tmp / "complaints.csv", index=False)
    cfg = _yaml(tmp, {"data": {"dataset": {"name": "table", "path": str(tmp / "complaints.csv"),
                                           "label_column": "Product"}, "tasks": ["Mortgage", "Student_loan"]}})
    return ["train", "--config", cfg, "--out", tmp / "run"], tmp / "run", \
        ["complaints.csv: label column 'Product' class 'Savings' has"]


def c_run_dir_of_another_config(tmp):
    run = _other_config_run(tmp)
    return ["train", "--config", _small(tmp), "--out", run], run, \
        ["run/config.yaml", "made with a different config", "fingerprint"]


def c_main_job_other_config_resume(tmp):
    run = _other_config_run(tmp)
    return ["run", "--config", _small(tmp), "--out", run, "--resume"], run, ["made with a different config"]


def c_resume_missing_dir(tmp):
    return ["train", "--config", _small(tmp), "--out", tmp / "run", "--resume"], tmp / "run", \
        ["run: nothing to resume"]


def c_resume_without_config(tmp):
    (tmp / "run").mkdir()
    (tmp / "run" / "notes.txt").write_text("mine")
    return ["train", "--config", _small(tmp), "--out", tmp / "run", "--resume"], tmp / "run", \
        ["nothing to resume (no config.yaml)"]


def c_out_is_a_file(tmp):
    (tmp / "run").write_text("not a directory")
    return ["train", "--config", _small(tmp), "--out", tmp / "run"], tmp / "run", ["run: not a directory"]


def c_out_under_a_file(tmp):
    (tmp / "file").write_text("x")
    return ["train", "--config", _small(tmp), "--out", tmp / "file" / "run"], tmp / "file", \
        ["file/run", "cannot create the run directory"]


def c_corrupt_manifest(tmp):
    run = _other_config_run(tmp)
    (run / "manifest.json").write_text('{"artifacts": {"config.yaml": ')
    return ["train", "--config", _small(tmp), "--out", run], run, ["manifest.json", "corrupt"]


def c_manifest_entry_without_checksum(tmp):
    run = _other_config_run(tmp)
    (run / "manifest.json").write_text('{"artifacts": {"config.yaml": {"bytes": 3}}}')
    return ["verify", "--run", run], run, ["manifest.json", "'config.yaml'", "sha256"]


def c_manifest_path_escape(tmp):
    run = _other_config_run(tmp)
    (run / "manifest.json").write_text('{"artifacts": {"../../etc/passwd": {"sha256": "0", "bytes": 1}}}')
    return ["verify", "--run", run], run, ["manifest.json", "not a relative path inside"]


def c_tampered_run_config(tmp):
    run = tmp / "run"
    prepare_run_dir(str(run), config_from_dict(small_config_dict()))
    cfg = run / "config.yaml"
    cfg.write_text(cfg.read_text().replace("max_train: 200", "max_train: 250"))
    return ["train", "--config", _small(tmp), "--out", run, "--resume"], run, ["config.yaml", "checksum mismatch"]


def c_verify_tampered_artifact(tmp):
    run = write_run(tmp / "run").root
    p = run / "search_pruned.parquet"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    return ["verify", "--run", run], run, ["verify failed", "search_pruned.parquet", "checksum mismatch"]


def c_verify_missing_dir(tmp):
    return ["verify", "--run", tmp / "run"], tmp / "run", ["run: run directory not found"]


def c_verify_not_a_run_dir(tmp):
    (tmp / "run").mkdir()
    return ["verify", "--run", tmp / "run"], tmp / "run", ["manifest.json: missing"]


def c_recommend_unknown_target(tmp):
    run = write_run(tmp / "run").root
    return ["recommend", "--run", run, "--target", "pizza"], run, ["unknown target task 'pizza'", "known tasks"]


def c_recommend_k_out_of_range(tmp):
    run = write_run(tmp / "run").root
    return ["recommend", "--run", run, "--target", "food", "--k", "0"], run, ["k must be an integer between 1"]


def c_recommend_without_single_task(tmp):
    run = _other_config_run(tmp)
    return ["recommend", "--run", run, "--target", "food"], run, ["no single_task.json"]


def c_search_without_single_task(tmp):
    run = _other_config_run(tmp)
    return ["search", "--mode", "full", "--run", run], run, ["run/single_task.json: missing", "raytp train"]


def c_search_resume_without_single_task(tmp):
    run = _other_config_run(tmp)
    return ["search", "--mode", "pruned", "--run", run, "--resume"], run, ["single_task.json: missing"]


def c_compare_without_searches(tmp):
    run = write_run(tmp / "run", searches=()).root
    return ["compare", "--run", run], run, ["search_full.parquet: missing"]


def c_argparse_bad_int(tmp):
    return ["train", "--max-train", "lots", "--out", tmp / "run"], tmp / "run", \
        ["--max-train", "invalid int value: 'lots'"]


def c_unknown_command(tmp):
    return ["trian", "--out", tmp / "run"], tmp / "run", ["invalid choice: 'trian'"]


CASES = {name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("c_")}


def _run_cli(argv: list, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse usage errors exit 2 by themselves
        code = e.code
    return code, capsys.readouterr().err


def test_at_least_twenty_cases():
    assert len(CASES) >= 20, sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_cleanly(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, run_dir, fragments = CASES[name](tmp_path)
    before = snapshot(run_dir)
    code, err = _run_cli(argv, capsys)
    assert code == 2, f"exit {code}; stderr: {err}"
    assert "Traceback" not in err
    # ours: "raytp: error: ..."; argparse's usage errors: "raytp train: error: ..."
    error_lines = [line for line in err.splitlines() if re.match(r"raytp( [a-z]+)*: error: \S", line)]
    assert error_lines, err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    assert snapshot(run_dir) == before, "the run directory changed"
    assert not (tmp_path / "runs").exists()  # nothing written to the default run directory either


def _raytp(args: list, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("raytp")
    env = {**os.environ, "RAY_ADDRESS": ""}
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_console_script_malformed_yaml(tmp_path):
    bad = _yaml(tmp_path, "train:\n  epochs: [3\n")
    p = _raytp(["train", "--config", bad, "--out", tmp_path / "run"], tmp_path, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("raytp: error: ") and "exp.yaml: malformed YAML" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "run").exists()


def test_console_script_impossible_resources(tmp_path):
    """64 CPUs per worker on a local Ray with the machine's cores: refused once Ray is up, run dir untouched."""
    cfg = _small(tmp_path, resources={"cpus_per_worker": 64.0})
    run = tmp_path / "run"
    p = _raytp(["train", "--config", cfg, "--out", run], tmp_path, timeout=240)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    assert "resources: a worker asks for 64.0 CPU" in p.stderr and "but the cluster has" in p.stderr
    assert not run.exists()
