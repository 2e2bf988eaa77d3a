"""Dispatch from a ``DatasetConfig`` to a loader, and select the experiment's tasks."""

from __future__ import annotations

from raytp.config import CorpusConfig, DataConfig, DatasetConfig, ExperimentConfig
from raytp.data.dataset import MISSING, SPLITS, MultiTaskDataset
from raytp.errors import DataError


def load_dataset(cfg: DatasetConfig) -> MultiTaskDataset:
    """Load every task of one data set."""
    if cfg.name == "disaster-response":
        from raytp.data.disaster import load_disaster_response
        return load_disaster_response(cfg.path)
    if cfg.name == "trecis":
        from raytp.data.trecis import load_trecis
        if cfg.path is None or cfg.tweets is None:
            raise DataError("dataset 'trecis' needs data.dataset.path (labels JSON) and data.dataset.tweets (JSONL)")
        return load_trecis(cfg.path, cfg.tweets, val_fraction=cfg.val_fraction,
                           test_fraction=cfg.test_fraction, seed=cfg.split_seed)
    if cfg.name == "table":
        from raytp.data.table import load_table
        if cfg.path is None:
            raise DataError("dataset 'table' needs data.dataset.path")
        return load_table(cfg.path, text_column=cfg.text_column, split_column=cfg.split_column,
                          label_columns=cfg.label_columns, val_fraction=cfg.val_fraction,
                          test_fraction=cfg.test_fraction, seed=cfg.split_seed, label_column=cfg.label_column)
    if cfg.name == "complaints":
        from raytp.data.complaints import load_complaints
        return load_complaints(cfg.path, val_fraction=cfg.val_fraction, seed=cfg.split_seed)
    raise DataError(f"unknown dataset {cfg.name!r}")


def check_task_names(ds: MultiTaskDataset, tasks: list[str], where: str) -> None:
    """A DataError naming ``where``, the unknown task (and why it was excluded) and the known tasks."""
    for t in tasks:
        if t not in ds.tasks:
            why = ds.provenance.get("excluded", {}).get(t)
            hint = f" (excluded: {why})" if why else ""
            raise DataError(f"{where}: unknown task {t!r}{hint}; available: {', '.join(ds.tasks)}")


def load_corpus(cfg: CorpusConfig, where: str = "data.datasets",
                loaded: MultiTaskDataset | None = None) -> MultiTaskDataset:
    """One entry of ``data.datasets``: load (unless ``loaded`` is given), filter, keep its ``tasks``, prefix them."""
    from raytp.data.combine import filter_dataset, prefix_tasks
    ds = filter_dataset(loaded if loaded is not None else load_dataset(cfg), cfg.filter)
    if cfg.tasks is not None:
        check_task_names(ds, cfg.tasks, f"{where} ({ds.provenance.get('path') or cfg.name})")
        ds = ds.select_tasks(list(cfg.tasks))
    return prefix_tasks(ds, cfg.prefix)


def load_data(data: DataConfig) -> MultiTaskDataset:
    """The configured examples and every task the config names, without the positives check.

    One corpus (``data.dataset``), or several (``data.datasets``) combined so that a task's labels
    are MISSING on the other corpora's examples (see ``raytp.data.combine``)."""
    if data.datasets:
        from raytp.data.combine import combine_datasets
        cache: dict[str, MultiTaskDataset] = {}  # two parts of one corpus: read the file once
        parts = []
        for i, (name, c) in enumerate(zip(data.corpus_names(), data.datasets)):
            key = DatasetConfig.model_validate(c.model_dump(include=set(DatasetConfig.model_fields))).model_dump_json()
            if key not in cache:
                cache[key] = load_dataset(c)
            parts.append((name, load_corpus(c, f"data.datasets[{i}]", cache[key])))
        ds = combine_datasets(parts)
        where = "data.datasets"
    else:
        ds = load_dataset(data.dataset)
        where = ds.provenance.get("path", data.dataset.name)
    check_task_names(ds, data.tasks, where)
    return ds.select_tasks(data.tasks)


def load_experiment_data(cfg: ExperimentConfig) -> MultiTaskDataset:
    """Load the configured data and keep the configured tasks, checking each has positives in every split.

    With several corpora a task's positives are counted on its own corpus only (its labels are
    MISSING elsewhere, never negative)."""
    ds = load_data(cfg.data)
    where = ds.provenance.get("path") or (cfg.data.dataset.name if not cfg.data.datasets else "data.datasets")
    for t, pos in ds.positives().items():
        for s in SPLITS:
            if pos[s] == 0:
                own = ""
                if cfg.data.datasets:
                    corpora = sorted(set(ds.corpus[ds.labels[:, ds.task_index(t)] != MISSING]))
                    own = f" of corpus {', '.join(corpora)}" if corpora else " (annotated on no example)"
                raise DataError(f"{where}: task {t!r} has no positive examples in the {s} split{own}")
    return ds
