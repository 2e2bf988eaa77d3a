"""Device choice for a worker: CUDA only when the worker was given a GPU and one is visible."""

from __future__ import annotations


def pick_device(gpus: float) -> str:
    import torch
    return "cuda" if gpus > 0 and torch.cuda.is_available() else "cpu"
