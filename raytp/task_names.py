"""The task-name rule: every task name becomes part of file paths in a run directory and of URLs
(``/v1/pairs/{source}/{target}``), so it is checked once, where names enter (config, data loaders)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["TASK_NAME_PATTERN", "safe_task_name", "task_name_problem"]

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


def safe_task_name(value: str) -> str | None:
    """``value`` made a valid task name, deterministically (None when nothing usable is left).

    Accents are dropped (``Café`` -> ``Cafe``), every run of other disallowed characters becomes one
    ``_`` (``Credit card or prepaid card`` -> ``Credit_card_or_prepaid_card``), leading/trailing
    ``_`` and non-alphanumeric leading characters are removed, and the result is cut to 128 characters.
    A valid name is returned unchanged."""
    if task_name_problem(value) is None:
        return value
    ascii_ = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9_.:-]+", "_", ascii_)
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)[:128].rstrip("_")
    return name if task_name_problem(name) is None else None
