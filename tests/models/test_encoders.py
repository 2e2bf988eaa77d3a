"""Encoder helpers: offline loading, the embedding cache, pooling, batching, probe layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from raytp.config import BackendConfig
from raytp.errors import ConfigError
from raytp.models.encoders import (embed_texts, embedding_cache_dir, embedding_cache_path, mean_pool, pick_device,
                                   resolve_model_path)
from raytp.models.registry import make_backend

TEXTS = ["earthquake hit the town", "we need water and food", "the storm flooded the roads", "thanks"]


def test_bundled_minilm_loads_offline_and_embeds_384d(embedding_cache):
    texts = ["The earthquake destroyed our house", "An earthquake knocked down our home", "I like this song"]
    emb = embed_texts(texts, None, max_length=32, cache_dir=embedding_cache)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2] + 0.3  # paraphrases are closer than unrelated text


def test_second_call_reads_the_cache_instead_of_encoding(tiny_bert_dir, tmp_path):
    first = embed_texts(TEXTS, tiny_bert_dir, max_length=16, cache_dir=tmp_path)
    path = embedding_cache_path(TEXTS, resolve_model_path(tiny_bert_dir), 16, tmp_path)
    assert path.is_file() and list(tmp_path.iterdir()) == [path]
    np.testing.assert_allclose(embed_texts(TEXTS, tiny_bert_dir, max_length=16, cache_dir=tmp_path), first, atol=1e-6)
    # plant recognisable values: a call that re-encoded would not return them
    save_file({"embeddings": np.full_like(first, 7.0)}, str(path))
    assert (embed_texts(TEXTS, tiny_bert_dir, max_length=16, cache_dir=tmp_path) == 7.0).all()
    # another token limit or other texts is another key
    embed_texts(TEXTS, tiny_bert_dir, max_length=8, cache_dir=tmp_path)
    embed_texts(TEXTS[:2], tiny_bert_dir, max_length=16, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 3


def test_corrupt_cache_is_re_encoded(tiny_bert_dir, tmp_path):
    first = embed_texts(TEXTS, tiny_bert_dir, max_length=16, cache_dir=tmp_path)
    path = embedding_cache_path(TEXTS, resolve_model_path(tiny_bert_dir), 16, tmp_path)
    path.write_bytes(b"not safetensors")
    np.testing.assert_allclose(embed_texts(TEXTS, tiny_bert_dir, max_length=16, cache_dir=tmp_path), first, atol=1e-5)
    assert path.read_bytes() != b"not safetensors"


def test_frozen_backend_featurizes_through_the_cache(tiny_bert_dir, tmp_path):
    backend = make_backend(BackendConfig(name="frozen-encoder", model=tiny_bert_dir, cache_dir=tmp_path, hidden=8))
    feats = backend.featurize(TEXTS)
    assert tuple(feats.shape) == (4, 128) and backend.in_dim == 128
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    batch = backend.batch(feats, np.array([2, 0]))
    enc = backend.new_encoder(0)
    assert torch.equal(enc.embed(batch), feats[[2, 0]])
    assert enc(batch).shape == (2, 8) and list(enc.probe_layers()) == ["hidden"]


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RAYTP_CACHE_DIR", str(tmp_path / "env"))
    assert embedding_cache_dir(tmp_path / "cfg") == tmp_path / "cfg"
    assert embedding_cache_dir(None) == tmp_path / "env" / "embeddings"
    monkeypatch.delenv("RAYTP_CACHE_DIR")
    assert embedding_cache_dir(None).parts[-3:] == (".cache", "raytp", "embeddings")


def test_bad_model_paths_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_model_path(str(tmp_path))
    with pytest.raises(ConfigError, match="not found"):
        resolve_model_path(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="offline"):
        make_backend(BackendConfig(name="transformer", model="no-such-org/no-such-model"))


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.equal(mean_pool(hidden, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))


def test_pick_device():
    assert pick_device(0) == "cpu"
    assert pick_device(0.5) == ("cuda" if torch.cuda.is_available() else "cpu")


def test_transformer_batches_pad_to_the_longest(tiny_bert_dir):
    backend = make_backend(BackendConfig(name="transformer", model=tiny_bert_dir, max_length=8))
    feats = backend.featurize(["a b", "one two three four five six seven eight nine ten", "x"])
    assert [len(r) for r in feats.ids] == [4, 8, 3]  # [CLS] ... [SEP], truncated to max_length
    batch = backend.batch(feats, np.array([0, 2]))
    assert batch["input_ids"].shape == (2, 4) and batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    # padding does not change a text's representation
    enc = backend.new_encoder(0).eval()
    alone = enc(backend.batch(feats, np.array([2])))
    padded = enc(backend.batch(feats, np.array([2, 1])))[:1]
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-4)


def test_transformer_probe_layers_work_with_layer_conductance(tiny_bert_dir):
    from captum.attr import LayerConductance
    backend = make_backend(BackendConfig(name="transformer", model=tiny_bert_dir, max_length=16))
    model = backend.new_model(["food"], seed=0).eval()
    batch = backend.batch(backend.featurize(TEXTS[:2]), np.array([0, 1]))
    layers = model.encoder.probe_layers()
    assert list(layers) == ["layer_0", "layer_1"]
    embedded = model.encoder.embed(batch).detach()

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model.logits_from_embedded(x, batch, "food")

    attr = LayerConductance(forward, layers["layer_1"]).attribute(embedded, n_steps=4)
    assert attr.shape == (2, batch["input_ids"].shape[1], 128) and torch.isfinite(attr).all()
    assert attr.abs().sum() > 0


def test_half_precision_checkpoint_loads_as_float32(tiny_bert_dir, tmp_path):
    """transformers 5 keeps a checkpoint's own dtype ("auto"); task heads are float32, so the encoder must be too."""
    from raytp.models.encoders import load_pretrained
    half = load_pretrained(tiny_bert_dir).half()
    half.save_pretrained(tmp_path / "fp16")
    model = load_pretrained(str(tmp_path / "fp16"))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    ref = load_pretrained(tiny_bert_dir)
    w, w_ref = model.embeddings.word_embeddings.weight, ref.embeddings.word_embeddings.weight
    assert torch.allclose(w, w_ref, atol=1e-2) and not torch.equal(w, w_ref)  # same weights, rounded through fp16
