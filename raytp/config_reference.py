"""`python -m raytp.config_reference`: the configuration reference as Markdown (pasted into README.md)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from raytp.config import ExperimentConfig


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows += _rows(ann, key + ".")
            continue
        default = field.get_default(call_default_factory=True)
        text = json.dumps(default, default=str)
        desc = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{text}` | {desc} |")
    return rows


def reference() -> str:
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *_rows(ExperimentConfig)])


if __name__ == "__main__":
    print(reference())
