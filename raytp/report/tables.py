"""Plain-text tables for the terminal."""

from __future__ import annotations

from typing import Any

from raytp.rundir.records import SingleTaskSummary


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([line, sep, *body])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)


def _numeric(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def single_task_table(summary: SingleTaskSummary) -> str:
    rows = [[t, s["f1_val"], s["f1_test"], s["f1_test_sd"], s["positives_train"], s["hyperparameters"]["lr"],
             s["train_wall_s"]] for t, s in summary.tasks.items()]
    rows += [[t, "failed", why, "", "", "", ""] for t, why in summary.failed.items()]
    text = format_table(["task", "F1 val", "F1 test", "SD test", "pos train", "lr", "seconds"], rows)
    return (f"{text}\n\n{len(summary.tasks)} tasks on {summary.workers} workers in {summary.wall_s:.1f} s "
            f"(compute {summary.compute_s:.1f} s, {summary.example_epochs:,} example-epochs; F1 = positive class, "
            f"mean of {len(summary.seeds)} seeds)")
