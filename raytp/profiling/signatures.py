"""Attribution signatures of one single-task model on the shared probe set (Captum, pure torch).

Every method attributes the task head's logit, computed by ``model.logits_from_embedded``, to
the neurons of each layer in ``model.encoder.probe_layers()``; inputs are the continuous
``model.encoder.embed(batch)`` (``inputs_embeds`` for transformers), baselines are zeros.

Keys of the returned mapping (``L`` = a probe layer, ``P`` = probe examples, ``H`` = neurons):

- ``responses/L`` (P, H): activations, averaged over tokens; always computed (CKA/RSA need them).
- ``layer_activation/L`` (H,): mean activation over the probe.
- ``layer_conductance/L`` (H,) and ``layer_conductance_examples/L`` (P, H): conductance
  (Dhamdhere et al.) of each neuron; per example summed over tokens, then averaged over the probe.
- ``layer_integrated_gradients/L`` (H,) and ``layer_integrated_gradients_examples/L`` (P, H):
  integrated gradients in the layer's own output space.
- ``neuron_conductance/L`` (m,): per selected neuron, the mean over the probe of the L1 norm of
  its conductance over input dimensions; ``neuron_conductance_inputs/L`` (m, D): the mean input
  attribution through each selected neuron; ``neuron_conductance_neurons/L`` (m,): their indices.
  Neuron conductance costs one integrated-gradients pass per neuron, so only ``max_neurons``
  evenly spaced neurons (the same indices for every task) are attributed.
- ``input_attributions`` (P, T), ``input_mask``, ``input_ids`` (P, T), ``input_logits`` (P,): method
  ``input_integrated_gradients``, the input-level attribution map of every probe text
  (``raytp.profiling.input_maps``: per n-gram, token or input dimension, by backend).

Token axes (B, T, H) are reduced with the batch's ``attention_mask`` when it has shape (B, T).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from captum.attr import LayerActivation, LayerConductance, LayerIntegratedGradients, NeuronConductance

from raytp.config import ProfilingConfig
from raytp.errors import ProfilingError
from raytp.models.base import Backend, Batch, TaskModel
from raytp.profiling import input_maps

METHODS = ("layer_conductance", "neuron_conductance", "layer_integrated_gradients", "layer_activation",
           input_maps.METHOD)
FORMAT_VERSION = "1"


def probe_fingerprint(probe_idx: np.ndarray, data_fingerprint: str) -> str:
    """Hash of the probe indices and the dataset they index: signatures compare only when equal."""
    h = hashlib.sha256(np.asarray(probe_idx, dtype=np.int64).tobytes())
    h.update(data_fingerprint.encode())
    return h.hexdigest()[:16]


def _expander(batch: Batch, n: int) -> Callable[[torch.Tensor], Batch]:
    """Repeat per-example tensors (B, ...) of ``batch`` to match inputs that Captum stacked k-fold."""
    def expand(embedded: torch.Tensor) -> Batch:
        k = embedded.shape[0] // n
        if k <= 1:
            return batch
        return {key: (v.repeat(k, *([1] * (v.dim() - 1))) if v.dim() >= 2 and v.shape[0] == n else v)
                for key, v in batch.items()}
    return expand


def _logits(model: TaskModel, batch: Batch, n: int, task: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """embedded inputs (the ``n`` examples of ``batch``, possibly stacked k-fold) -> the head ``task``'s logits."""
    expand = _expander(batch, n)
    return lambda x: model.logits_from_embedded(x, expand(x), task)


