"""Attribution signatures of single-task models and the similarities between them (pure, no Ray)."""

from raytp.profiling.pair_features import (describe_column, label_phi, logme_table, pair_features, signature_similarities,
                                           task_pair_statistics)
from raytp.profiling.signatures import (METHODS, check_metadata, compute_signatures, load_signatures,
                                        probe_fingerprint, save_signatures, signature_metadata)
from raytp.profiling.similarity import cosine, linear_cka, rsa, spearman, topk_overlap
from raytp.profiling.textemb import task_vectors, textemb_table

__all__ = [
    "METHODS", "check_metadata", "compute_signatures", "cosine", "describe_column", "label_phi", "linear_cka",
    "load_signatures", "logme_table", "pair_features", "probe_fingerprint", "rsa",
    "save_signatures", "signature_metadata", "signature_similarities", "spearman", "task_pair_statistics",
    "task_vectors", "textemb_table", "topk_overlap",
]
