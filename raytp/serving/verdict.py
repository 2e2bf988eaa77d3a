"""A verdict per target: co-train with one source (and how), or train the target alone.

Pure: no Ray, no HTTP, no files. The rules (also stated in every answer):

- a searched pair's **gain** is the test-F1 gain over the target's single-task model of the pair's
  configuration with the best validation F1 (the project's pair rule, ``raytp.search.outcomes``);
- its **interval** is gain ± the run's **noise margin**: ``margin_sd`` standard errors of a difference of
  two ``seeds``-seed means under the pooled seed SD of test F1, floored at ``min_margin``;
- **co-train** with the searched pair of largest gain when that gain exceeds the margin (the interval
  lies above zero); otherwise **train alone**, naming the best pair tried;
- rows: measured pairs first, by gain (their common margin makes that the order of the interval's
  lower bound), then unmeasured pairs by the predictor's probability; each row states its basis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Evidence", "rank_rows", "decide", "format_hyperparameters", "noise_margin_rule", "verdict_table"]


@dataclass(frozen=True)
class Evidence:
    """What is known about one ordered pair source -> target (any field may be missing)."""

    source: str
    probability: float | None = None
    gain: float | None = None  # None: not searched (or every trial failed)
    seed_sd: float | None = None  # seed SD of the selected configuration's test F1
    hyperparameters: dict[str, Any] | None = None

    @property
    def measured(self) -> bool:
        return self.gain is not None


def noise_margin_rule(margin: float, seeds: int) -> str:
    return (f"interval = gain ± noise margin {margin:.4f} (2 standard errors of a difference of two {seeds}-seed "
            f"means, pooled seed SD of this run); co-train only when a searched pair's gain exceeds the margin")


def format_hyperparameters(hp: dict[str, Any] | None) -> str:
    """``lr=0.003 epochs=8`` (mode left out: it is named on its own)."""
    if not hp:
        return "-"
    parts = []
    for k, v in hp.items():
        if k == "mode" or v is None:
            continue
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts) or "-"


def _row(e: Evidence, margin: float) -> dict[str, Any]:
    """The fields a recommendation row adds to the v1 ones (interval, beyond_noise, rank_basis, seed_sd)."""
    if e.measured:
        lo, hi = e.gain - margin, e.gain + margin
        why = f"measured: test gain {e.gain:+.4f} ± {margin:.4f} (noise margin)"
        return {"interval": [lo, hi], "beyond_noise": bool(e.gain > margin), "seed_sd": e.seed_sd, "rank_basis": why}
    p = "unknown" if e.probability is None else f"{e.probability:.3f}"
    return {"interval": None, "beyond_noise": None, "seed_sd": None,
            "rank_basis": f"predicted: P(beneficial) {p}, not searched"}


def rank_rows(evidence: list[Evidence], margin: float) -> list[tuple[Evidence, dict[str, Any]]]:
    """Measured pairs by gain (highest first), then unmeasured ones by probability; pairs with neither are dropped."""
    known = [e for e in evidence if e.measured or e.probability is not None]

    def key(e: Evidence) -> tuple:
        if e.measured:
            return (0, -e.gain, e.source)
        return (1, -(e.probability or 0.0), e.source)
    return [(e, _row(e, margin)) for e in sorted(known, key=key)]


def decide(target: str, evidence: list[Evidence], margin: float, seeds: int) -> dict[str, Any]:
    """The verdict for ``target`` (see the module docstring); ``text`` is the one line a user reads."""
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
        raise ValueError(f"noise margin must be a finite number >= 0, got {margin!r}")
    measured = sorted((e for e in evidence if e.measured), key=lambda e: (-e.gain, e.source))
    out: dict[str, Any] = {"target": target, "action": "alone", "source": None, "mode": None,
                           "hyperparameters": None, "expected_gain": None, "interval": None,
                           "noise_margin": float(margin), "seeds": int(seeds), "searched_pairs": len(measured),
                           "best_tried": None, "rule": noise_margin_rule(margin, seeds)}
    if not measured:
        out["text"] = (f"train alone: no pair with target {target} was searched, so nothing beats the single-task "
                       "model yet (run the search, or see the predicted sources)")
        return out
    best = measured[0]
    hp = dict(best.hyperparameters or {})
    mode = hp.get("mode")
    interval = [best.gain - margin, best.gain + margin]
    tried = {"source": best.source, "mode": mode, "hyperparameters": hp, "gain": best.gain, "interval": interval}
    out["best_tried"] = tried
    settings = f"{mode or 'mode ?'}, {format_hyperparameters(hp)}"
    span = f"{interval[0]:+.3f} to {interval[1]:+.3f}"
    if best.gain > margin:
        out.update({"action": "co-train", "source": best.source, "mode": mode, "hyperparameters": hp,
                    "expected_gain": best.gain, "interval": interval,
                    "text": f"co-train with {best.source} ({settings}), expected test gain {best.gain:+.3f} "
                            f"({span}, ± noise margin over {seeds} seeds)"})
    else:
        out["text"] = (f"train alone: no searched pair beats the single-task model beyond the noise margin "
                       f"{margin:.3f} (best tried: {best.source}, {settings}, gain {best.gain:+.3f}, {span}; "
                       f"{len(measured)} pair(s) searched)")
    return out


def verdict_table(verdicts: list[dict[str, Any]]) -> str:
    """One short table, a row per target: verdict, source, gain ± margin, mode and settings."""
    header = ["target", "verdict", "source", "test gain ± margin", "mode", "hyperparameters"]
    rows = []
    for v in verdicts:
        shown = v["best_tried"] if v["action"] == "alone" else v
        gain = (shown or {}).get("gain", (shown or {}).get("expected_gain"))
        source = v["source"] or (f"({v['best_tried']['source']}, best tried)" if v["best_tried"] else "-")
        rows.append([v["target"], v["action"], source,
                     "-" if gain is None else f"{gain:+.4f} ± {v['noise_margin']:.4f}",
                     (shown or {}).get("mode") or "-", format_hyperparameters((shown or {}).get("hyperparameters"))])
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
