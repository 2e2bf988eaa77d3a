"""The pair feature table: one row per ordered pair (source, target), one column per feature.

Columns (``L`` = probe layer; see ``describe_column``):

- ``source``, ``target``: the task names.
- ``{method}/L/cosine``, ``{method}/L/spearman``, ``{method}/L/topk`` for each neuron-importance
  vector ``method`` in layer_activation, layer_conductance, layer_integrated_gradients,
  neuron_conductance: cosine, Spearman rank correlation and Jaccard overlap of the top
  ``top_k`` share of neurons (by magnitude). Meaningful between models sharing one initialisation.
- ``neuron_conductance_inputs/L/cosine``: cosine of the selected neurons' input attributions.
- ``input_ig/cosine``, ``input_ig/spearman``, ``input_ig/topk``: the two models' input-level attribution
  maps compared on each probe text (unit by unit: no neuron alignment needed), weighted over the texts
  (``raytp.profiling.input_maps``); only where both tasks' signatures hold maps.
- ``{matrix}/L/cka``, ``{matrix}/L/rsa`` for the probe x neuron matrices ``responses``,
  ``layer_conductance_examples``, ``layer_integrated_gradients_examples``: linear CKA and RSA,
  invariant to permuting neurons.
- ``source_positives`` / ``target_positives``: positive training labels each role sees (source:
  its source budget, target: its target budget).
- ``label_phi``: phi between the two tasks' labels on the training examples both have labels for
  within their budgets: the source's ``source_max_train`` examples and the target's ``max_train``
  labels (``raytp.data.subsets.pair_label_examples``; NaN, not 0, when they share none or either
  is constant there). Not symmetric when the budgets differ.
- ``label_copositives``: examples of those positive for both tasks (0 on one-vs-rest task sets, where
  phi is then a function of the two base rates only).
- ``source_f1_val`` / ``target_f1_val``: single-task validation F1 (seed mean).
- ``logme``: LogME of the source model's last probe layer responses for the target's labels on
  the probe examples (validation texts; labels outside the target's validation budget are left out).
- ``textemb``: TextEmb cosine of the two tasks' positive training texts (when given).
- ``signature_only`` / ``task_statistics``: the two family rankers' scores (``raytp.predict.families``;
  rank-based over this table's rows, baselines rather than features).
- ``random``: a seeded random score (the random-ranking baseline, not a feature).

Each feature column belongs to one signal family (``raytp.predict.families.column_family``: gradient
attribution, representation, label co-occurrence, task statistics, text embedding); ``describe_column``
names it.

Every column reads labels only within the label budget (``raytp.data.subsets``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from raytp.config import DataConfig, ordered_pairs
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import pair_label_examples, source_train, target_train, validation_labels
from raytp.errors import ProfilingError
from raytp.predict.baselines import logme, phi, random_scores
from raytp.predict.families import column_family, with_rankers
from raytp.profiling import input_maps
from raytp.profiling import similarity as sim

VECTOR_METHODS = ("layer_activation", "layer_conductance", "layer_integrated_gradients", "neuron_conductance")
MATRIX_KINDS = ("responses", "layer_conductance_examples", "layer_integrated_gradients_examples")
ID_COLUMNS = ("source", "target")
TASK_STAT_COLUMNS = ("source_positives", "target_positives", "source_f1_val", "target_f1_val")

Signatures = Mapping[str, Mapping[str, torch.Tensor]]


def _np(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def signature_layers(sig: Mapping[str, torch.Tensor]) -> list[str]:
    """Probe layer names of one task's signatures, in stored order."""
    return [k.split("/", 1)[1] for k in sig if k.startswith("responses/")]


