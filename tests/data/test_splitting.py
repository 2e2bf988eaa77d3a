"""The seeded stratified split helper."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from raytp.data.splitting import stratified_split


@settings(max_examples=40, deadline=None)
@given(labels=arrays(np.int8, st.tuples(st.integers(0, 120), st.integers(0, 4)), elements=st.sampled_from([-1, 0, 1])),
       seed=st.integers(0, 2 ** 16))
def test_valid_deterministic_and_rare_strata_reach_every_split(labels, seed):
    split = stratified_split(labels, 0.1, 0.2, seed)
    assert split.shape == (labels.shape[0],)
    assert set(split) <= {"train", "validation", "test"}
    np.testing.assert_array_equal(split, stratified_split(labels, 0.1, 0.2, seed))
    if labels.shape[1] and labels.shape[0]:
        counts = (labels == 1).sum(axis=0)
        rarest = int(np.argsort(counts, kind="stable")[0])
        if counts[rarest] >= 3:  # every positive of the rarest task is in its own stratum
            got = {s for s in split[labels[:, rarest] == 1]}
            assert got == {"train", "validation", "test"}


def test_fractions_on_a_large_matrix():
    rng = np.random.default_rng(0)
    labels = (rng.random((5000, 6)) < np.array([0.5, 0.2, 0.1, 0.05, 0.01, 0.002])).astype(np.int8)
    split = stratified_split(labels, 0.1, 0.15, seed=7)
    assert abs((split == "validation").mean() - 0.1) < 0.01
    assert abs((split == "test").mean() - 0.15) < 0.01
    for j in range(labels.shape[1]):
        pos = labels[:, j] == 1
        for s, frac in (("validation", 0.1), ("test", 0.15)):
            share = (split[pos] == s).mean()
            assert abs(share - frac) < max(0.05, 2 / pos.sum()), (j, s, share)


def test_tiny_strata_keep_training_data():
    labels = np.array([[1, 0], [0, 1], [0, 1]], dtype=np.int8)
    split = stratified_split(labels, 0.1, 0.1, seed=0)
    assert split[0] == "train"  # a one-example stratum goes to train
    assert "train" in set(split[1:])
