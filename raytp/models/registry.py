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
