"""Summaries of a ``MultiTaskDataset``: sizes, splits, positives per task, label co-occurrence.

Co-occurrence is measured on the training split, over examples annotated for both tasks:
phi (the Pearson correlation of the two 0/1 label vectors), the count of examples positive for
both, and their Jaccard overlap. "Sharing" says, per task, which share of its positives also
carry another task's positive, and the task it overlaps most with (highest Jaccard) with the
share of its positives that task also has. "Shared examples" says which tasks are annotated on
common examples at all (tasks from different corpora are not, and their phi is undefined).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raytp.data.combine import shared_examples
from raytp.data.dataset import MISSING, SPLITS, MultiTaskDataset
from raytp.data.loading import check_task_names
from raytp.errors import DataError


def select_tasks(ds: MultiTaskDataset, tasks: list[str] | None) -> MultiTaskDataset:
    """Keep ``tasks`` (all when None); an unknown name is a DataError naming the data and the known tasks."""
    if not tasks:
        return ds
    check_task_names(ds, tasks, ds.provenance.get("path", ds.provenance.get("name", "data")))
    if len(set(tasks)) != len(tasks):
        raise DataError(f"duplicate task names in {tasks}")
    return ds.select_tasks(list(tasks))


def cooccurrence(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Pairwise counts and phi for a 0/1/MISSING label matrix (n_examples x n_tasks).

    Returns square matrices: ``n`` (examples annotated for both), ``both`` (positive for both),
    ``phi`` (NaN where a task is constant on the shared examples) and ``jaccard``.
    """
    # float32 products count exactly up to 2**24 examples and are much cheaper than float64
    pos = np.ascontiguousarray((labels == 1).T, dtype=np.float32)
    ann = np.ascontiguousarray((labels != MISSING).T, dtype=np.float32)
    n = (ann @ ann.T).astype(np.float64)
    both = (pos @ pos.T).astype(np.float64)
    pos_a = (pos @ ann.T).astype(np.float64)  # [a, b]: positives of a among examples annotated for b
    pos_b = pos_a.T  # [a, b]: positives of b among examples annotated for a
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.sqrt(pos_a * (n - pos_a) * pos_b * (n - pos_b))
        phi = np.where(denom > 0, (both * n - pos_a * pos_b) / denom, np.nan)
        union = pos_a + pos_b - both
        jaccard = np.where(union > 0, both / union, np.nan)
    return {"n": n, "both": both, "phi": phi, "jaccard": jaccard}


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


