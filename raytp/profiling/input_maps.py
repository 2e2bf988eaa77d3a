"""Input-level attribution maps (Song et al., NeurIPS 2019) and their similarities (Captum, pure torch).

For every probe text, integrated gradients (zero baseline) of the task head's logit with respect to the
units of the text's input, each unit's attribution summed over its embedding dimensions. The units are
what the encoder's ``input_units`` says (``raytp.models.base.Encoder``):

- hashed: one unit per hashed uni/bigram of the text (its EmbeddingBag row; the bag's mean pooling made
  explicit, so the attributions of a text's n-grams sum to the pooled embedding's);
- transformer: one unit per token, special tokens included (``inputs_embeds``, summed over the hidden dimension);
- frozen-encoder: the input is one sentence embedding, so the map is per embedding *dimension*, not per
  token (the frozen encoder is not differentiated).

Two task models of one backend and probe set see the same units (same featurisation or tokenizer), so
their maps are compared unit by unit on each text: no neuron alignment is needed. Signature keys
(``P`` probe texts, ``T`` the widest text's units): ``input_attributions`` (P, T), ``input_mask`` (P, T),
``input_ids`` (P, T) (hash bucket, token id or dimension), ``input_logits`` (P,) (the logit at the text).

Pair columns (``COLUMNS``): per text, cosine, Spearman rank correlation and top-k Jaccard overlap (the
``top_k`` share of the text's units by |attribution|) of the two maps, then a weighted mean over the texts
(``WEIGHTINGS``). Default ``positive``: a text weighs max(p_source, p_target), the larger of the two
models' positive-class probabilities, so texts where either model finds its class dominate (with rare
positives almost every text is a confident negative, where the maps explain the absence of a class);
``confidence`` weighs max(|2p - 1|) of the two; ``uniform`` weighs every text alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import numpy as np
import torch
from captum.attr import IntegratedGradients
from scipy.stats import rankdata

from raytp.errors import ProfilingError
from raytp.models.base import Batch, Encoder

METHOD = "input_integrated_gradients"
ATTRIBUTIONS, MASK, IDS, LOGITS = "input_attributions", "input_mask", "input_ids", "input_logits"
KEYS = (ATTRIBUTIONS, MASK, IDS, LOGITS)
PREFIX = "input_ig"
COLUMNS = (f"{PREFIX}/cosine", f"{PREFIX}/spearman", f"{PREFIX}/topk")
WEIGHTINGS = ("positive", "confidence", "uniform")
CHUNK = 32  # probe texts per batch: a batch is padded to its longest text (hashed: n-grams)
MAX_ELEMENTS = 2 ** 24  # interpolated input values per Captum forward pass (memory bound)


def attribute_inputs(encoder: Encoder, batch: Batch, forward: Callable[[torch.Tensor], torch.Tensor],
                     n_steps: int) -> dict[str, torch.Tensor]:
    """One batch's maps: IG of ``forward(embedded) -> logits`` with respect to ``encoder.input_units``.

    ``embed_units`` is linear, so the IG of a unit equals the unit times the path-integrated gradient at
    ``embedded`` pulled back through ``embed_units`` (the interpolation path of the units maps onto that of
    ``embedded``): Captum integrates once over ``embedded`` (B, D for a bag) rather than over every unit."""
    with torch.no_grad():
        units, mask, ids = encoder.input_units(batch)
        units = units.detach()
        embedded = encoder.embed_units(units, mask)
        logits = forward(embedded)
    ig = IntegratedGradients(forward, multiply_by_inputs=False)  # the integrated gradient, not yet x * it
    per_pass = max(embedded.shape[0], MAX_ELEMENTS // max(1, embedded[0].numel()))
    grad = ig.attribute(embedded, baselines=torch.zeros_like(embedded), n_steps=n_steps,
                        internal_batch_size=per_pass).detach()
    with torch.enable_grad():
        units.requires_grad_(True)  # a fresh tensor (made under no_grad): safe to mark
        (pulled,) = torch.autograd.grad((encoder.embed_units(units, mask) * grad).sum(), units)
    units = units.detach()
    attr = (units * pulled).sum(-1) * mask
    return {ATTRIBUTIONS: attr.detach().float().cpu(), MASK: mask.cpu(), IDS: ids.long().cpu(),
            LOGITS: logits.detach().float().cpu()}


def concat_maps(parts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batches' maps stacked along the texts, padded (mask False) to the widest batch."""
    width = max(p[MASK].shape[1] for p in parts)

    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, width - x.shape[1]))
    return {ATTRIBUTIONS: torch.cat([pad(p[ATTRIBUTIONS]) for p in parts]),
            MASK: torch.cat([pad(p[MASK]) for p in parts]), IDS: torch.cat([pad(p[IDS]) for p in parts]),
            LOGITS: torch.cat([p[LOGITS] for p in parts])}


