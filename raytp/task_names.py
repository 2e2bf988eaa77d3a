"""The task-name rule: every task name becomes part of file paths in a run directory and of URLs
(``/v1/pairs/{source}/{target}``), so it is checked once, where names enter (config, data loaders)."""

from __future__ import annotations

import re

__all__ = ["TASK_NAME_PATTERN", "task_name_problem"]

TASK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_TASK_NAME = re.compile(TASK_NAME_PATTERN)
RULE = "1-128 characters: letters, digits, '_', '.', ':', '-', starting with a letter or digit"


def task_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a task name (None when it can)."""
    if not isinstance(name, str):
        return f"task name {name!r} is not a string"
    if _TASK_NAME.fullmatch(name) is None:
        return f"task name {name!r} is not allowed ({RULE})"
    return None
