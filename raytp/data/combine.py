"""Several corpora in one ``MultiTaskDataset``: filter a part of a corpus, prefix its tasks, combine.

``combine_datasets`` concatenates the parts' texts; each task keeps its labels on its own
corpus's examples and is ``MISSING`` (not negative) on every other corpus's examples, so
``ds.indices(split, task)`` only ever returns the task's own examples. Splits are kept per
corpus, ``corpus`` names each example's part, and ``provenance["parts"]`` lists the parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raytp.config import CorpusFilter
from raytp.data.dataset import MISSING, SPLITS, MultiTaskDataset
from raytp.errors import DataError


def _where(ds: MultiTaskDataset) -> str:
    return str(ds.provenance.get("path") or ds.provenance.get("name", "data"))


def subset(ds: MultiTaskDataset, mask: np.ndarray, note: dict[str, Any] | None = None) -> MultiTaskDataset:
    """The examples where ``mask`` is true (tasks unchanged); ``note`` is recorded as provenance["filter"]."""
    mask = np.asarray(mask, dtype=bool)
    prov = dict(ds.provenance)
    if note is not None:
        prov["filter"] = {**note, "kept": int(mask.sum()), "of": len(ds)}
    texts = [t for t, keep in zip(ds.texts, mask) if keep]
    return MultiTaskDataset(texts, list(ds.tasks), ds.labels[mask], ds.split[mask], prov, ds.corpus[mask],
                            {k: v[mask] for k, v in ds.columns.items()})


def _side_column(ds: MultiTaskDataset, name: str) -> np.ndarray:
    if name not in ds.columns:
        have = ", ".join(sorted(ds.columns)) or "none"
        raise DataError(f"{_where(ds)}: no side column {name!r} to filter on (side columns: {have})")
    return ds.columns[name]


def filter_mask(ds: MultiTaskDataset, filt: CorpusFilter) -> np.ndarray:
    """Which examples ``filt`` keeps (see ``CorpusFilter``)."""
    if filt.column is not None:
        col = _side_column(ds, filt.column)
        wanted = {str(v) for v in filt.values or []}
        return np.array([str(v) in wanted for v in col], dtype=bool)
    col = _side_column(ds, filt.id_column)
    try:
        ids = np.array([int(v) for v in col], dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(f"{_where(ds)}: side column {filt.id_column!r} holds non-integer ids; "
                        "filter by `column` + `values` instead") from None
    rem = filt.remainder if isinstance(filt.remainder, list) else [filt.remainder]
    return np.isin((ids // filt.id_divisor) % filt.id_modulo, rem)


def filter_dataset(ds: MultiTaskDataset, filt: CorpusFilter | None) -> MultiTaskDataset:
    """``ds`` restricted to what ``filt`` keeps (unchanged when None); a part missing a split is an error."""
    if filt is None:
        return ds
    mask = filter_mask(ds, filt)
    out = subset(ds, mask, filt.model_dump(exclude_none=True))
    empty = [s for s in SPLITS if not (out.split == s).any()]
    if empty:
        raise DataError(f"{_where(ds)}: filter {filt.model_dump(exclude_none=True)} keeps {int(mask.sum())} "
                        f"examples but none in the {', '.join(empty)} split(s) (ids may encode the split: "
                        "try id_divisor or a column filter)")
    return out


def prefix_tasks(ds: MultiTaskDataset, prefix: str | None) -> MultiTaskDataset:
    """Rename every task ``t`` to ``prefix:t`` (provenance["excluded"] too); unchanged when None."""
    if not prefix:
        return ds
    prov = dict(ds.provenance)
    if prov.get("excluded"):
        prov["excluded"] = {f"{prefix}:{t}": why for t, why in prov["excluded"].items()}
    return MultiTaskDataset(ds.texts, [f"{prefix}:{t}" for t in ds.tasks], ds.labels, ds.split, prov,
                            ds.corpus, ds.columns)


def combine_datasets(parts: list[tuple[str, MultiTaskDataset]]) -> MultiTaskDataset:
    """One dataset over every part's examples; a task is MISSING on the other parts' examples.

    ``parts`` pairs a corpus name (unique) with its dataset. Task names must be unique across
    parts (prefix them otherwise). Side columns are kept (None where a part lacks one);
    provenance["parts"] lists each part's corpus, source, size, splits and tasks, and
    provenance["shared_texts"] counts texts that occur in more than one part (the same message
    in two corpora: tasks there still share no annotated example)."""
    if not parts:
        raise DataError("combine_datasets: no data sets to combine")
    names = [n for n, _ in parts]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"combine_datasets: corpus name(s) {dup} used more than once")
    owner: dict[str, str] = {}
    for name, ds in parts:
        for t in ds.tasks:
            if t in owner:
                raise DataError(f"task {t!r} is in corpus {owner[t]!r} and corpus {name!r}: "
                                "give one of them a `prefix` (tasks become prefix:task)")
            owner[t] = name
    tasks = [t for _, ds in parts for t in ds.tasks]
    n = sum(len(ds) for _, ds in parts)
    labels = np.full((n, len(tasks)), MISSING, dtype=np.int8)
    texts: list[str] = []
    split, corpus = [], []
    col_names = sorted({c for _, ds in parts for c in ds.columns})
    columns: dict[str, list[np.ndarray]] = {c: [] for c in col_names}
    prov_parts, excluded = [], {}
    row = col = 0
    for name, ds in parts:
        k, m = len(ds.tasks), len(ds)
        labels[row:row + m, col:col + k] = ds.labels
        texts += ds.texts
        split.append(ds.split)
        corpus.append(np.full(m, name, dtype=object))
        for c in col_names:
            columns[c].append(np.asarray(ds.columns[c], dtype=object) if c in ds.columns
                              else np.full(m, None, dtype=object))
        p = ds.provenance
        prov_parts.append({"corpus": name, "name": p.get("name"), "path": p.get("path"), "examples": m,
                           "splits": {s: int((ds.split == s).sum()) for s in SPLITS}, "tasks": list(ds.tasks),
                           **({"filter": p["filter"]} if "filter" in p else {})})
        excluded.update(p.get("excluded", {}))
        row, col = row + m, col + k
    seen: dict[str, int] = {}
    shared = set()
    for i, (_, ds) in enumerate(parts):
        for t in set(ds.texts):
            if seen.setdefault(t, i) != i:
                shared.add(t)
    prov = {"name": "combined", "path": None, "parts": prov_parts, "excluded": excluded,
            "shared_texts": len(shared)}
    return MultiTaskDataset(texts, tasks, labels, np.concatenate(split), prov, np.concatenate(corpus),
                            {c: np.concatenate(v) for c, v in columns.items()})


def shared_examples(ds: MultiTaskDataset) -> dict[str, Any]:
    """Which tasks are annotated on common examples (any split).

    ``counts[a][b]``: examples annotated for both; ``shares_with[t]``: the other tasks with at
    least one such example; ``groups``: connected groups of tasks (tasks in different groups
    share no example, so label co-occurrence between them is undefined)."""
    ann = np.ascontiguousarray((ds.labels != MISSING).T, dtype=np.float32)
    both = (ann @ ann.T).astype(np.int64)
    k = len(ds.tasks)
    shares = {t: [ds.tasks[b] for b in range(k) if b != a and both[a, b] > 0] for a, t in enumerate(ds.tasks)}
    group = list(range(k))

    def root(a: int) -> int:
        while group[a] != a:
            group[a] = group[group[a]]
            a = group[a]
        return a

    for a in range(k):
        for b in range(a + 1, k):
            if both[a, b] > 0:
                group[root(b)] = root(a)
    groups: dict[int, list[str]] = {}
    for a, t in enumerate(ds.tasks):
        groups.setdefault(root(a), []).append(t)
    return {"measure": "examples annotated for both tasks (all splits)",
            "counts": {t: {u: int(both[a, b]) for b, u in enumerate(ds.tasks) if b != a}
                       for a, t in enumerate(ds.tasks)},
            "shares_with": shares, "groups": list(groups.values())}
