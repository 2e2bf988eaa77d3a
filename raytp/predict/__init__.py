"""Predicting beneficial task pairs, the baselines it must beat, its evaluation and pruning (pure)."""

from raytp.predict.atlas import fit_atlas_predictor, leave_tasks_out, load_atlas
from raytp.predict.baselines import BASELINES, label_phi_matrix, logme, phi, random_scores
from raytp.predict.evaluate import (ablation, evaluate_baselines, evaluate_leave_targets_out, evaluate_scores, feature_groups,
                                    leave_targets_out_proba, ndcg_at_k, regret_at_k)
from raytp.predict.families import FAMILIES, column_family, signature_only_scores, task_statistics_scores
from raytp.predict.predictor import TransferPredictor, clone, default_features, rank_scale, score_pairs
from raytp.predict.prune import POLICIES, build_pruning_plan, hopeless_values, select_pairs, warm_start

__all__ = [
    "BASELINES", "FAMILIES", "POLICIES", "TransferPredictor", "ablation", "build_pruning_plan", "clone",
    "column_family", "default_features", "evaluate_baselines", "evaluate_leave_targets_out", "evaluate_scores",
    "feature_groups", "fit_atlas_predictor", "hopeless_values", "label_phi_matrix", "leave_targets_out_proba",
    "leave_tasks_out", "load_atlas", "logme", "ndcg_at_k", "phi", "random_scores", "rank_scale", "regret_at_k",
    "score_pairs", "select_pairs", "signature_only_scores", "task_statistics_scores", "warm_start",
]
