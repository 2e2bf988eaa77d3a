"""Model backends (pure torch, no Ray): hashed n-grams, a frozen encoder, a fine-tuned transformer; training loop,
metrics and the single-task run (hyperparameter pool x seeds)."""

from raytp.models.base import Backend, TaskModel
from raytp.models.encoders import pick_device
from raytp.models.metrics import binary_scores
from raytp.models.registry import make_backend
from raytp.models.single import run_task, train_single
from raytp.models.training import HParams, fit, predict_proba

__all__ = ["Backend", "HParams", "TaskModel", "binary_scores", "fit", "make_backend", "pick_device", "predict_proba",
           "run_task", "train_single"]
