"""Input-level attribution maps: shape per backend, completeness, self-similarity 1, and on real training,
two models of the same labels agree more than a model and a shuffled-label one."""

import numpy as np
import pytest
import torch

from raytp.config import BackendConfig, ProfilingConfig, config_from_dict
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import probe_indices
from raytp.errors import ProfilingError
from raytp.models.frozen import FrozenEncoderBackend
from raytp.models.hashed import HashedBackend
from raytp.models.single import train_single
from raytp.models.transformer import TransformerBackend
from raytp.profiling.input_maps import (COLUMNS, KEYS, PreparedMap, input_map_similarities, text_weights,
                                        weighted_mean)
from raytp.profiling.pair_features import describe_column, pair_features
from raytp.profiling.signatures import compute_signatures
from tests.conftest import small_config_dict
from tests.models.conftest import tiny_bert_dir  # noqa: F401 (fixture)

WORDS = "food water shelter help need rain storm flood house medical doctor road bridge fire".split()
INPUT = ProfilingConfig(methods=["input_integrated_gradients"], n_steps=8)


def _texts(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(2, 8))) for _ in range(n)]


def _hashed(seed=3):
    backend = HashedBackend(BackendConfig(hash_buckets=1024, embed_dim=8, hidden=12))
    model = backend.new_model(["food"], seed=seed)
    with torch.no_grad():
        model.encoder.fc.bias.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(seed))
    return backend, backend.featurize(_texts()), model


def _frozen():
    backend = FrozenEncoderBackend(BackendConfig(name="frozen-encoder", hidden=12))
    feats = torch.randn(24, backend.in_dim, generator=torch.Generator().manual_seed(0))  # stands in for embeddings
    return backend, feats, backend.new_model(["food"], seed=3)


def _transformer(path):
    backend = TransformerBackend(BackendConfig(name="transformer", model=path, max_length=16))
    return backend, backend.featurize(_texts()), backend.new_model(["food"], seed=3).eval()


def _delta(model, backend, feats, idx):
    batch = backend.batch(feats, idx)
    model.eval()  # compute_signatures gives the model back in the mode it had (train: dropout)
    with torch.no_grad():
        emb = model.encoder.embed(batch)
        return model.logits_from_embedded(emb, batch, "food") - model.logits_from_embedded(0 * emb, batch, "food")


def test_hashed_maps_are_per_ngram_and_complete():
    backend, feats, model = _hashed()
    probe = np.arange(10)
    sig = compute_signatures(model, backend, feats, probe, "food", ProfilingConfig(
        methods=["input_integrated_gradients"], n_steps=64))
    nnz = np.diff(feats[probe].indptr)  # hashed uni+bigrams of each text
    assert sig["input_attributions"].shape == (10, nnz.max())
    assert sig["input_mask"].sum(1).tolist() == nnz.tolist()
    for i in probe:  # the units are the text's n-gram buckets, in the featurisation's order
        assert sig["input_ids"][i][sig["input_mask"][i]].tolist() == feats[i].indices.tolist()
    assert float(sig["input_attributions"][~sig["input_mask"]].abs().sum()) == 0
    delta = _delta(model, backend, feats, probe)
    assert torch.allclose(sig["input_attributions"].sum(1), delta, atol=1e-3 + 0.01 * float(delta.abs().max()))
    with torch.no_grad():
        assert torch.allclose(sig["input_logits"], model(backend.batch(feats, probe), "food"), atol=1e-5)


def test_frozen_maps_are_per_embedding_dimension_and_complete():
    backend, feats, model = _frozen()
    probe = np.arange(6)
    sig = compute_signatures(model, backend, feats, probe, "food", ProfilingConfig(
        methods=["input_integrated_gradients"], n_steps=64))
    d = backend.in_dim
    assert sig["input_attributions"].shape == (6, d) and bool(sig["input_mask"].all())
    assert sig["input_ids"][0].tolist() == list(range(d))
    delta = _delta(model, backend, feats, probe)
    assert torch.allclose(sig["input_attributions"].sum(1), delta, atol=1e-3 + 0.01 * float(delta.abs().max()))


def test_transformer_maps_are_per_token_and_complete(tiny_bert_dir):  # noqa: F811
    backend, feats, model = _transformer(tiny_bert_dir)
    probe = np.arange(5)
    sig = compute_signatures(model, backend, feats, probe, "food", ProfilingConfig(
        methods=["input_integrated_gradients"], n_steps=64))
    lengths = [len(feats.ids[i]) for i in probe]
    assert sig["input_attributions"].shape == (5, max(lengths))
    assert sig["input_mask"].sum(1).tolist() == lengths
    assert sig["input_ids"][0][:lengths[0]].tolist() == feats.ids[0].tolist()
    delta = _delta(model, backend, feats, probe)
    assert torch.allclose(sig["input_attributions"].sum(1), delta, atol=2e-3 + 0.03 * float(delta.abs().max()))


def test_chunks_pad_to_the_widest_text(tiny_bert_dir):  # noqa: F811
    """Probe texts attributed in several batches (8 per batch at n_steps 16) line up with one pass."""
    backend, feats, model = _transformer(tiny_bert_dir)
    cfg = ProfilingConfig(methods=["input_integrated_gradients"], n_steps=16)
    together = compute_signatures(model, backend, feats, np.arange(20), "food", cfg)
    alone = compute_signatures(model, backend, feats, np.array([13]), "food", cfg)
    n = int(alone["input_mask"].sum())
    assert together["input_mask"][13].sum() == n
    assert torch.allclose(together["input_attributions"][13, :n], alone["input_attributions"][0, :n], atol=1e-5)


