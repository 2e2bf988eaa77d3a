"""Reading user data files with one-line errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from raytp.errors import DataError


def existing_file(path: str | Path, what: str = "data file") -> Path:
    """``path`` as a Path, or a DataError if it is missing, not a file, or empty."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: {what} not found")
    if not p.is_file():
        raise DataError(f"{p}: {what} is not a file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: {what} is empty")
    return p


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None


def read_json(path: Path) -> Any:
    """Parse a whole JSON document; a syntax error names its line and column."""
    text = read_text(path)
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: bad JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line is named by its number."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}: bad JSON on line {lineno}, column {e.colno}: {e.msg}") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{path}: line {lineno} is a JSON {type(obj).__name__}, expected an object")
                yield lineno, obj
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = [obj for _, obj in iter_jsonl(path)]
    if not rows:
        raise DataError(f"{path}: no records (only blank lines)")
    return rows
