"""The pair feature table on synthetic signatures and a synthetic dataset."""

import numpy as np
import pytest
import torch

from raytp.config import DataConfig
from raytp.data.dataset import MISSING, MultiTaskDataset
from raytp.errors import ProfilingError
from raytp.profiling.pair_features import describe_column, label_phi, pair_features
from raytp.profiling.textemb import task_vectors, textemb_table


def _dataset() -> MultiTaskDataset:
    """a and b co-occur; c is annotated only where a and b are not (no shared examples)."""
    n = 60
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, n)
    b = a.copy()
    b[:6] = 1 - b[:6]
    c = rng.integers(0, 2, n)
    a[40:] = MISSING
    b[40:] = MISSING
    c[:40] = MISSING
    split = np.array(["train"] * 50 + ["validation"] * 10, dtype=object)
    return MultiTaskDataset([f"text {i} word{i % 7}" for i in range(n)], ["a", "b", "c"],
                            np.stack([a, b, c], 1), split)


def _signatures(rng, tasks=("a", "b", "c")):
    base = torch.from_numpy(rng.normal(size=(20, 8))).float()
    sigs = {}
    for i, t in enumerate(tasks):
        resp = base + 0.1 * i * torch.from_numpy(rng.normal(size=(20, 8))).float()
        sigs[t] = {"responses/hidden": resp, "layer_conductance/hidden": resp.mean(0),
                   "layer_conductance_examples/hidden": resp * 0.5}
    return sigs


def test_phi_nan_without_shared_examples_and_high_for_cooccurring():
    ds = _dataset()
    assert np.isnan(label_phi(ds, "a", "c"))
    assert label_phi(ds, "a", "b") > 0.5


def test_table_has_one_row_per_ordered_pair_and_documented_columns():
    ds = _dataset()
    sigs = _signatures(np.random.default_rng(1))
    single = {t: {"f1_val": 0.1 * (i + 1)} for i, t in enumerate("abc")}
    probe = np.arange(20, 40)  # a and b annotated there, c not
    ds.split[probe] = "validation"  # LogME reads validation labels only (the label budget)
    table = pair_features(sigs, dataset=ds, data_cfg=DataConfig(tasks=["a", "b", "c"], max_train=None,
                                                                source_max_train=None), probe_idx=probe,
                          single=single, top_k=0.25)
    assert len(table) == 6 and not table.duplicated(["source", "target"]).any()
    for col in ("layer_conductance/hidden/cosine", "layer_conductance/hidden/spearman", "layer_conductance/hidden/topk",
                "responses/hidden/cka", "responses/hidden/rsa", "layer_conductance_examples/hidden/cka",
                "label_phi", "source_positives", "target_positives", "source_f1_val", "target_f1_val",
                "logme", "random"):
        assert col in table.columns, col
        assert describe_column(col) != col
    row = table.set_index(["source", "target"])
    assert np.isnan(row.loc[("a", "c"), "label_phi"]) and np.isnan(row.loc[("c", "a"), "label_phi"])
    assert row.loc[("a", "b"), "label_phi"] == row.loc[("b", "a"), "label_phi"]
    assert row.loc[("a", "b"), "source_f1_val"] == pytest.approx(0.1)
    assert row.loc[("a", "b"), "target_f1_val"] == pytest.approx(0.2)
    # b is closer to a than c is (less noise added)
    assert row.loc[("a", "b"), "responses/hidden/cka"] > row.loc[("a", "c"), "responses/hidden/cka"]
    assert np.isfinite(table[table.target != "c"]["logme"]).all()
    assert table[table.target == "c"]["logme"].isna().all()  # no probe labels: NaN, not a number


def test_probe_size_mismatch_raises():
    with pytest.raises(ProfilingError):
        pair_features(_signatures(np.random.default_rng(2)), dataset=_dataset(), probe_idx=np.arange(5))


def test_textemb_with_a_stub_embedder():
    ds = _dataset()
    cfg = DataConfig(tasks=["a", "b", "c"], max_train=None)
    # embedding = one-hot of the word{k} token: tasks with the same positives get cosine 1
    def embed(texts):
        return np.array([[float(t.endswith(f"word{k}")) for k in range(7)] for t in texts])
    vec = task_vectors(ds, ["a", "b", "c"], cfg, embed=embed)
    table = textemb_table(vec).set_index(["source", "target"])
    assert len(table) == 6
    assert table.loc[("a", "b"), "textemb"] > 0.8
    assert table.loc[("a", "b"), "textemb"] == table.loc[("b", "a"), "textemb"]
