"""TextEmb-style task similarity (Vu et al., EMNLP 2020): cosine of mean sentence embeddings.

Each task is represented by the mean MiniLM embedding of its positive training texts (its target
training budget); a pair's score is the cosine of the two task vectors. Embeddings come from
``raytp.models.encoders.embed_texts`` (offline, cached on disk).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from raytp.config import DataConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import target_train
from raytp.profiling.similarity import cosine

EmbedFn = Callable[[Sequence[str]], np.ndarray]


def default_embed(texts: Sequence[str]) -> np.ndarray:
    """Mean-pooled embeddings of the bundled all-MiniLM-L6-v2 (cached)."""
    from raytp.models.encoders import embed_texts
    return embed_texts(list(texts))


def task_vectors(ds: MultiTaskDataset, tasks: list[str], data_cfg: DataConfig, embed: EmbedFn | None = None,
                 max_texts: int | None = 500) -> dict[str, np.ndarray]:
    """Mean embedding of each task's positive training texts (at most ``max_texts`` each; NaN if none)."""
    embed = embed or default_embed
    chosen: dict[str, np.ndarray] = {}
    for t in tasks:
        idx = target_train(ds, t, data_cfg)
        pos = idx[ds.y(t, idx) == 1]
        chosen[t] = pos[:max_texts] if max_texts is not None else pos
    union = np.unique(np.concatenate([v for v in chosen.values()] + [np.zeros(0, dtype=np.int64)]))
    emb = embed([ds.texts[i] for i in union]) if len(union) else np.zeros((0, 1))
    row = {int(i): r for r, i in enumerate(union)}
    out = {}
    for t, pos in chosen.items():
        out[t] = (emb[[row[int(i)] for i in pos]].mean(0) if len(pos)
                  else np.full(emb.shape[1] if emb.ndim == 2 else 1, np.nan))
    return out


def textemb_table(vectors: dict[str, np.ndarray], tasks: list[str] | None = None) -> pd.DataFrame:
    """Frame (source, target, textemb) for every ordered pair: cosine of the task vectors."""
    tasks = list(tasks or vectors)
    rows = []
    for s in tasks:
        for t in tasks:
            if s != t:
                ok = np.all(np.isfinite(vectors[s])) and np.all(np.isfinite(vectors[t]))
                rows.append({"source": s, "target": t,
                             "textemb": cosine(vectors[s], vectors[t]) if ok else float("nan")})
    return pd.DataFrame(rows)
