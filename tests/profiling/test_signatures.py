"""Signature methods on tiny real models: shapes, finite values, completeness, token masking, storage."""

import numpy as np
import pytest
import torch
from torch import nn

from raytp.config import BackendConfig, ProfilingConfig
from raytp.errors import ProfilingError
from raytp.models.base import Backend, Encoder
from raytp.models.hashed import HashedBackend
from raytp.profiling.signatures import (METHODS, compute_signatures, load_signatures, probe_fingerprint,
                                        save_signatures, signature_metadata)

WORDS = "food water shelter help need rain storm flood house medical doctor road bridge fire".split()


@pytest.fixture(scope="module")
def hashed():
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 8))) for _ in range(24)]
    backend = HashedBackend(BackendConfig(hash_buckets=1024, embed_dim=8, hidden=12))
    feats = backend.featurize(texts)
    model = backend.new_model(["food"], seed=3)
    with torch.no_grad():
        model.encoder.fc.bias.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(1))
    return backend, feats, model


@pytest.mark.parametrize("method", [m for m in METHODS if m != "input_integrated_gradients"])  # test_input_maps
def test_each_method_shapes_and_finite(hashed, method):
    backend, feats, model = hashed
    probe = np.arange(10)
    sig = compute_signatures(model, backend, feats, probe, "food", ProfilingConfig(methods=[method], n_steps=4),
                             max_neurons=5)
    assert sig["responses/hidden"].shape == (10, 12)
    main = sig[f"{method}/hidden"]
    assert main.shape == ((5,) if method == "neuron_conductance" else (12,))
    if method in ("layer_conductance", "layer_integrated_gradients"):
        assert sig[f"{method}_examples/hidden"].shape == (10, 12)
    if method == "neuron_conductance":
        assert sig["neuron_conductance_inputs/hidden"].shape == (5, 8)
        assert sig["neuron_conductance_neurons/hidden"].tolist() == [0, 3, 6, 8, 11]
    assert all(torch.isfinite(v.float()).all() for v in sig.values())
    assert float(main.abs().sum()) > 0


def test_layer_conductance_is_complete(hashed):
    """Summed over a layer's neurons, conductance equals logit(x) - logit(baseline)."""
    backend, feats, model = hashed
    probe = np.arange(6)
    sig = compute_signatures(model, backend, feats, probe, "food",
                             ProfilingConfig(methods=["layer_conductance"], n_steps=128))
    batch = backend.batch(feats, probe)
    with torch.no_grad():
        emb = model.encoder.embed(batch)
        delta = model.logits_from_embedded(emb, batch, "food") - model.logits_from_embedded(0 * emb, batch, "food")
    got = sig["layer_conductance_examples/hidden"].sum(1)
    assert torch.allclose(got, delta.float(), atol=2e-3 + 0.02 * float(delta.abs().max()))


def test_bad_requests(hashed):
    backend, feats, model = hashed
    with pytest.raises(ProfilingError):
        compute_signatures(model, backend, feats, np.arange(0), "food", ProfilingConfig())
    with pytest.raises(ProfilingError):
        compute_signatures(model, backend, feats, np.arange(3), "water", ProfilingConfig())


class _TokenEncoder(Encoder):
    """A transformer-shaped toy: token embeddings -> per-token layer (B, T, H) -> masked mean."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.hidden_size = 6
        self.emb = nn.Embedding(30, 5)
        self.tok = nn.Sequential(nn.Linear(5, 6), nn.Tanh())

    def embed(self, batch):
        return self.emb(batch["input_ids"])

    def encode(self, embedded, batch):
        mask = batch["attention_mask"].float().unsqueeze(-1)  # must match embedded: no tiling here
        return (self.tok(embedded) * mask).sum(1) / mask.sum(1)

    def probe_layers(self):
        return {"layer_0": self.tok}


class _TokenBackend(Backend):
    name = "toy-tokens"

    def featurize(self, texts):
        return [np.array([1 + (hash(w) % 29) for w in t.split()]) for t in texts]

    def batch(self, features, idx):
        rows = [features[i] for i in idx]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}

    def new_encoder(self, seed):
        return _TokenEncoder(seed)


def test_token_layers_are_reduced_with_the_mask():
    backend = _TokenBackend(BackendConfig())
    feats = backend.featurize(["food", "water rain storm flood house help", "road bridge"])
    model = backend.new_model(["t"], seed=0)
    cfg = ProfilingConfig(methods=list(METHODS), n_steps=4)
    together = compute_signatures(model, backend, feats, np.arange(3), "t", cfg, max_neurons=3)
    alone = compute_signatures(model, backend, feats, np.array([0]), "t", cfg, max_neurons=3)
    assert together["responses/layer_0"].shape == (3, 6)
    assert together["neuron_conductance_inputs/layer_0"].shape == (3, 5)
    # padding must not change the short example's response or conductance
    assert torch.allclose(together["responses/layer_0"][0], alone["responses/layer_0"][0], atol=1e-6)
    assert torch.allclose(together["layer_conductance_examples/layer_0"][0],
                          alone["layer_conductance_examples/layer_0"][0], atol=1e-5)


def test_save_load_roundtrip_and_probe_check(hashed):
    backend, feats, model = hashed
    sig = compute_signatures(model, backend, feats, np.arange(5), "food", ProfilingConfig(n_steps=4))
    fp = probe_fingerprint(np.arange(5), "data123")
    assert fp != probe_fingerprint(np.arange(1, 6), "data123") and fp != probe_fingerprint(np.arange(5), "other")
    data = save_signatures(sig, signature_metadata(["layer_conductance"], fp, "hashed", "food", seconds=0.5))
    back, meta = load_signatures(data, expected_probe=fp)
    assert set(back) == set(sig) and all(torch.equal(back[k], sig[k].float()) for k in sig)
    assert meta["methods"] == ["layer_conductance"] and meta["task"] == "food" and meta["seconds"] == "0.5"
    with pytest.raises(ProfilingError):
        load_signatures(data, expected_probe="0" * 16)
    with pytest.raises(ProfilingError):
        load_signatures(b"not a safetensors file")