def has_maps(sig: Mapping[str, torch.Tensor]) -> bool:
    """Whether a task's signatures hold input maps (older run directories do not)."""
    return all(k in sig for k in KEYS)


def text_weights(logits_a: np.ndarray, logits_b: np.ndarray, weighting: str = "positive") -> np.ndarray:
    """Per-text weights of the aggregation (see the module docstring)."""
    pa, pb = 1 / (1 + np.exp(-np.asarray(logits_a, float))), 1 / (1 + np.exp(-np.asarray(logits_b, float)))
    if weighting == "positive":
        return np.maximum(pa, pb)
    if weighting == "confidence":
        return np.maximum(np.abs(2 * pa - 1), np.abs(2 * pb - 1))
    if weighting == "uniform":
        return np.ones_like(pa)
    raise ProfilingError(f"unknown input-map weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")


class PreparedMap:
    """One model's maps, prepared once for many pairs: centred within-text ranks and top-k units."""

    def __init__(self, sig: Mapping[str, torch.Tensor], top_k: float = 0.1):
        if not 0 < top_k <= 1:
            raise ProfilingError(f"top-k share must be in (0, 1], got {top_k}")
        m = sig[MASK].bool().numpy()
        a = np.where(m, sig[ATTRIBUTIONS].double().numpy(), 0.0)
        self.mask, self.attr, self.ids, self.logits = m, a, sig[IDS].numpy(), sig[LOGITS].double().numpy()
        n = m.sum(1)
        ranks = rankdata(np.where(m, a, np.inf), axis=1)  # padding ranks last: the units' ranks are 1..n
        mean = np.where(m, ranks, 0).sum(1, keepdims=True) / np.maximum(n, 1)[:, None]
        self.ranks = np.where(m, ranks - mean, 0.0)
        k = np.maximum(1, np.ceil(top_k * n)).astype(int)  # as similarity.top_indices
        order = np.argsort(np.where(m, -np.abs(a), np.inf), axis=1, kind="stable")  # ties: lower index first
        position = np.empty_like(order)
        np.put_along_axis(position, order, np.broadcast_to(np.arange(a.shape[1]), a.shape).copy(), axis=1)
        self.top = (position < k[:, None]) & m

    def per_text(self, other: PreparedMap) -> dict[str, np.ndarray]:
        """Cosine, Spearman and top-k Jaccard of the two maps on each text (NaN where undefined)."""
        if self.mask.shape != other.mask.shape or not np.array_equal(self.mask, other.mask) \
                or not np.array_equal(self.ids[self.mask], other.ids[other.mask]):
            raise ProfilingError("input maps were computed on different inputs (probe texts, featurisation or "
                                 "tokenizer differ)")
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = _ratio((self.attr * other.attr).sum(1),
                         np.sqrt((self.attr ** 2).sum(1) * (other.attr ** 2).sum(1)))
            rho = _ratio((self.ranks * other.ranks).sum(1),
                         np.sqrt((self.ranks ** 2).sum(1) * (other.ranks ** 2).sum(1)))
            jac = _ratio((self.top & other.top).sum(1).astype(float), (self.top | other.top).sum(1).astype(float))
        return {"cosine": cos, "spearman": rho, "topk": jac}

    def similarities(self, other: PreparedMap, weighting: str = "positive") -> dict[str, float]:
        """The pair columns (``COLUMNS``): per-text measures, weighted over the texts (NaN-aware)."""
        w = text_weights(self.logits, other.logits, weighting)
        return {f"{PREFIX}/{name}": weighted_mean(v, w) for name, v in self.per_text(other).items()}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Mean of the finite ``values`` under ``weights`` (renormalised over them); NaN when none weighs."""
    ok = np.isfinite(values) & (weights > 0)
    total = float(weights[ok].sum())
    return float((values[ok] * weights[ok]).sum() / total) if total > 0 else float("nan")


def input_map_similarities(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], top_k: float = 0.1,
                           weighting: str = "positive") -> dict[str, float]:
    """The ``input_ig/*`` columns of one pair from its two tasks' signatures."""
    return PreparedMap(a, top_k).similarities(PreparedMap(b, top_k), weighting)