def signature_similarities(signatures: Signatures, top_k: float = 0.1, tasks: list[str] | None = None,
                           input_weighting: str = "positive") -> pd.DataFrame:
    """Similarity columns for every ordered pair of ``tasks`` (default: all tasks with signatures);
    ``input_weighting``: how the input maps' per-text similarities are weighted (``input_maps.WEIGHTINGS``)."""
    tasks = list(tasks or signatures)
    missing = [t for t in tasks if t not in signatures]
    if missing:
        raise ProfilingError(f"no signatures for task(s) {missing}")
    if len(tasks) < 2:
        raise ProfilingError("pair features need signatures of at least two tasks")
    layers = signature_layers(signatures[tasks[0]])
    prepared: dict[tuple[str, str], sim.PreparedMatrix] = {}
    for t in tasks:
        for kind in MATRIX_KINDS:
            for layer in layers:
                key = f"{kind}/{layer}"
                if key in signatures[t]:
                    prepared[(t, key)] = sim.PreparedMatrix(_np(signatures[t][key]))
    maps = {t: input_maps.PreparedMap(signatures[t], top_k) for t in tasks if input_maps.has_maps(signatures[t])}
    rows = []
    for s, t in ordered_pairs(tasks):
        a, b = signatures[s], signatures[t]
        row: dict[str, object] = {"source": s, "target": t}
        for layer in layers:
            for method in VECTOR_METHODS:
                key = f"{method}/{layer}"
                if key in a and key in b:
                    va, vb = _np(a[key]), _np(b[key])
                    row[f"{key}/cosine"] = sim.cosine(va, vb)
                    row[f"{key}/spearman"] = sim.spearman(va, vb)
                    row[f"{key}/topk"] = sim.topk_overlap(va, vb, top_k)
            key = f"neuron_conductance_inputs/{layer}"
            if key in a and key in b:
                row[f"{key}/cosine"] = sim.cosine(_np(a[key]), _np(b[key]))
            for kind in MATRIX_KINDS:
                key = f"{kind}/{layer}"
                if key in a and key in b:
                    pa, pb = prepared[(s, key)], prepared[(t, key)]
                    row[f"{key}/cka"] = pa.cka(pb)
                    row[f"{key}/rsa"] = pa.rsa(pb)
        if s in maps and t in maps:
            row.update(maps[s].similarities(maps[t], input_weighting))
        rows.append(row)
    return pd.DataFrame(rows)


def label_phi(ds: MultiTaskDataset, source: str, target: str, idx: np.ndarray | None = None) -> float:
    """Phi of two tasks' labels over ``idx`` (default: the training split); NaN without shared annotations."""
    idx = ds.indices("train") if idx is None else np.asarray(idx)
    return phi(ds.y(source, idx), ds.y(target, idx))


