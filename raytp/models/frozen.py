"""A small network over frozen sentence embeddings (default encoder: the bundled all-MiniLM-L6-v2).

texts -> mean-pooled embeddings, computed once and cached on disk (``encoders.embed_texts``:
keyed by model, ``max_length`` and the sha256 of the texts) -> Linear + ReLU hidden layer ->
task heads. ``embed`` returns the cached embedding rows, so attributions describe the hidden
layer's neurons. Fast, but with the encoder frozen, pairing tasks moves F1 only within seed
noise (DESIGN.md): only the MLP is shared between tasks.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from raytp.config import BackendConfig
from raytp.models.base import Backend, Batch, HiddenLayerEncoder
from raytp.models.encoders import embed_texts, resolve_model_path


class EmbeddingMLPEncoder(HiddenLayerEncoder):
    """Precomputed embedding (B, D) -> ReLU(Linear(D, hidden))."""

    def __init__(self, in_dim: int, hidden: int, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.hidden_size = hidden
        self.fc = nn.Linear(in_dim, hidden)
        self.act = nn.ReLU()
        with torch.no_grad():
            bound = 1.0 / in_dim ** 0.5
            self.fc.weight.uniform_(-bound, bound, generator=gen)
            self.fc.bias.uniform_(-bound, bound, generator=gen)

    def embed(self, batch: Batch) -> torch.Tensor:
        return batch["x"]


class FrozenEncoderBackend(Backend):
    name = "frozen-encoder"

    def __init__(self, cfg: BackendConfig, device: str = "cpu"):
        super().__init__(cfg, device)
        self.model_path = resolve_model_path(cfg.model)
        self._in_dim: int | None = None

    @property
    def in_dim(self) -> int:
        """The encoder's embedding size (from its config, without loading the weights)."""
        if self._in_dim is None:
            from transformers import AutoConfig
            self._in_dim = int(AutoConfig.from_pretrained(self.model_path, local_files_only=True).hidden_size)
        return self._in_dim

    def featurize(self, texts: list[str]) -> torch.Tensor:
        """(N, D) float32 embeddings, from the cache when these texts were encoded before."""
        emb = embed_texts(texts, self.model_path, max_length=self.cfg.max_length, cache_dir=self.cfg.cache_dir,
                          device=str(self.device))
        return torch.from_numpy(emb).to(self.device)

    def batch(self, features: torch.Tensor, idx: np.ndarray) -> Batch:
        return {"x": features[torch.as_tensor(np.asarray(idx), dtype=torch.long, device=features.device)]}

    def new_encoder(self, seed: int) -> EmbeddingMLPEncoder:
        return EmbeddingMLPEncoder(self.in_dim, self.cfg.hidden, seed)

    def eval_batch_size(self) -> int:
        return 8192