def describe(ds: MultiTaskDataset, top: int = 10) -> dict[str, Any]:
    """One JSON-able summary of ``ds`` (see the module doc)."""
    prov = dict(ds.provenance)
    in_split = {s: ds.split == s for s in SPLITS}
    by_split = {s: ds.labels[m] for s, m in in_split.items()}
    pos_counts = {s: (x == 1).sum(axis=0) for s, x in by_split.items()}
    ann_counts = {s: (x != MISSING).sum(axis=0) for s, x in by_split.items()}
    positives = {t: {s: int(pos_counts[s][j]) for s in SPLITS} for j, t in enumerate(ds.tasks)}
    annotated = {t: {s: int(ann_counts[s][j]) for s in SPLITS} for j, t in enumerate(ds.tasks)}
    train = by_split["train"]
    out: dict[str, Any] = {
        "name": prov.get("name", "data"),
        "path": prov.get("path"),
        "examples": len(ds),
        "splits": {s: int(m.sum()) for s, m in in_split.items()},
        "n_tasks": len(ds.tasks),
        "tasks": list(ds.tasks),
        "positives": positives,
        "no_positive_in": {t: [s for s in SPLITS if p[s] == 0] for t, p in positives.items()
                           if any(p[s] == 0 for s in SPLITS)},
        "excluded": prov.get("excluded", {}),
    }
    if (ds.labels == MISSING).any():
        out["annotated"] = annotated
    per_example = (train == 1).sum(axis=1)
    if len(train):
        out["labels_per_example"] = {"split": "train", "mean": round(float(per_example.mean()), 3),
                                     "none": round(float((per_example == 0).mean()), 4),
                                     "two_or_more": round(float((per_example >= 2).mean()), 4)}
    co = cooccurrence(train)
    k = len(ds.tasks)
    pairs = []
    for a in range(k):
        for b in range(a + 1, k):
            pairs.append({"a": ds.tasks[a], "b": ds.tasks[b], "phi": _num(co["phi"][a, b]),
                          "both": int(co["both"][a, b]), "jaccard": _num(co["jaccard"][a, b])})
    pairs.sort(key=lambda p: (p["phi"] is None, -(p["phi"] or 0.0), -p["both"]))
    sharing = {}
    pos_train = train == 1
    n_pos_row = pos_train.sum(axis=1)
    for a, t in enumerate(ds.tasks):
        mine = pos_train[:, a]
        n_pos = int(mine.sum())
        shared = int((mine & (n_pos_row >= 2)).sum())
        jac = np.nan_to_num(co["jaccard"][a], nan=-1.0)
        jac[a] = -1.0
        best = int(np.argmax(jac)) if k > 1 and jac.max() > 0 else None
        sharing[t] = {"positives": n_pos,
                      "with_any_other": round(shared / n_pos, 4) if n_pos else None,
                      "most_with": ds.tasks[best] if best is not None else None,
                      "most_with_share": round(float(co["both"][a, best]) / n_pos, 4) if best is not None else None}
    out["cooccurrence"] = {"split": "train", "measure": "phi over examples annotated for both",
                           "top_pairs": pairs[:top], "pairs": len(pairs), "sharing": sharing}
    shared = shared_examples(ds)
    out["shared_examples"] = {"measure": shared["measure"], "groups": shared["groups"],
                              "shares_with": shared["shares_with"],
                              "corpora": {t: sorted({str(c) for c in ds.corpus[ds.labels[:, j] != MISSING]})
                                          for j, t in enumerate(ds.tasks)}}
    out["provenance"] = prov
    return out


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def format_description(d: dict[str, Any]) -> str:
    """A readable multi-line rendering of ``describe``'s output."""
    lines = [f"{d['name']}  {d['path'] or ''}".rstrip()]
    s = d["splits"]
    lines.append(f"{_fmt_int(d['examples'])} examples: " + " · ".join(f"{k} {_fmt_int(v)}" for k, v in s.items()))
    lines.append(f"{d['n_tasks']} tasks")
    for t, why in d["excluded"].items():
        lines.append(f"  excluded: {t} ({why})")
    prov = d.get("provenance", {})
    for part in prov.get("parts", []):
        lines.append(f"  corpus {part['corpus']}: {_fmt_int(part['examples'])} examples of {part['name']}"
                     f"{' (filtered)' if 'filter' in part else ''}, tasks: {', '.join(part['tasks'])}")
    if prov.get("missing_text", {}).get("count"):
        lines.append(f"  labelled tweets without hydrated text (left out): {prov['missing_text']['count']}")
    if prov.get("unknown_categories"):
        lines.append("  unknown categories (ignored): "
                     + ", ".join(f"{k} x{v}" for k, v in prov["unknown_categories"].items()))
    if prov.get("ignored_columns"):
        lines.append("  columns not used as labels: " + ", ".join(f"{k} ({v})" for k, v in prov["ignored_columns"].items()))
    if prov.get("dropped_rows", {}).get("missing_text"):
        lines.append(f"  rows dropped for missing text: {prov['dropped_rows']['missing_text']}")
    if prov.get("shared_texts"):
        lines.append(f"  texts present in more than one corpus: {prov['shared_texts']:,}")
    if "split" in prov and isinstance(prov["split"], dict):
        lines.append("  split: " + ", ".join(f"{k} {v}" for k, v in prov["split"].items()))
    lpe = d.get("labels_per_example")
    if lpe:
        lines.append(f"labels per example (train): mean {lpe['mean']:.2f}, none {lpe['none']:.1%}, "
                     f"two or more {lpe['two_or_more']:.1%}")

    sharing = d["cooccurrence"]["sharing"]
    width = max([len("task")] + [len(t) for t in d["tasks"]])
    lines.append("")
    lines.append(f"{'task':<{width}}  {'train':>7}  {'validation':>10}  {'test':>6}  {'pos% train':>10}  "
                 f"{'co-labelled':>11}  most with")
    for t in d["tasks"]:
        p = d["positives"][t]
        n_train = d.get("annotated", {}).get(t, {}).get("train", s["train"])
        rate = f"{p['train'] / n_train:.1%}" if n_train else "-"
        sh = sharing[t]
        co = f"{sh['with_any_other']:.0%}" if sh["with_any_other"] is not None else "-"
        most = f"{sh['most_with']} ({sh['most_with_share']:.0%})" if sh["most_with"] else "-"
        flag = "  <- no positives in " + ", ".join(d["no_positive_in"][t]) if t in d["no_positive_in"] else ""
        lines.append(f"{t:<{width}}  {p['train']:>7,}  {p['validation']:>10,}  {p['test']:>6,}  {rate:>10}  "
                     f"{co:>11}  {most}{flag}")

    sh = d.get("shared_examples")
    if sh:
        lines.append("")
        if len(sh["groups"]) <= 1:
            lines.append("shared examples: every task is annotated on common examples")
        else:
            lines.append(f"shared examples: {len(sh['groups'])} groups of tasks with no example in common "
                         "(label co-occurrence is undefined across groups)")
            for t in d["tasks"]:
                others = sh["shares_with"][t]
                lines.append(f"  {t:<{width}}  shares examples with: {', '.join(others) if others else 'none'}")

    top = d["cooccurrence"]["top_pairs"]
    if top:
        lines.append("")
        lines.append(f"top co-occurring pairs on train (phi; {d['cooccurrence']['pairs']} pairs in all)")
        lines.append(f"  {'phi':>6}  {'both':>6}  {'jaccard':>7}  pair")
        for p in top:
            phi = f"{p['phi']:+.3f}" if p["phi"] is not None else "   n/a"
            jac = f"{p['jaccard']:.3f}" if p["jaccard"] is not None else "n/a"
            lines.append(f"  {phi:>6}  {p['both']:>6,}  {jac:>7}  {p['a']} & {p['b']}")
    return "\n".join(lines)
