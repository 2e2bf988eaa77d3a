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

from raytp.models.base import Backend, Batch, HiddenLayerEncoder


class HashedEncoder(HiddenLayerEncoder):
    def __init__(self, buckets: int, embed_dim: int, hidden: int, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.hidden_size = hidden
        self.bag = nn.EmbeddingBag(buckets, embed_dim, mode="mean", sparse=True)
        self.fc = nn.Linear(embed_dim, hidden)
        self.act = nn.ReLU()
        with torch.no_grad():
            self.bag.weight.normal_(0.0, 0.1, generator=gen)
            bound = 1.0 / embed_dim ** 0.5
            self.fc.weight.uniform_(-bound, bound, generator=gen)
            self.fc.bias.uniform_(-bound, bound, generator=gen)

    def embed(self, batch: Batch) -> torch.Tensor:
        return self.bag(batch["ids"], batch["offsets"])


class HashedBackend(Backend):
    name = "hashed"

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

    def optimizers(self, model: nn.Module, lr: float, weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
        sparse = [p for n, p in model.named_parameters() if n.endswith("bag.weight")]
        dense = [p for n, p in model.named_parameters() if not n.endswith("bag.weight")]
        return [torch.optim.SparseAdam(sparse, lr=lr), torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay)]

    def eval_batch_size(self) -> int:
        return 4096
