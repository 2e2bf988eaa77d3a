"""Which config a run directory belongs to: checks before a command writes, and the run's own config."""

from __future__ import annotations


from raytp.config import ExperimentConfig, load_config
from raytp.errors import RunDirError
from raytp.rundir.names import CONFIG
from raytp.rundir.store import RunDir


def check_run_dir(path: str, cfg: ExperimentConfig, resume: bool = False) -> None:
    """Raise if RUN_DIR cannot take this config (another config's run, corrupt, nothing to resume); writes nothing."""
    from pathlib import Path
    if not Path(path).exists():
        if resume:
            raise RunDirError(f"{path}: nothing to resume (run directory not found)")
        return
    run = RunDir(path)
    if run.has(CONFIG):
        previous = _checked_config(run)
        if previous.fingerprint() != cfg.fingerprint():
            raise RunDirError(f"{run.path(CONFIG)}: this run directory was made with a different config "
                              f"(fingerprint {previous.fingerprint()} != {cfg.fingerprint()}); use another --out")
    elif resume:
        raise RunDirError(f"{run.root}: nothing to resume (no {CONFIG})")


def prepare_run_dir(path: str, cfg: ExperimentConfig, resume: bool = False) -> RunDir:
    """Create RUN_DIR or check that an existing one belongs to this config (same fingerprint).

    Checks come first: a refused run directory is left exactly as it was (a missing one is not created)."""
    check_run_dir(path, cfg, resume)
    run = RunDir(path, create=True)
    if not run.has(CONFIG):
        run.write_text(CONFIG, cfg.to_yaml())
    return run


def load_run_config(run: RunDir) -> ExperimentConfig:
    if not run.has(CONFIG):
        raise RunDirError(f"{run.path(CONFIG)}: missing; run `raytp train --out {run.root}` first")
    return _checked_config(run)


def _checked_config(run: RunDir) -> ExperimentConfig:
    """The run's config, after its bytes pass the manifest checksum (a tampered config is never used)."""
    run.read_bytes(CONFIG)
    return load_config(run.path(CONFIG))

