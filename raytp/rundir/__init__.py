"""The run directory (pure, no Ray): every artifact name, atomic checksummed writes, typed records."""

from raytp.rundir import names
from raytp.rundir.layout import check_run_dir, load_run_config, prepare_run_dir
from raytp.rundir.names import CONFIG, MANIFEST, SINGLE_TASK, checkpoint_path, signature_path, task_summary_path
from raytp.rundir.records import (PruningPlan, SingleTaskSummary, read_pruning_plan, read_single_task,
                                  write_pruning_plan, write_single_task)
from raytp.rundir.store import RunDir, atomic_write_bytes

__all__ = ["CONFIG", "MANIFEST", "SINGLE_TASK", "PruningPlan", "RunDir", "SingleTaskSummary", "atomic_write_bytes",
           "check_run_dir", "checkpoint_path", "load_run_config", "names", "prepare_run_dir", "read_pruning_plan",
           "read_single_task", "signature_path", "task_summary_path", "write_pruning_plan", "write_single_task"]
