"""Pair training and search spaces (pure, no Ray): what a search trial runs and how outcomes are labelled."""

from __future__ import annotations

from raytp.search.outcomes import add_gains, label_rows, noise_margin, pair_outcomes, pooled_seed_sd, summarize
from raytp.search.pairs import PairPoint, PairTrainer, SourceCache, shuffled_labels, train_pair
from raytp.search.space import full_space, grid_points, hp_columns, ordered_pairs, resolve_point, trial_configs

__all__ = ["PairPoint", "PairTrainer", "SourceCache", "add_gains", "full_space", "grid_points", "hp_columns",
           "label_rows", "noise_margin", "ordered_pairs", "pair_outcomes", "pooled_seed_sd", "resolve_point",
           "shuffled_labels", "summarize", "train_pair", "trial_configs"]
