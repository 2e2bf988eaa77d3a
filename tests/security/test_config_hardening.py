"""Config values that would fail hours later (inf/nan, out-of-range grid values, huge sizes, negative seeds) are
refused at load time with one line naming the field; YAML with anchors/aliases or over the size cap is refused
before it is expanded (an alias bomb: refused in < 1 s, < 50 MB)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from raytp.cli import main
from raytp.config import MAX_YAML_BYTES, ExperimentConfig, config_from_dict, load_config
from raytp.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

BAD = {
    "lr_inf": ({"train": {"lr": float("inf")}}, "train.lr"),
    "lr_nan": ({"train": {"lr": float("nan")}}, "train.lr"),
    "lr_pool_negative": ({"train": {"lr_pool": [-1.0, 0.01]}}, "train.lr_pool.0"),
    "lr_pool_nan": ({"train": {"lr_pool": [0.01, float("nan")]}}, "train.lr_pool.1"),
    "lr_pool_empty": ({"train": {"lr_pool": []}}, "train.lr_pool"),
    "grid_lr_negative": ({"search": {"grid": {"lr": [-1]}}}, "search.grid"),
    "grid_lr_nan": ({"search": {"grid": {"lr": [float("nan")]}}}, "search.grid"),
    "grid_lr_string": ({"search": {"grid": {"lr": ["fast"]}}}, "search.grid"),
    "grid_epochs_zero": ({"search": {"grid": {"epochs": [0]}}}, "search.grid"),
    "grid_epochs_float": ({"search": {"grid": {"epochs": [2.5]}}}, "search.grid"),
    "grid_epochs_bool": ({"search": {"grid": {"epochs": [True]}}}, "search.grid"),
    "grid_lr_scale_zero": ({"search": {"grid": {"lr_scale": [0]}}}, "search.grid"),
    "grid_source_weight_inf": ({"search": {"grid": {"source_weight": [float("inf")]}}}, "search.grid"),
    "grid_mode_list": ({"search": {"grid": {"mode": [["multitask"]]}}}, "search.grid"),
    "grid_too_many_points": ({"search": {"grid": {"lr_scale": [1.0 + i for i in range(64)],
                                                  "epochs": list(range(1, 65)),
                                                  "mode": ["multitask", "sequential"]}}}, "search.grid"),
    "epochs_zero": ({"train": {"epochs": 0}}, "train.epochs"),
    "hash_buckets_huge": ({"backend": {"hash_buckets": 2 ** 40}}, "backend.hash_buckets"),
    "embed_dim_huge": ({"backend": {"embed_dim": 10 ** 7}}, "backend.embed_dim"),
    "seed_negative": ({"seed": -1}, "seed"),
    "split_seed_negative": ({"data": {"dataset": {"split_seed": -3}}}, "data.dataset.split_seed"),
    "subset_seed_negative": ({"data": {"subset_seed": -3}}, "data.subset_seed"),
    "val_fraction_nan": ({"data": {"dataset": {"val_fraction": float("nan")}}}, "data.dataset.val_fraction"),
    "margin_inf": ({"search": {"margin_sd": float("inf")}}, "search.margin_sd"),
    "batch_size_huge": ({"train": {"batch_size": 10 ** 9}}, "train.batch_size"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_value_refused(name):
    data, field = BAD[name]
    with pytest.raises(ConfigError) as e:
        config_from_dict(data, "exp.yaml")
    msg = str(e.value)
    assert f"field '{field}" in msg and "\n" not in msg, msg


def test_good_grid_still_loads():
    space = {"mode": {"type": "choice", "values": ["multitask", "sequential"]},
             "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
             "source_weight": {"type": "uniform", "low": 0.1, "high": 2.0, "when": {"mode": "multitask"}},
             "epochs": {"type": "resource", "low": 2}}
    cfg = config_from_dict({"search": {"space": space, "grid": {"mode": ["multitask"], "lr": [1e-3, 1e-2],
                                                                "epochs": [3], "source_weight": [0.1, 0.5]}}})
    assert cfg.search.grid["epochs"] == [3]
    assert ExperimentConfig().fingerprint() == config_from_dict({}).fingerprint()


def test_yaml_inf_via_cli(tmp_path, capsys):
    p = tmp_path / "exp.yaml"
    p.write_text("train:\n  lr: .inf\n")
    assert main(["train", "--config", str(p), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "exp.yaml: field 'train.lr'" in err and "Traceback" not in err and not (tmp_path / "run").exists()


def test_anchor_and_alias_refused(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("search:\n  grid:\n    mode: &m [multitask]\ntrain: {}\nx: *m\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: YAML anchors/aliases are not allowed \(line 3"):
        load_config(p)


def test_oversize_refused(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("name: x\n" + "#" * MAX_YAML_BYTES + "\n")
    with pytest.raises(ConfigError, match="over"):
        load_config(p)


def test_to_yaml_round_trips_without_aliases(tmp_path):
    cfg = config_from_dict({"train": {"lr_pool": [0.01, 0.01]}})
    p = tmp_path / "c.yaml"
    p.write_text(cfg.to_yaml())
    assert "&" not in p.read_text() and load_config(p).fingerprint() == cfg.fingerprint()


BOMB = textwrap.dedent("""\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    search: {grid: {mode: *h}}
    """)


def _security_benchmark():
    """benchmarks/security.py, whose fresh-process measurement of a config load this test shares."""
    import importlib.util
    sys.path.insert(0, str(REPO / "benchmarks"))  # for its `_common` import
    spec = importlib.util.spec_from_file_location("security_benchmark", REPO / "benchmarks" / "security.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alias_bomb_refused_fast_and_small(tmp_path):
    """In a fresh process: the refusal's wall time and the process's peak memory (ru_maxrss) are measured."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert len(BOMB) < 600
    r = _security_benchmark().load_in_fresh_process(bomb)
    assert r["refused"], r["error"]
    assert r["seconds"] < 1.0 and r["grown_kib"] < 50 * 1024, (r["seconds"], r["grown_kib"])
    assert "anchors/aliases are not allowed" in r["error"]
