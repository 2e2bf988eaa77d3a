"""The small interface every model backend implements (pure torch, no Ray).

A backend turns texts into precomputed *features* once, builds seeded *encoders* that map a
batch to a hidden representation through a continuous input embedding (what attribution
methods interpolate), and says how to optimise them. Task models are an encoder plus one
linear head per task, so single-task, multitask and sequential training share one loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch import nn

from raytp.config import DEFAULT_LR, BackendConfig

Batch = dict[str, torch.Tensor]


class Encoder(nn.Module, ABC):
    """batch -> (B, hidden_size), split as ``encode(embed(batch), batch)``."""

    hidden_size: int

    @abstractmethod
    def embed(self, batch: Batch) -> torch.Tensor:
        """Continuous input representation (B, ..., D); attributions interpolate it from zeros."""

    @abstractmethod
    def encode(self, embedded: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Hidden representation (B, hidden_size) from the embedded inputs."""

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.encode(self.embed(batch), batch)

    @abstractmethod
    def probe_layers(self) -> dict[str, nn.Module]:
        """Named layers whose neurons signatures describe, in input-to-output order.

        Each module's output must be (B, n_neurons) or (B, T, n_neurons)."""

    def input_units(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What an input attribution map scores: units (B, T, D), mask (B, T) bool, ids (B, T) int64.

        ``embed_units(units, mask)`` maps the units back to ``embed(batch)``. Default: a (B, T, D)
        embedding gives one unit per token (``attention_mask`` / ``input_ids`` of the batch when present);
        a (B, D) one gives one unit per dimension (D units of size 1, ids 0..D-1)."""
        x = self.embed(batch)
        if x.dim() == 2:
            n, d = x.shape
            ids = torch.arange(d, device=x.device).expand(n, d)
            return x.unsqueeze(-1), torch.ones(n, d, dtype=torch.bool, device=x.device), ids
        n, t = x.shape[:2]
        mask = batch.get("attention_mask")
        mask = mask.bool() if mask is not None and tuple(mask.shape) == (n, t) else \
            torch.ones(n, t, dtype=torch.bool, device=x.device)
        ids = batch.get("input_ids")
        ids = ids.long() if ids is not None and tuple(ids.shape) == (n, t) else \
            torch.arange(t, device=x.device).expand(n, t)
        return x, mask, ids

    def embed_units(self, units: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``embed(batch)`` from its ``input_units``: linear in the units (input maps rely on it).

        Default: per-dimension units (B, D, 1) are squeezed back to (B, D); token units are the embedding."""
        return units.squeeze(-1) if units.shape[-1] == 1 else units


class HiddenLayerEncoder(Encoder):
    """An embedding (``embed``, per subclass) -> ``act(fc(.))``: one hidden layer, the probed one ("hidden")."""

    fc: nn.Linear
    act: nn.Module

    def encode(self, embedded: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.act(self.fc(embedded))

    def probe_layers(self) -> dict[str, nn.Module]:
        return {"hidden": self.act}


class TaskModel(nn.Module):
    """A shared encoder with one binary head per task."""

    def __init__(self, encoder: Encoder, tasks: list[str], seed: int):
        super().__init__()
        self.encoder = encoder
        gen = torch.Generator().manual_seed(seed + 7919)
        self.heads = nn.ModuleDict()
        for t in tasks:
            head = nn.Linear(encoder.hidden_size, 1)
            with torch.no_grad():
                bound = 1.0 / encoder.hidden_size ** 0.5
                head.weight.uniform_(-bound, bound, generator=gen)
                head.bias.zero_()
            self.heads[t] = head

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        return self.heads[task](self.encoder(batch)).squeeze(-1)

    def logits_from_embedded(self, embedded: torch.Tensor, batch: Batch, task: str) -> torch.Tensor:
        return self.heads[task](self.encoder.encode(embedded, batch)).squeeze(-1)

    def add_head(self, task: str, seed: int) -> None:
        fresh = TaskModel(self.encoder, [task], seed).heads[task]
        self.heads[task] = fresh


class Backend(ABC):
    """A model family: featurise texts once, build seeded encoders, batch, optimise."""

    name: str = ""
    default_lr: float = 1e-2  # what train.lr defaults to for this backend: config.DEFAULT_LR[name]
    stackable: bool = False  # input -> Linear+ReLU -> heads: seeds can train stacked (models/batched.py)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.default_lr = DEFAULT_LR.get(cls.name, cls.default_lr)

    def __init__(self, cfg: BackendConfig, device: str = "cpu"):
        self.cfg = cfg
        self.device = torch.device(device)

    @abstractmethod
    def featurize(self, texts: list[str]) -> Any:
        """Precompute whatever batches are cut from (token ids, hashed n-grams, cached embeddings)."""

    @abstractmethod
    def batch(self, features: Any, idx: np.ndarray) -> Batch:
        """Tensors for the examples ``idx`` on ``self.device``."""

    @abstractmethod
    def new_encoder(self, seed: int) -> Encoder:
        """An encoder whose weights depend only on ``seed`` (one shared initialisation for all tasks)."""

    def new_model(self, tasks: list[str], seed: int) -> TaskModel:
        return TaskModel(self.new_encoder(seed), tasks, seed).to(self.device)

    def new_models(self, tasks: list[str], seeds: list[int]) -> list[TaskModel]:
        """``new_model`` for each seed (backends may lay the seeds' weights out to stack cheaply)."""
        return [self.new_model(tasks, s) for s in seeds]

    def optimizers(self, model: nn.Module, lr: float, weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
        return [torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)]

    def eval_batch_size(self) -> int:
        return 1024