def task_pair_statistics(ds: MultiTaskDataset, data_cfg: DataConfig, tasks: list[str],
                         single: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Cheap task statistics per ordered pair: positives, label phi and single-task validation F1 (all
    within the label budget)."""
    src_pos = {t: int((ds.y(t, source_train(ds, t, data_cfg)) == 1).sum()) for t in tasks}
    tgt_pos = {t: int((ds.y(t, target_train(ds, t, data_cfg)) == 1).sum()) for t in tasks}
    f1 = {t: float(single[t]["f1_val"]) if single and t in single else np.nan for t in tasks}
    rows = []
    for s, t in ordered_pairs(tasks):
        idx = pair_label_examples(ds, s, t, data_cfg)
        both = int(((ds.y(s, idx) == 1) & (ds.y(t, idx) == 1)).sum())
        rows.append({"source": s, "target": t, "source_positives": src_pos[s], "target_positives": tgt_pos[t],
                     "label_phi": label_phi(ds, s, t, idx), "label_copositives": both,
                     "source_f1_val": f1[s], "target_f1_val": f1[t]})
    return pd.DataFrame(rows)


def logme_table(signatures: Signatures, probe_labels: Mapping[str, np.ndarray], tasks: list[str],
                layer: str | None = None) -> pd.DataFrame:
    """LogME of each source's probe responses (last probe layer by default) for each target's probe labels."""
    rows = []
    for s, t in ordered_pairs(tasks):
        lay = layer or signature_layers(signatures[s])[-1]
        rows.append({"source": s, "target": t,
                     "logme": logme(_np(signatures[s][f"responses/{lay}"]), np.asarray(probe_labels[t]))})
    return pd.DataFrame(rows)


def pair_features(signatures: Signatures, *, dataset: MultiTaskDataset | None = None,
                  data_cfg: DataConfig | None = None, probe_idx: np.ndarray | None = None,
                  single: Mapping[str, Mapping] | None = None, textemb: pd.DataFrame | None = None,
                  top_k: float = 0.1, seed: int = 0, tasks: list[str] | None = None,
                  input_weighting: str = "positive") -> pd.DataFrame:
    """The pair feature table (see the module docstring); parts whose inputs are absent are left out.

    ``single`` maps task -> single-task summary (``f1_val``); ``textemb`` is a frame with columns
    source, target, textemb. Task statistics need ``dataset`` and ``data_cfg``; LogME needs
    ``dataset`` and ``probe_idx`` (the indices the signatures were computed on); with ``data_cfg`` its
    labels are limited to each target's validation budget."""
    tasks = list(tasks or signatures)
    table = signature_similarities(signatures, top_k, tasks, input_weighting)
    if dataset is not None and data_cfg is not None:
        table = table.merge(task_pair_statistics(dataset, data_cfg, tasks, single), on=list(ID_COLUMNS))
    if dataset is not None and probe_idx is not None:
        n_probe = next(iter(signatures[tasks[0]][k] for k in signatures[tasks[0]] if k.startswith("responses/")))
        if len(probe_idx) != n_probe.shape[0]:
            raise ProfilingError(f"probe_idx has {len(probe_idx)} examples, signatures {n_probe.shape[0]}")
        labels = {t: (validation_labels(dataset, t, probe_idx, data_cfg) if data_cfg is not None
                      else dataset.y(t, np.asarray(probe_idx))) for t in tasks}
        table = table.merge(logme_table(signatures, labels, tasks), on=list(ID_COLUMNS))
    if textemb is not None:
        table = table.merge(textemb[["source", "target", "textemb"]], on=list(ID_COLUMNS), how="left")
    table = with_rankers(table)
    table["random"] = random_scores(table, seed)
    return table


def describe_column(name: str) -> str:
    """One-line meaning of a pair feature column, ending with its signal family in brackets."""
    fixed = {
        "source": "source task", "target": "target task",
        "source_positives": "positive training labels of the source (source budget)",
        "target_positives": "positive training labels of the target (target budget)",
        "label_phi": "phi between the tasks' training labels where both have labels within their budgets "
                     "(NaN: none shared)",
        "label_copositives": "examples positive for both tasks among those (0: phi is a function of base rates)",
        "source_f1_val": "single-task validation F1 of the source", "target_f1_val": "single-task validation F1 of the target",
        "logme": "LogME of the source model's probe responses for the target's probe labels",
        "textemb": "cosine of mean MiniLM embeddings of the tasks' positive training texts",
        "random": "seeded random score (random-ranking baseline)",
        "signature_only": "signature-only ranker: mean rank of the gradient-attribution similarities",
        "task_statistics": "task-statistics ranker: mean rank of few target positives, many source positives, "
                           "low target F1",
    }
    family = column_family(name)
    suffix = f" [{family}]" if family else ""
    if name in fixed:
        return fixed[name] + suffix
    parts = name.split("/")
    measures = {"cosine": "cosine", "spearman": "Spearman rank correlation", "topk": "top-k Jaccard overlap",
                "cka": "linear CKA", "rsa": "RSA (Spearman of dissimilarity matrices)"}
    if len(parts) == 2 and parts[0] == input_maps.PREFIX:
        return (f"{measures.get(parts[1], parts[1])} of the two models' input-level integrated-gradients maps "
                f"per probe text, weighted over the texts{suffix}")
    if len(parts) == 3:
        what, layer, measure = parts
        return f"{measures.get(measure, measure)} of {what.replace('_', ' ')} signatures at layer {layer}{suffix}"
    if len(parts) == 2:
        what, measure = parts
        return f"{measures.get(measure, measure)} of {what.replace('_', ' ')} maps, over the probe texts{suffix}"
    return name
