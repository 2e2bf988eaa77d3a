"""The one dataset type every loader returns: texts, binary task labels, a split, provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from raytp.errors import DataError

SPLITS = ("train", "validation", "test")
MISSING = -1  # label value for "not annotated for this task" (e.g. an example from another corpus)


@dataclass
class MultiTaskDataset:
    """Texts with one binary label column per task.

    ``labels[:, j]`` holds 0/1 for task ``tasks[j]``, or ``MISSING`` (-1) where the example
    carries no annotation for that task. ``split[i]`` is one of ``SPLITS``.
    """

    texts: list[str]
    tasks: list[str]
    labels: np.ndarray  # int8, shape (n_examples, n_tasks)
    split: np.ndarray  # str, shape (n_examples,)
    provenance: dict = field(default_factory=dict)
    corpus: np.ndarray | None = None  # str per example: which corpus it came from
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # side data per example (e.g. eventid, priority)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int8)
        self.split = np.asarray(self.split, dtype=object)
        if self.corpus is None:
            self.corpus = np.full(len(self.texts), self.provenance.get("name", "data"), dtype=object)
        if self.labels.shape != (len(self.texts), len(self.tasks)):
            raise DataError(f"labels shape {self.labels.shape} does not match {len(self.texts)} texts x {len(self.tasks)} tasks")
        bad = set(np.unique(self.split)) - set(SPLITS)
        if bad:
            raise DataError(f"unknown split value(s) {sorted(bad)}; expected {list(SPLITS)}")
        for name, col in self.columns.items():
            if len(col) != len(self.texts):
                raise DataError(f"side column {name!r} has {len(col)} values for {len(self.texts)} texts")

    def __len__(self) -> int:
        return len(self.texts)

    def task_index(self, task: str) -> int:
        try:
            return self.tasks.index(task)
        except ValueError:
            raise DataError(f"unknown task {task!r}; known tasks: {', '.join(self.tasks)}") from None

    def indices(self, split: str, task: str | None = None) -> np.ndarray:
        """Example indices in ``split`` (only those annotated for ``task`` when given)."""
        mask = self.split == split
        if task is not None:
            mask &= self.labels[:, self.task_index(task)] != MISSING
        return np.flatnonzero(mask)

    def y(self, task: str, idx: np.ndarray) -> np.ndarray:
        return self.labels[idx, self.task_index(task)].astype(np.int64)

    def select_tasks(self, tasks: list[str]) -> "MultiTaskDataset":
        cols = [self.task_index(t) for t in tasks]
        return MultiTaskDataset(list(self.texts), list(tasks), self.labels[:, cols], self.split.copy(),
                                dict(self.provenance), self.corpus.copy(),
                                {k: v.copy() for k, v in self.columns.items()})

    def positives(self) -> dict[str, dict[str, int]]:
        return {t: {s: int((self.labels[self.indices(s), j] == 1).sum()) for s in SPLITS}
                for j, t in enumerate(self.tasks)}

    def fingerprint(self) -> str:
        """Stable hash of texts, labels and splits (keys caches and checks run directories)."""
        h = hashlib.sha256()
        for t in self.texts:
            h.update(t.encode("utf-8", "replace"))
            h.update(b"\0")
        h.update(",".join(self.tasks).encode())
        h.update(self.labels.tobytes())
        h.update("|".join(self.split.tolist()).encode())
        return h.hexdigest()[:16]
