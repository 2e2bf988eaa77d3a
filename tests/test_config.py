"""The experiment config on its own: defaults, overrides, one-line errors, fingerprints, shared definitions."""

from __future__ import annotations

import pytest

from raytp.config import (DEFAULT_LR, DEFAULT_TASKS, GRID_KEYS, PAIR_MODES, PREDICTOR_MODES, compute_units,
                          config_from_dict, load_config)
from raytp.errors import ConfigError
from raytp.search.space import grid_points


def test_the_embedded_default_is_the_documented_experiment():
    cfg = load_config()
    assert cfg.data.tasks == DEFAULT_TASKS and cfg.backend.name == "hashed" and cfg.data.max_train == 300
    assert cfg.train.lr == DEFAULT_LR["hashed"]  # filled in from the backend when unset
    assert len(grid_points(cfg.search.grid)) == 15 and cfg.seeds() == [0, 1, 2]  # issue 13: >= 12 points per pair
    assert config_from_dict({}).fingerprint() == cfg.fingerprint()


def test_dotted_overrides_and_backend_learning_rates(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("backend:\n  name: frozen-encoder\ndata:\n  tasks: [food, water]\n")
    cfg = load_config(path, {"data.max_train": 50, "seed": 7, "resources.workers": None})
    assert (cfg.data.tasks, cfg.data.max_train, cfg.seed) == (["food", "water"], 50, 7)
    assert cfg.train.lr == DEFAULT_LR["frozen-encoder"] and cfg.resources.workers is None


@pytest.mark.parametrize("text, message", [
    ("train:\n  epochz: 3\n", "field 'train.epochz': unknown key"),
    ("search:\n  grid: {mode: [joint]}\n", "unknown mode(s) ['joint']"),
    ("search:\n  grid: {momentum: [0.9]}\n", "unknown grid key(s) ['momentum']"),
    ("prune:\n  predictor: oracle\n", "field 'prune.predictor'"),
    ("data: [food]\n", "field 'data'"),
    ("data:\n  tasks: [food\n", "malformed YAML at line"),
    ("- a list\n", "the top level must be a mapping"),
])
def test_bad_configs_are_one_line_errors_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value) and "\n" not in str(e.value)


def test_missing_file_and_override_into_a_scalar():
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("no/such/exp.yaml")
    with pytest.raises(ConfigError, match="field 'seed' must be a mapping"):
        load_config(None, {"seed": 3, "seed.x": 1})


def test_fingerprint_follows_results_not_resources():
    base = load_config()
    assert load_config(None, {"resources.workers": 2, "name": "other"}).fingerprint() == base.fingerprint()
    assert load_config(None, {"data.max_train": 200}).fingerprint() != base.fingerprint()
    assert config_from_dict(__import__("yaml").safe_load(base.to_yaml())).fingerprint() == base.fingerprint()


def test_shared_vocabulary_has_one_definition():
    assert PAIR_MODES == ("multitask", "sequential") and PREDICTOR_MODES == ("zero-shot", "learned", "atlas")
    assert set(load_config().search.grid) <= set(GRID_KEYS)
    assert compute_units(cpus=2.0, gpus=0.0) == 2.0 and compute_units(cpus=4.0, gpus=0.25) == 0.25