@pytest.mark.parametrize("weighting", ["positive", "confidence", "uniform"])
def test_a_model_with_itself_is_one(weighting):
    backend, feats, model = _hashed()
    sig = compute_signatures(model, backend, feats, np.arange(24), "food", INPUT)
    sims = input_map_similarities(sig, sig, top_k=0.3, weighting=weighting)
    assert list(sims) == list(COLUMNS)
    assert all(v == pytest.approx(1.0) for v in sims.values())
    other = compute_signatures(_hashed(seed=5)[2], backend, feats, np.arange(24), "food", INPUT)
    assert all(v < 0.999 for v in input_map_similarities(sig, other, top_k=0.3).values())


def test_measures_match_the_vector_measures_per_text():
    from raytp.profiling import similarity as sim
    backend, feats, model = _hashed()
    a = compute_signatures(model, backend, feats, np.arange(24), "food", INPUT)
    b = compute_signatures(_hashed(seed=5)[2], backend, feats, np.arange(24), "food", INPUT)
    per = PreparedMap(a, 0.3).per_text(PreparedMap(b, 0.3))
    for i in range(24):
        m = a["input_mask"][i]
        va, vb = a["input_attributions"][i][m].double().numpy(), b["input_attributions"][i][m].double().numpy()
        assert per["cosine"][i] == pytest.approx(sim.cosine(va, vb))
        if m.sum() > 1:
            assert per["spearman"][i] == pytest.approx(sim.spearman(va, vb))
        assert per["topk"][i] == pytest.approx(sim.topk_overlap(va, vb, 0.3))


def test_weights_and_bad_input():
    assert text_weights(np.array([0.0]), np.array([10.0]), "positive")[0] == pytest.approx(1.0, abs=1e-4)
    assert text_weights(np.array([0.0]), np.array([0.0]), "confidence")[0] == 0
    assert weighted_mean(np.array([1.0, np.nan, 3.0]), np.array([1.0, 5.0, 3.0])) == pytest.approx(2.5)
    assert np.isnan(weighted_mean(np.array([np.nan]), np.array([1.0])))
    with pytest.raises(ProfilingError):
        text_weights(np.zeros(1), np.zeros(1), "loudest")
    backend, feats, model = _hashed()
    a = compute_signatures(model, backend, feats, np.arange(10), "food", INPUT)
    b = compute_signatures(model, backend, feats, np.arange(1, 11), "food", INPUT)
    with pytest.raises(ProfilingError):
        input_map_similarities(a, b)


def test_pair_table_columns_only_where_maps_exist():
    """Signatures without maps (older run directories) give the table they gave before: no input_ig column."""
    backend, feats, _ = _hashed()
    cfg = ProfilingConfig(methods=["layer_conductance", "input_integrated_gradients"], n_steps=4)
    sigs = {t: compute_signatures(_hashed(seed=s)[2], backend, feats, np.arange(12), "food", cfg)
            for t, s in (("a", 1), ("b", 2), ("c", 3))}
    table = pair_features(sigs)
    assert all(table[c].notna().all() for c in COLUMNS)
    old = {t: {k: v for k, v in s.items() if k not in KEYS} for t, s in sigs.items()}
    before = pair_features(old)
    assert not set(COLUMNS) & set(before.columns)
    # every measured column is unchanged; the signature-only ranker (mean rank of the gradient-attribution
    # family, which the maps join) is the one derived column that may move
    same = [c for c in before.columns if c != "signature_only"]
    assert before[same].equals(table[same])
    assert "signature_only" in table
    assert "input-level" in describe_column("input_ig/spearman")


def test_same_labels_agree_more_than_shuffled_labels(disaster):
    """Real training on the default data: food (seed 0) vs food (seed 1) vs shuffled food labels (seed 0, the
    same initialisation as the first: a shared start would favour the shuffled pair, not the real one)."""
    cfg = config_from_dict(small_config_dict(data={"tasks": ["food", "copy", "shuffled"], "max_train": 1000,
                                                   "probe_size": 64}, train={"epochs": 3, "seeds": 1}))
    food = disaster.select_tasks(["food"])
    y = food.labels[:, 0]
    shuffled = y.copy()
    shuffled[food.split == "train"] = np.random.default_rng(0).permutation(y[food.split == "train"])
    ds = MultiTaskDataset(food.texts, ["food", "copy", "shuffled"], np.stack([y, y, shuffled], 1), food.split)
    backend = HashedBackend(cfg.backend)
    feats = backend.featurize(ds.texts)
    probe = probe_indices(ds, cfg.data)
    seeds = {"food": 0, "copy": 1, "shuffled": 0}
    sigs = {t: compute_signatures(train_single(backend, feats, ds, t, cfg, cfg.train.lr, s).model, backend, feats,
                                  probe, t, INPUT) for t, s in seeds.items()}
    same = input_map_similarities(sigs["food"], sigs["copy"])
    control = input_map_similarities(sigs["food"], sigs["shuffled"])
    for col in COLUMNS:
        assert same[col] > control[col], (col, same, control)
