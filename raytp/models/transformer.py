"""Full fine-tuning of a HuggingFace encoder (default: the bundled all-MiniLM-L6-v2), offline.

texts -> token ids (truncated to ``max_length``, no padding) -> per batch, dynamic padding to the
longest text -> word embeddings (``inputs_embeds``, what attribution methods interpolate) ->
the transformer -> masked mean pooling (MiniLM's own pooling; the CLS token of a sentence
encoder is not trained as a summary) -> task heads. Every task model starts from the same
pretrained weights, so neurons line up across task models.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from raytp.config import BackendConfig
from raytp.models.base import Backend, Batch, Encoder
from raytp.models.encoders import load_pretrained, load_tokenizer, mean_pool, resolve_model_path


@dataclass
class TokenIds:
    """Unpadded token ids of every text, and the id that pads them."""

    ids: list[np.ndarray]
    pad_id: int

    def __len__(self) -> int:
        return len(self.ids)


def layer_outputs(model: nn.Module) -> list[nn.Module]:
    """One module per transformer layer whose forward output is the layer's (B, T, H) tensor.

    BERT-like layers end in an ``output`` block (dense + residual + LayerNorm, returns a tensor
    even where the layer itself returns a tuple); DistilBERT-like ones in ``output_layer_norm``."""
    n = getattr(model.config, "num_hidden_layers", None)
    stacks = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if not stacks:
        raise ValueError(f"{type(model).__name__}: cannot find its {n} transformer layers")
    picked = []
    for layer in stacks[0]:
        out = getattr(layer, "output", None)
        if isinstance(out, nn.Module) and hasattr(out, "LayerNorm"):
            picked.append(out)
        elif isinstance(getattr(layer, "output_layer_norm", None), nn.Module):
            picked.append(layer.output_layer_norm)
        else:
            picked.append(layer)
    return picked


class TransformerEncoder(Encoder):
    """A pretrained transformer, split at the word embeddings, mean-pooled to (B, hidden_size)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.hidden_size = int(model.config.hidden_size)

    def embed(self, batch: Batch) -> torch.Tensor:
        return self.model.get_input_embeddings()(batch["input_ids"])

    def encode(self, embedded: torch.Tensor, batch: Batch) -> torch.Tensor:
        mask = batch["attention_mask"]
        if embedded.shape[0] != mask.shape[0]:
            # attribution methods stack k interpolation steps of the batch along dim 0: tile the mask
            mask = mask.repeat(embedded.shape[0] // mask.shape[0], 1)
        hidden = self.model(inputs_embeds=embedded, attention_mask=mask).last_hidden_state
        return mean_pool(hidden, mask)

    def probe_layers(self) -> dict[str, nn.Module]:
        return {f"layer_{i}": m for i, m in enumerate(layer_outputs(self.model))}


class TransformerBackend(Backend):
    name = "transformer"

    def __init__(self, cfg: BackendConfig, device: str = "cpu"):
        super().__init__(cfg, device)
        self.model_path = resolve_model_path(cfg.model)
        self.tokenizer = load_tokenizer(self.model_path)
        self._pretrained: nn.Module | None = None

    def featurize(self, texts: list[str]) -> TokenIds:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.cfg.max_length, padding=False)
        pad = self.tokenizer.pad_token_id
        return TokenIds([np.asarray(ids, dtype=np.int64) for ids in enc["input_ids"]], 0 if pad is None else int(pad))

    def batch(self, features: TokenIds, idx: np.ndarray) -> Batch:
        rows = [features.ids[i] for i in np.asarray(idx)]
        width = max((len(r) for r in rows), default=1)
        ids = np.full((len(rows), width), features.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return {"input_ids": torch.from_numpy(ids).to(self.device),
                "attention_mask": torch.from_numpy(mask).to(self.device)}

    def new_encoder(self, seed: int) -> TransformerEncoder:
        """The pretrained weights, identical for every seed (``seed`` only varies the heads and dropout)."""
        if self._pretrained is None:
            self._pretrained = load_pretrained(self.model_path)
        return TransformerEncoder(copy.deepcopy(self._pretrained))

    def optimizers(self, model: nn.Module, lr: float, weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
        # the fused AdamW kernel: the step over the (dense) word-embedding table dominates on CPU
        return [torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)]

    def eval_batch_size(self) -> int:
        return 128
