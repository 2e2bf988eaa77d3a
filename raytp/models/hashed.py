"""From-scratch model over hashed word unigrams + bigrams: fast on CPU, representation learned.

texts -> hashed n-gram ids (sklearn's HashingVectorizer, stable murmurhash) -> EmbeddingBag
(mean, sparse gradients) -> Linear + ReLU hidden layer -> task heads. The embedding table is
trained with SparseAdam, the rest with Adam, so a step costs only the rows a batch touches.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import HashingVectorizer
from torch import nn

from raytp.config import BackendConfig
from raytp.models.base import Backend, Batch, HiddenLayerEncoder, TaskModel


class HashedEncoder(HiddenLayerEncoder):
    def __init__(self, buckets: int, embed_dim: int, hidden: int, seed: int,
                 init: tuple[torch.Tensor, torch.Tensor] | None = None):
        """``init``: this seed's initial table and the generator state after drawing it
        (``HashedBackend.initial_table``), to skip redrawing 16M normals; the weights are the same."""
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.hidden_size = hidden
        # _weight: skip EmbeddingBag's own (global-RNG) init of the table, overwritten just below anyway
        self.bag = nn.EmbeddingBag(buckets, embed_dim, mode="mean", sparse=True,
                                   _weight=torch.empty(buckets, embed_dim))
        self.fc = nn.Linear(embed_dim, hidden)
        self.act = nn.ReLU()
        with torch.no_grad():
            if init is None:
                self.bag.weight.normal_(0.0, 0.1, generator=gen)
            else:
                self.bag.weight.copy_(init[0])
                gen.set_state(init[1])
            bound = 1.0 / embed_dim ** 0.5
            self.fc.weight.uniform_(-bound, bound, generator=gen)
            self.fc.bias.uniform_(-bound, bound, generator=gen)

    def embed(self, batch: Batch) -> torch.Tensor:
        return self.bag(batch["ids"], batch["offsets"])

    def input_units(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One unit per n-gram of each text: its embedding row (B, T, D), padded; ids are the hash buckets
        (the same for every model of one featurisation, so maps align across models)."""
        ids, offsets = batch["ids"], batch["offsets"]
        lengths = torch.diff(offsets, append=offsets.new_tensor([ids.numel()]))
        width = max(1, int(lengths.max())) if lengths.numel() else 1
        mask = torch.arange(width, device=ids.device) < lengths.unsqueeze(1)
        padded = torch.zeros(mask.shape, dtype=torch.long, device=ids.device)
        padded[mask] = ids  # ids are concatenated row by row: the mask's row-major order
        return self.bag.weight[padded] * mask.unsqueeze(-1), mask, padded

    def embed_units(self, units: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The bag's mean pooling made explicit (linear): the mean of each text's n-gram rows (zeros for none)."""
        m = mask.unsqueeze(-1).to(units.dtype)
        return (units * m).sum(1) / m.sum(1).clamp_min(1.0)


INIT_CACHE = 3  # initial tables kept per process (67 MB each at the default size): the default seeds


class HashedBackend(Backend):
    name = "hashed"
    stackable = True  # the seeds of a configuration train as one stacked model (models/batched.py)

    def __init__(self, cfg: BackendConfig, device: str = "cpu"):
        super().__init__(cfg, device)
        self._init_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def featurize(self, texts: list[str]) -> sp.csr_matrix:
        vec = HashingVectorizer(n_features=self.cfg.hash_buckets, ngram_range=(1, 2), alternate_sign=False,
                                norm=None, binary=True, lowercase=True, dtype=np.float32)
        x = vec.transform(texts).tocsr()
        x.sort_indices()
        return x

    def batch(self, features: sp.csr_matrix, idx: np.ndarray) -> Batch:
        rows = features[np.asarray(idx)]
        return {"ids": torch.from_numpy(rows.indices.astype(np.int64)).to(self.device),
                "offsets": torch.from_numpy(rows.indptr[:-1].astype(np.int64)).to(self.device)}

    def new_encoder(self, seed: int) -> HashedEncoder:
        return HashedEncoder(self.cfg.hash_buckets, self.cfg.embed_dim, self.cfg.hidden, seed)

    def initial_table(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Seed ``seed``'s initial table and its generator's state after it, kept for this process's last
        ``INIT_CACHE`` seeds (the trials of a worker reuse the same seeds)."""
        key = (seed, self.cfg.hash_buckets, self.cfg.embed_dim)
        if key not in self._init_cache:
            gen = torch.Generator().manual_seed(seed)
            table = torch.empty(self.cfg.hash_buckets, self.cfg.embed_dim).normal_(0.0, 0.1, generator=gen)
            self._init_cache[key] = (table, gen.get_state())
            while len(self._init_cache) > INIT_CACHE:
                self._init_cache.pop(next(iter(self._init_cache)))
        return self._init_cache[key]

    def new_models(self, tasks: list[str], seeds: list[int]) -> list[TaskModel]:
        """``new_model`` for each seed, the tables copied from ``initial_table`` (same weights, no redraw)."""
        return [TaskModel(HashedEncoder(self.cfg.hash_buckets, self.cfg.embed_dim, self.cfg.hidden, s,
                                        self.initial_table(s)), tasks, s).to(self.device) for s in seeds]

    def optimizers(self, model: nn.Module, lr: float, weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
        sparse = [p for n, p in model.named_parameters() if n.endswith("bag.weight")]
        dense = [p for n, p in model.named_parameters() if not n.endswith("bag.weight")]
        return [torch.optim.SparseAdam(sparse, lr=lr), torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay)]

    def eval_batch_size(self) -> int:
        return 4096
