"""Backend lookup by name."""

from __future__ import annotations

from raytp.config import BackendConfig
from raytp.errors import ConfigError
from raytp.models.base import Backend


def make_backend(cfg: BackendConfig, device: str = "cpu") -> Backend:
    if cfg.name == "hashed":
        from raytp.models.hashed import HashedBackend
        return HashedBackend(cfg, device)
    if cfg.name == "frozen-encoder":
        from raytp.models.frozen import FrozenEncoderBackend
        return FrozenEncoderBackend(cfg, device)
    if cfg.name == "transformer":
        from raytp.models.transformer import TransformerBackend
        return TransformerBackend(cfg, device)
    raise ConfigError(f"unknown backend {cfg.name!r}; use hashed, frozen-encoder or transformer")


def with_hidden(backend: Backend, cfg: BackendConfig, hidden: int | None) -> Backend:
    """``backend``, or one like it with another hidden size (a searched hyperparameter) on the same device;
    features do not depend on the hidden size, so they are reused."""
    if hidden is None or hidden == cfg.hidden:
        return backend
    return make_backend(cfg.model_copy(update={"hidden": int(hidden)}), str(backend.device))