def _reduce_tokens(x: torch.Tensor, mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """(B, T, H) -> (B, H) by masked mean or sum; (B, H) unchanged."""
    if x.dim() == 2:
        return x
    if x.dim() != 3:
        raise ProfilingError(f"probe layer output has shape {tuple(x.shape)}; expected (B, H) or (B, T, H)")
    w = mask.to(x.dtype).unsqueeze(-1) if mask is not None and tuple(mask.shape) == tuple(x.shape[:2]) \
        else torch.ones_like(x[..., :1])
    total = (x * w).sum(1)
    return total if how == "sum" else total / w.sum(1).clamp_min(1.0)


def _flat_inputs(attr: torch.Tensor) -> torch.Tensor:
    """Input attribution (B, [T,] D) -> (B, D), summed over tokens."""
    return attr.sum(1) if attr.dim() == 3 else attr.reshape(attr.shape[0], -1)


def _chunks(probe_idx: np.ndarray, size: int) -> list[np.ndarray]:
    return [probe_idx[s:s + size] for s in range(0, len(probe_idx), size)]


def compute_signatures(model: TaskModel, backend: Backend, features: Any, probe_idx: np.ndarray, task: str,
                       cfg: ProfilingConfig, *, max_neurons: int = 16) -> dict[str, torch.Tensor]:
    """Signatures of ``model``'s head ``task`` on the probe examples, for every method in ``cfg.methods``."""
    probe_idx = np.asarray(probe_idx)
    if len(probe_idx) == 0:
        raise ProfilingError("the probe set is empty")
    if task not in model.heads:
        raise ProfilingError(f"model has no head {task!r}; heads: {', '.join(model.heads)}")
    unknown = set(cfg.methods) - set(METHODS)
    if unknown:
        raise ProfilingError(f"unknown signature method(s) {sorted(unknown)}; known: {', '.join(METHODS)}")
    layers = model.encoder.probe_layers()
    was_training = model.training
    model.eval()
    chunk = max(1, backend.eval_batch_size() // cfg.n_steps)  # Captum stacks n_steps copies
    parts: dict[str, list[torch.Tensor]] = {}
    maps: list[dict[str, torch.Tensor]] = []

    def add(key: str, value: torch.Tensor) -> None:
        parts.setdefault(key, []).append(value.detach().float().cpu())

    try:
        for idx in _chunks(probe_idx, chunk):
            batch = backend.batch(features, idx)
            mask = batch.get("attention_mask")
            with torch.no_grad():
                embedded = model.encoder.embed(batch).detach()
            forward = _logits(model, batch, len(idx), task)
            base = torch.zeros_like(embedded)
            for name, layer in layers.items():
                with torch.no_grad():
                    act = LayerActivation(forward, layer).attribute(embedded)
                add(f"responses/{name}", _reduce_tokens(act, mask, "mean"))
                if "layer_conductance" in cfg.methods:
                    lc = LayerConductance(forward, layer).attribute(embedded, baselines=base, n_steps=cfg.n_steps)
                    add(f"layer_conductance_examples/{name}", _reduce_tokens(lc, mask, "sum"))
                if "layer_integrated_gradients" in cfg.methods:
                    lig = LayerIntegratedGradients(forward, layer).attribute(embedded, baselines=base,
                                                                             n_steps=cfg.n_steps)
                    add(f"layer_integrated_gradients_examples/{name}", _reduce_tokens(lig, mask, "sum"))
                if "neuron_conductance" in cfg.methods:
                    n_neurons = act.shape[-1]
                    chosen = _neuron_choice(n_neurons, max_neurons)
                    nc = NeuronConductance(forward, layer)
                    per_neuron = []
                    for j in chosen:
                        sel = (slice(None), int(j)) if act.dim() == 3 else int(j)
                        a = nc.attribute(embedded, neuron_selector=sel, baselines=base, n_steps=cfg.n_steps)
                        per_neuron.append(_flat_inputs(a))
                    add(f"neuron_conductance_raw/{name}", torch.stack(per_neuron, 1))  # (B, m, D)
        if input_maps.METHOD in cfg.methods:  # small batches: each is padded to its longest text's units
            for idx in _chunks(probe_idx, min(chunk, input_maps.CHUNK)):
                batch = backend.batch(features, idx)
                maps.append(input_maps.attribute_inputs(model.encoder, batch, _logits(model, batch, len(idx), task),
                                                        cfg.n_steps))
    finally:
        model.train(was_training)
    out = _summarise(parts, layers, cfg.methods, max_neurons)
    if maps:
        out.update(input_maps.concat_maps(maps))
    return out


def _neuron_choice(n_neurons: int, max_neurons: int) -> np.ndarray:
    """Evenly spaced neuron indices: the same for every task model of one backend."""
    m = min(n_neurons, max(1, max_neurons))
    return np.unique(np.linspace(0, n_neurons - 1, m).round().astype(np.int64))


def _summarise(parts: dict[str, list[torch.Tensor]], layers: dict, methods: list[str],
               max_neurons: int) -> dict[str, torch.Tensor]:
    full = {k: torch.cat(v, 0) for k, v in parts.items()}
    out: dict[str, torch.Tensor] = {}
    for name in layers:
        resp = full[f"responses/{name}"]
        out[f"responses/{name}"] = resp
        if "layer_activation" in methods:
            out[f"layer_activation/{name}"] = resp.mean(0)
        for method in ("layer_conductance", "layer_integrated_gradients"):
            if method in methods:
                ex = full[f"{method}_examples/{name}"]
                out[f"{method}_examples/{name}"] = ex
                out[f"{method}/{name}"] = ex.mean(0)
        if "neuron_conductance" in methods:
            raw = full[f"neuron_conductance_raw/{name}"]  # (P, m, D)
            out[f"neuron_conductance/{name}"] = raw.abs().sum(-1).mean(0)
            out[f"neuron_conductance_inputs/{name}"] = raw.mean(0)
            out[f"neuron_conductance_neurons/{name}"] = torch.from_numpy(_neuron_choice(resp.shape[1], max_neurons))
    return out


def signature_metadata(methods: list[str], probe_fp: str, backend: str, task: str, **extra: Any) -> dict[str, str]:
    """Safetensors metadata (str -> str) recording how the signatures were made."""
    meta = {"format": FORMAT_VERSION, "methods": json.dumps(list(methods)), "probe_fingerprint": probe_fp,
            "backend": backend, "task": task}
    meta.update({k: json.dumps(v) for k, v in extra.items()})
    return meta


def save_signatures(signatures: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """Signatures as safetensors bytes with their metadata (see ``signature_metadata``)."""
    from safetensors.torch import save
    return save({k: v.detach().cpu().contiguous() for k, v in signatures.items()}, metadata=metadata)


def load_signatures(data: bytes, expected_probe: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(signatures, metadata) from safetensors bytes; checks the probe fingerprint when given."""
    from safetensors.torch import load
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        raw_meta = json.loads(data[8:8 + header_len]).get("__metadata__") or {}
    except Exception as e:  # safetensors raises its own error types
        raise ProfilingError(f"not a valid signatures file ({e})") from None
    return tensors, check_metadata(raw_meta, expected_probe)


def check_metadata(raw: dict[str, str], expected_probe: str | None = None) -> dict[str, Any]:
    """Parse signature metadata; refuse files from another probe set or format."""
    missing = {"methods", "probe_fingerprint", "backend", "task"} - set(raw)
    if missing:
        raise ProfilingError(f"signatures metadata lacks {sorted(missing)}")
    if expected_probe is not None and raw["probe_fingerprint"] != expected_probe:
        raise ProfilingError(f"signatures of task {raw['task']!r} were computed on probe "
                             f"{raw['probe_fingerprint']}, expected {expected_probe}")
    meta: dict[str, Any] = dict(raw)
    meta["methods"] = json.loads(raw["methods"])
    return meta
