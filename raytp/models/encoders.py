"""Shared helpers of the encoder backends (pure torch, offline HuggingFace).

- ``resolve_model_path``: ``BackendConfig.model`` (a local folder or a name already in the local
  HuggingFace cache) -> what ``from_pretrained`` loads; None means the bundled all-MiniLM-L6-v2.
- ``load_tokenizer`` / ``load_pretrained``: offline loading (``local_files_only``), one clear error.
- ``mean_pool``: masked mean over tokens (how all-MiniLM-L6-v2 was trained to pool).
- ``embed_texts``: sentence embeddings of many texts, batched, cached on disk as safetensors keyed
  by the model, the token limit and the texts, so a second call loads instead of re-encoding.
- ``pick_device``: "cuda" when a GPU was requested and torch sees one, else "cpu".
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from raytp.errors import ConfigError

BUNDLED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}
CACHE_ENV = "RAYTP_CACHE_DIR"
PROGRESS_MIN_TEXTS = 2000  # show a progress bar when encoding at least this many texts


def pick_device(gpus: float) -> str:
    """"cuda" when ``gpus > 0`` and torch can see a GPU, else "cpu"."""
    return "cuda" if gpus > 0 and torch.cuda.is_available() else "cpu"


def resolve_model_path(model: str | os.PathLike | None) -> str:
    """The folder or cached hub name to load; None (or a MiniLM alias) means the bundled MiniLM."""
    if model is None or str(model).lower() in BUNDLED_ALIASES:
        from raytp.data.assets import minilm_dir
        return str(minilm_dir())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: backend.model folder has no config.json (not a HuggingFace model)")
        return str(path.resolve())
    if str(model).startswith((".", "/", "~")):
        raise ConfigError(f"{model}: backend.model path not found")
    return str(model)  # a hub name: must already be in the local HuggingFace cache (offline)


def _offline_error(model: str, what: str, err: Exception) -> ConfigError:
    return ConfigError(f"{model}: backend.model cannot load the {what} offline ({type(err).__name__}); "
                       "give a local model folder or pre-download it")


@lru_cache(maxsize=8)
def load_tokenizer(model_path: str):
    """The model's tokenizer (AutoTokenizer from the folder: the files it ships are used)."""
    from transformers import AutoTokenizer
    try:
        return AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise _offline_error(model_path, "tokenizer", e) from None


def load_pretrained(model_path: str) -> nn.Module:
    """A fresh copy of the pretrained encoder (AutoModel), on CPU, in eval mode.

    Always float32. Parameters the checkpoint lacks are initialised under a fixed seed, so every call gives the
    same weights (the shared initialisation of all task models)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()  # no "Loading weights" bar on every task model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            # float32 whatever the checkpoint stores: transformers 5 keeps a half-precision checkpoint in half
            # ("auto" dtype), which would not match the float32 task heads
            model = AutoModel.from_pretrained(model_path, local_files_only=True, dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise _offline_error(model_path, "model", e) from None
    return model.eval()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (B, T, H) over the tokens where ``mask`` (B, T) is 1 -> (B, H)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)


def model_fingerprint(model_path: str) -> str:
    """Hash of the model's identity: its name/path, config.json and weight files (names and sizes)."""
    h = hashlib.sha256(model_path.encode())
    folder = Path(model_path)
    if folder.is_dir():
        h.update((folder / "config.json").read_bytes())
        for f in sorted(folder.iterdir()):
            if f.suffix in {".safetensors", ".bin", ".pt"}:
                h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()


def texts_fingerprint(texts: Sequence[str]) -> str:
    """sha256 of the texts, in order."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()


def embedding_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where embeddings are cached: ``explicit`` (backend.cache_dir), else $RAYTP_CACHE_DIR/embeddings,
    else ~/.cache/raytp/embeddings."""
    if explicit is not None:
        return Path(explicit).expanduser()
    root = os.environ.get(CACHE_ENV)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "raytp") / "embeddings"


def embedding_cache_path(texts: Sequence[str], model_path: str, max_length: int,
                         cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache file ``embed_texts`` reads and writes for these texts, model and token limit."""
    key = hashlib.sha256(json.dumps([model_fingerprint(model_path), max_length, "mean",
                                     texts_fingerprint(texts)]).encode()).hexdigest()[:32]
    return embedding_cache_dir(cache_dir) / f"{key}.safetensors"


def _read_cache(path: Path, n: int) -> np.ndarray | None:
    from safetensors.numpy import load_file
    try:
        emb = load_file(str(path))["embeddings"]
    except Exception:  # unreadable or truncated: re-encode and overwrite
        return None
    return emb if emb.ndim == 2 and emb.shape[0] == n else None


@lru_cache(maxsize=1)
def _inference_model(model_path: str) -> nn.Module:
    """The pretrained encoder kept for encoding texts (never trained, so one copy is reused)."""
    return load_pretrained(model_path)


@torch.no_grad()
def _encode(texts: Sequence[str], model_path: str, max_length: int, batch_size: int, device: str,
            progress: bool) -> np.ndarray:
    from tqdm.auto import tqdm
    tok = load_tokenizer(model_path)
    model = _inference_model(model_path).to(device)
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
    starts = range(0, len(texts), batch_size)
    for s in tqdm(starts, desc="encoding texts", unit="batch", disable=not progress):
        idx = order[s:s + batch_size]
        enc = tok([texts[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                  return_tensors="pt").to(device)
        hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        out[idx] = mean_pool(hidden, enc["attention_mask"]).float().cpu().numpy()
    return out


def embed_texts(texts: Sequence[str], model_path: str | None = None, max_length: int = 64, batch_size: int = 64,
                cache_dir: str | os.PathLike | None = None, use_cache: bool = True, device: str = "cpu",
                progress: bool | None = None) -> np.ndarray:
    """Mean-pooled sentence embeddings (N, H) float32 of ``texts``, read from or written to the cache.

    ``model_path``: a folder or cached hub name (None: the bundled MiniLM). The cache key is the
    model fingerprint, ``max_length`` and the sha256 of the texts; the write is atomic."""
    from raytp.rundir import atomic_write_bytes
    texts = list(texts)
    resolved = resolve_model_path(model_path)
    path = embedding_cache_path(texts, resolved, max_length, cache_dir) if use_cache else None
    if path is not None and path.is_file():
        cached = _read_cache(path, len(texts))
        if cached is not None:
            return cached
    if progress is None:
        progress = len(texts) >= PROGRESS_MIN_TEXTS
    emb = _encode(texts, resolved, max_length, batch_size, device, progress)
    if path is not None:
        from safetensors.numpy import save
        meta = {"model": resolved, "max_length": str(max_length), "pooling": "mean", "n": str(len(texts))}
        atomic_write_bytes(path, save({"embeddings": emb}, metadata=meta))
    return emb
