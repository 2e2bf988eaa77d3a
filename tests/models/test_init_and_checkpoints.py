"""Shared seeded initialisation, checkpoints through safetensors, default learning rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raytp.config import DEFAULT_LR, BackendConfig, config_from_dict
from raytp.models.registry import make_backend
from raytp.models.training import predict_proba
from raytp.rundir import RunDir

TEXTS = ["earthquake hit the town, houses collapsed", "we need water and food in the camp",
         "the storm flooded the roads", "thanks for the help", "send tents please, families sleep outside",
         "is the bridge open?"]
BACKENDS = ["hashed", "frozen-encoder", "transformer"]


def _backend(name: str, tiny_bert_dir: str, cache_dir):
    cfg = {"name": name, "hash_buckets": 2 ** 12, "hidden": 16, "cache_dir": str(cache_dir)}
    if name != "hashed":
        cfg["model"] = tiny_bert_dir  # 128-d, fast; the bundled MiniLM has its own test
    return make_backend(BackendConfig(**cfg))


def _state(model: torch.nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(prefix)}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", BACKENDS)
def test_same_seed_same_weights_whatever_the_global_rng(name, tiny_bert_dir, tmp_path):
    backend = _backend(name, tiny_bert_dir, tmp_path)
    torch.manual_seed(1)
    a = _state(backend.new_model(["food", "water"], seed=5))
    torch.manual_seed(2)
    b = _state(backend.new_model(["food", "water"], seed=5))
    assert _same(a, b)


@pytest.mark.parametrize("name", BACKENDS)
def test_different_seeds_differ_in_from_scratch_parts(name, tiny_bert_dir, tmp_path):
    backend = _backend(name, tiny_bert_dir, tmp_path)
    m5, m6 = backend.new_model(["food"], seed=5), backend.new_model(["food"], seed=6)
    assert not torch.equal(m5.heads["food"].weight, m6.heads["food"].weight)
    enc5, enc6 = _state(m5, "encoder."), _state(m6, "encoder.")
    if name == "transformer":
        assert _same(enc5, enc6)  # every task model starts from the same pretrained weights
    else:
        assert not _same(enc5, enc6)  # the encoder is learned from scratch: the seed draws it


def _nudge(model: torch.nn.Module) -> None:
    """Move every float weight off its initial value, as training would."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)


@pytest.mark.parametrize("name", BACKENDS)
def test_checkpoint_roundtrip_through_safetensors(name, tiny_bert_dir, tmp_path):
    backend = _backend(name, tiny_bert_dir, tmp_path / "cache")
    features = backend.featurize(TEXTS)
    idx = np.arange(len(TEXTS))
    model = backend.new_model(["food"], seed=0)
    _nudge(model)
    before = predict_proba(model, backend, features, idx, "food")
    run = RunDir(tmp_path / "run", create=True)
    run.write_tensors("models/food.safetensors", model.state_dict(), metadata={"backend": name})
    fresh = backend.new_model(["food"], seed=1)
    assert not np.allclose(predict_proba(fresh, backend, features, idx, "food"), before)
    fresh.load_state_dict(run.read_tensors("models/food.safetensors"))
    np.testing.assert_allclose(predict_proba(fresh, backend, features, idx, "food"), before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", BACKENDS)
def test_unset_lr_takes_the_backend_default(name, tiny_bert_dir, tmp_path):
    cfg = config_from_dict({"backend": {"name": name}})
    assert cfg.train.lr == DEFAULT_LR[name] == type(_backend(name, tiny_bert_dir, tmp_path)).default_lr
    assert config_from_dict({"backend": {"name": name}, "train": {"lr": 0.5}}).train.lr == 0.5
