"""The models a search leaves a user: per target, the checkpoint its verdict recommends (pure torch, no Ray).

``keep_model`` retrains the recommended configuration over the run's seeds — the pair (source, mode, lr, epochs,
source weight) when the verdict is co-train, the single-task model at its chosen learning rate when it is alone —
and keeps the seed with the best validation F1 at its best epoch, with the decision threshold tuned on validation
and that seed's test F1. ``models/<target>/model.safetensors`` holds the weights, ``models/<target>/model.json``
what is needed to use them again (backend config, heads, threshold, the run's config for the split), both
checksummed in the run's manifest. ``export_model`` copies one into a self-contained directory; ``load_model`` and
``predict_texts`` use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from raytp.config import ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import RaytpError, RunDirError
from raytp.models.base import Backend, TaskModel
from raytp.rundir import RunDir
from raytp.rundir.names import CONFIG as RUN_CONFIG
from raytp.rundir.names import MODEL_META, MODEL_WEIGHTS, model_meta_path, model_weights_path

WEIGHTS, META, CONFIG = MODEL_WEIGHTS, MODEL_META, RUN_CONFIG  # an exported model directory holds these three
FORMAT = "raytp-model/1"

__all__ = ["keep_model", "model_paths", "export_model", "load_model", "predict_texts", "read_texts", "ModelError"]


class ModelError(RaytpError):
    """An exported model directory is missing, incomplete or does not match its checksum."""


def model_paths(target: str) -> tuple[str, str]:
    """(weights, metadata) of ``target``'s kept model in a run directory."""
    return model_weights_path(target), model_meta_path(target)


def _state(model: TaskModel) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _given(v: Any) -> Any:
    """A recorded hyperparameter, or None where the row has none (missing or NaN)."""
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def keep_model(backend: Backend, features: Any, ds: MultiTaskDataset, cfg: ExperimentConfig, verdict: dict[str, Any],
               single: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    """Retrain what ``verdict`` recommends for its target over ``cfg.seeds()``; returns (weights, metadata)."""
    from raytp.models.single import eval_sets, train_single
    from raytp.models.training import evaluate
    from raytp.search.pairs import PairPoint, PairTrainer
    target = verdict["target"]
    # one seed at a time: each seed's own best state is kept (batched seeds give the same F1, issue 15)
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"batch_seeds": False})})
    _, test = eval_sets(ds, target, cfg)
    candidates = []  # (f1_val, seed, model, threshold)
    if verdict["action"] == "co-train":
        hp = verdict["hyperparameters"] or {}
        ratio, hidden = _given(hp.get("source_ratio")), _given(hp.get("hidden"))
        point = PairPoint(mode=str(hp["mode"]), lr=float(hp["lr"]), epochs=int(hp.get("epochs") or cfg.train.epochs),
                          source_weight=float(hp.get("source_weight") or 1.0),
                          source_ratio=None if ratio is None else float(ratio),
                          hidden=None if hidden is None else int(hidden))
        from raytp.models.registry import with_hidden
        trainer = PairTrainer(with_hidden(backend, cfg.backend, point.hidden), features, ds, cfg, verdict["source"], target, point, cfg.seeds(), cache=None)
        for f in trainer.fitters:
            f.keep_best_state = True
        out = trainer.finish()
        retrained, spent = float(out["f1_test"]), int(out["example_epochs"])
        for seed, f in zip(trainer.seeds, trainer.fitters):
            if f.best_state is not None:
                f.model.load_state_dict(f.best_state)
            candidates.append((f.best["f1"], seed, f.model, f.threshold))
        heads = [target, verdict["source"]] if point.mode == "multitask" else [verdict["source"], target]
        kind, recorded, what = "pair", verdict["expected_gain"] + float(single["f1_test"]), point.as_dict()
    else:
        lr = float((single.get("hyperparameters") or {}).get("lr", cfg.train.lr))
        test_f1, spent = [], 0
        for seed in cfg.seeds():
            r = train_single(backend, features, ds, target, cfg, lr, seed)
            candidates.append((r.metrics["f1_val"], seed, r.model, r.metrics["threshold"]))
            test_f1.append(r.metrics["f1_test"])
            spent += int(r.metrics["example_epochs"])
        retrained = float(np.mean(test_f1))
        heads, kind, recorded, what = [target], "single-task", float(single["f1_test"]), {"lr": lr}
    f1_val, seed, model, threshold = max(candidates, key=lambda c: (c[0], -c[1]))
    scores = evaluate(model, backend, features, test, threshold)
    meta = {"format": FORMAT, "target": target, "kind": kind, "source": verdict["source"], "heads": heads,
            "hyperparameters": what, "seed": int(seed), "threshold": float(threshold), "f1_val": float(f1_val),
            "f1_test": float(scores["f1"]), "precision_test": float(scores["precision"]),
            "recall_test": float(scores["recall"]), "recorded_seed_mean_f1_test": recorded,
            "retrained_seed_mean_f1_test": retrained, "example_epochs": spent,
            "verdict": verdict["text"], "backend": cfg.backend.model_dump(mode="json"),
            "config_fingerprint": cfg.fingerprint(), "data_fingerprint": ds.fingerprint(),
            "test_examples": int(len(test.idx))}
    return _state(model), meta


def save_kept(run: RunDir, weights: dict, meta: dict[str, Any]) -> None:
    """Write the weights, then the metadata that names their checksum (both recorded in the manifest)."""
    from safetensors.torch import save
    w_rel, m_rel = model_paths(meta["target"])
    data = save(weights, metadata={"target": meta["target"], "format": FORMAT})
    run.write_bytes(w_rel, data)
    run.write_json(m_rel, {**meta, "weights_sha256": hashlib.sha256(data).hexdigest()})


def export_model(run_dir: str | Path, target: str, out: str | Path) -> Path:
    """Copy the kept model of ``target`` into ``out`` (model.safetensors, model.json, config.yaml).

    Everything is checked before anything is written (unknown target, checksum mismatch, ``out`` not empty);
    the directory appears whole or not at all."""
    run = RunDir(run_dir)
    w_rel, m_rel = model_paths(target)
    if not run.has(m_rel):
        kept = sorted(p.split("/")[1] for p in run.manifest()["artifacts"] if p.startswith("models/")
                      and p.endswith(META))
        raise RunDirError(f"{run.root}: no kept model for target {target!r}; targets with a model: "
                          f"{', '.join(kept) or 'none (run `raytp run` to the end)'}")
    meta = run.read_json(m_rel)
    weights = run.read_bytes(w_rel)  # checksum against the manifest
    if hashlib.sha256(weights).hexdigest() != meta.get("weights_sha256"):
        raise RunDirError(f"{run.path(w_rel)}: does not match the checksum in {m_rel}")
    config = run.read_bytes(RUN_CONFIG)
    dest = Path(out)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ModelError(f"{dest}: exists and is not an empty directory; choose another --out")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        (tmp / WEIGHTS).write_bytes(weights)
        (tmp / META).write_text(json.dumps(meta, indent=1) + "\n")
        (tmp / CONFIG).write_bytes(config)
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def load_model(model_dir: str | Path, device: str = "cpu") -> tuple[TaskModel, Backend, dict[str, Any]]:
    """An exported model, after checking its files and checksum."""
    from safetensors.torch import load

    from raytp.config import BackendConfig
    from raytp.models.registry import make_backend
    d = Path(model_dir)
    if not d.is_dir():
        raise ModelError(f"{d}: model directory not found")
    try:
        meta = json.loads((d / META).read_text(encoding="utf-8"))
        data = (d / WEIGHTS).read_bytes()
    except FileNotFoundError as e:
        raise ModelError(f"{e.filename}: missing; not an exported raytp model (raytp export)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{d / META}: not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{d / META}: not a raytp model description (format {FORMAT})")
    if hashlib.sha256(data).hexdigest() != meta.get("weights_sha256"):
        raise ModelError(f"{d / WEIGHTS}: checksum mismatch (the weights were modified or truncated)")
    backend = make_backend(BackendConfig(**meta["backend"]), device)
    model = backend.new_model(list(meta["heads"]), int(meta["seed"]))
    model.load_state_dict(load(data))
    return model, backend, meta


def predict_texts(model: TaskModel, backend: Backend, meta: dict[str, Any], texts: list[str]) -> np.ndarray:
    """P(positive) of the model's target for each text."""
    from raytp.models.training import predict_proba
    features = backend.featurize(list(texts))
    return predict_proba(model, backend, features, np.arange(len(texts)), meta["target"])


def read_texts(path: str | Path) -> list[str]:
    """Texts from a JSONL file: one JSON string, or an object with a "text" field, per line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise RaytpError(f"{p}: {e.strerror or e}") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RaytpError(f"{p}: not UTF-8 text (byte {e.start})") from None
    texts = []
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise RaytpError(f"{p}:{n}: not valid JSON (one JSON string or {{\"text\": ...}} per line)") from None
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str) or not text.strip():
            raise RaytpError(f"{p}:{n}: needs a non-empty string or an object with a non-empty \"text\" field")
        texts.append(text)
    if not texts:
        raise RaytpError(f"{p}: no texts (the file is empty)")
    return texts
