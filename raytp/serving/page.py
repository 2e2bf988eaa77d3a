"""The report page of a run directory: one self-contained HTML file (inline CSS and SVG, no script, no fonts).

What it shows, from whatever the run holds: the verdict per target; the pair heatmaps (predicted P(beneficial), and
the measured gain of every searched pair, kept pairs outlined); the kept pairs; the search's best-so-far gain
against compute per target; and, when the full grid was run, the pruned-vs-full comparison. Pure: reads the run
directory through ``RunDir`` (checksums verified) and returns text; ``write_page`` stores it as ``report.html``.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from raytp.rundir import RunDir
from raytp.rundir.names import CALIBRATION, REPORT, REPORT_PAGE, SEARCH_FULL, SEARCH_PRUNED

PAGE = REPORT_PAGE
TRIAL_TABLES = {"calibration": CALIBRATION, "pruned": SEARCH_PRUNED, "full": SEARCH_FULL}

__all__ = ["PAGE", "render_page", "write_page"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#1a202c;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0}
.meta{color:#4a5568}table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 8px;border-bottom:1px solid
#edf2f7;text-align:left;vertical-align:top}th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:
tabular-nums}.co-train{color:#22543d;font-weight:600}.alone{color:#744210;font-weight:600}.charts{display:flex;
flex-wrap:wrap;gap:12px}.chart{border:1px solid #e2e8f0;padding:4px}.small{font-size:12px;color:#4a5568}
svg text{font-family:inherit}figure{margin:0}
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _f(v: Any, fmt: str = "{:+.4f}") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    t = min(1.0, max(0.0, t))
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def _prob_colour(p: float | None) -> str:
    return "#edf2f7" if p is None else _mix((255, 255, 255), (43, 108, 176), p)


def _gain_colour(g: float | None, scale: float) -> str:
    if g is None:
        return "#edf2f7"
    return _mix((255, 255, 255), (47, 133, 90) if g >= 0 else (197, 48, 48), abs(g) / scale)


def heatmap_svg(tasks: list[str], value: dict[tuple[str, str], float], colour: Any, label: Any,
                kept: set[tuple[str, str]], title: str, element_id: str) -> str:
    """Rows: targets, columns: sources; one cell per ordered pair, kept pairs outlined in black."""
    cell, left, top = 34, 110, 90
    n = len(tasks)
    w, h = left + n * cell + 10, top + n * cell + 10
    parts = [f'<svg id="{element_id}" class="heatmap" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img" aria-label="{_e(title)}">']
    for j, s in enumerate(tasks):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.0f}" y="{top - 6}" font-size="11" transform="rotate(-55 {x:.0f} {top - 6})">'
                     f'{_e(s)}</text>')
    for i, t in enumerate(tasks):
        y = top + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.0f}" font-size="11" text-anchor="end">{_e(t)}</text>')
        for j, s in enumerate(tasks):
            x = left + j * cell
            if s == t:
                parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="#cbd5e0"/>')
                continue
            v = value.get((s, t))
            stroke = ' stroke="#000" stroke-width="2"' if (s, t) in kept else ' stroke="#fff"'
            parts.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour(v)}"'
                         f'{stroke}><title>{_e(s)} → {_e(t)}: {_e(label(v))}'
                         f'{" (kept)" if (s, t) in kept else ""}</title></rect>')
            if v is not None:
                parts.append(f'<text x="{x + cell / 2:.0f}" y="{y + cell / 2 + 4:.0f}" font-size="9" '
                             f'text-anchor="middle">{_e(label(v, short=True))}</text>')
    parts.append("</svg>")
    return (f'<figure><figcaption><b>{_e(title)}</b><br><span class="small">rows: target, columns: source'
            f'</span></figcaption>{"".join(parts)}</figure>')


def best_so_far_gain(trials: pd.DataFrame, baseline: dict[str, Any]) -> list[tuple[float, float]]:
    """(cumulative compute seconds, test gain of the validation-selected configuration so far) for one target's
    trials in the order they ran; starts at (0, 0): the single-task model."""
    points = [(0.0, 0.0)]
    spent, best_val, gain = 0.0, float(baseline.get("f1_val", 0.0)), 0.0
    for r in trials.itertuples(index=False):
        spent += float(getattr(r, "compute_s", 0.0) or 0.0)
        f1v, f1t = getattr(r, "f1_val", None), getattr(r, "f1_test", None)
        if getattr(r, "status", "ok") == "ok" and f1v is not None and not pd.isna(f1v) and f1v > best_val:
            best_val, gain = float(f1v), float(f1t) - float(baseline.get("f1_test", 0.0))
        points.append((spent, gain))
    return points


def line_chart_svg(series: dict[str, list[tuple[float, float]]], title: str, margin: float) -> str:
    """Step lines of best-so-far gain against compute, one per search, with the ± noise margin band."""
    w, h, l, r, t, b = 250, 150, 44, 8, 18, 28
    xs = [x for pts in series.values() for x, _ in pts] or [1.0]
    ys = [y for pts in series.values() for _, y in pts] + [margin, -margin]
    x1 = max(xs) or 1.0
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.1 or 0.01
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return l + (w - l - r) * x / x1

    def py(y: float) -> float:
        return t + (h - t - b) * (1 - (y - y0) / (y1 - y0))
    colours = {"pruned": "#2b6cb0", "full": "#c05621"}
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
             f'<text x="{l}" y="12" font-size="12" font-weight="600">{_e(title)}</text>',
             f'<rect x="{l}" y="{py(margin):.1f}" width="{w - l - r}" height="{py(-margin) - py(margin):.1f}" '
             f'fill="#edf2f7"><title>noise margin ± {margin:.4f}</title></rect>',
             f'<line x1="{l}" x2="{w - r}" y1="{py(0):.1f}" y2="{py(0):.1f}" stroke="#a0aec0"/>',
             f'<text x="{l - 4}" y="{py(y1) + 8:.0f}" font-size="9" text-anchor="end">{y1:+.3f}</text>',
             f'<text x="{l - 4}" y="{py(y0):.0f}" font-size="9" text-anchor="end">{y0:+.3f}</text>',
             f'<text x="{w - r}" y="{h - 6}" font-size="9" text-anchor="end">{x1:.0f} compute-s</text>',
             f'<text x="{l}" y="{h - 6}" font-size="9">0</text>']
    for name, pts in series.items():
        path, prev = [], None
        for x, y in pts:
            if prev is not None:
                path.append(f"{px(x):.1f},{py(prev):.1f}")
            path.append(f"{px(x):.1f},{py(y):.1f}")
            prev = y
        parts.append(f'<polyline fill="none" stroke="{colours.get(name, "#2d3748")}" stroke-width="2" '
                     f'points="{" ".join(path)}"><title>{_e(name)} search: final gain {pts[-1][1]:+.4f}</title>'
                     f'</polyline>')
    return "".join(parts) + "</svg>"


def _table(headers: list[str], rows: list[list[str]], element_id: str = "", num: set[int] | None = None) -> str:
    ident = f' id="{element_id}"' if element_id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in (num or set()) else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _trials(run: RunDir) -> dict[str, pd.DataFrame]:
    out = {}
    for label, rel in TRIAL_TABLES.items():
        if run.has(rel):
            df = run.read_parquet(rel)
            out[label] = df.sort_values("trial_id") if "trial_id" in df else df
    return out


def render_page(run_dir: str | Any) -> str:
    """The page of a run directory (needs single_task.json; everything else is shown when present)."""
    from raytp.serving.recommender import Recommender
    from raytp.serving.verdict import format_hyperparameters
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    rec = Recommender.from_run_dir(run.root)
    tasks = rec.task_names()
    margin = rec.margin
    verdicts = rec.verdicts()
    trials = _trials(run)

    vrows = []
    for v in verdicts:
        shown = v["best_tried"] if v["action"] == "alone" else v
        gain = (shown or {}).get("gain", (shown or {}).get("expected_gain"))
        base = rec.single_task[v["target"]]
        vrows.append([_e(v["target"]), f'<span class="{v["action"]}">{_e(v["action"])}</span>',
                      _e(v["source"] or ("(" + v["best_tried"]["source"] + ", best tried)" if v["best_tried"] else "-")),
                      _e(_f(base.get("f1_test"), "{:.3f}")),
                      _e("-" if gain is None else f"{gain:+.4f} ± {margin:.4f}"),
                      _e((shown or {}).get("mode") or "-"),
                      _e(format_hyperparameters((shown or {}).get("hyperparameters"))), _e(v["text"])])
    verdict_html = _table(["target", "verdict", "source", "single-task F1", "test gain ± margin", "mode",
                           "hyperparameters", "in words"], vrows, "verdicts", num={3, 4})

    kept = {k for k, v in rec.kept.items() if v}
    gains = {k: m.observed_gain for k, m in rec.measured.items() if m.observed_gain is not None}
    scale = max([abs(g) for g in gains.values()] + [margin * 2, 1e-6])
    prob_svg = heatmap_svg(tasks, rec.probabilities, _prob_colour,
                           lambda v, short=False: "-" if v is None else (f"{v:.2f}" if short else f"P={v:.3f}"),
                           kept, "Predicted P(beneficial)", "heatmap")
    gain_svg = heatmap_svg(tasks, gains, lambda g: _gain_colour(g, scale),
                           lambda v, short=False: "-" if v is None else (f"{v * 100:+.0f}" if short else
                                                                         f"gain {v:+.4f}"),
                           kept, "Measured test gain (F1 points x100; blank: not searched)", "gain-heatmap")

    krows = []
    for (s, t) in sorted(kept, key=lambda p: (p[1], -(rec.probabilities.get(p) or 0.0))):
        m = rec.measured.get((s, t))
        g = None if m is None else m.observed_gain
        krows.append([_e(t), _e(s), _e(_f(rec.probabilities.get((s, t)), "{:.3f}")), _e(_f(g)),
                      "-" if g is None else ("beyond noise" if g > margin else ("harmful" if g < -margin else "noise")),
                      _e("-" if m is None else m.trials)])
    kept_html = (_table(["target", "source", "P(beneficial)", "test gain", "vs margin", "trials"], krows, "kept",
                        num={2, 3, 5}) if krows else "<p>No pruning plan in this run.</p>")

    charts = []
    pruned_side = pd.concat([trials[k] for k in ("calibration", "pruned") if k in trials], ignore_index=True) \
        if any(k in trials for k in ("calibration", "pruned")) else None
    for t in tasks:
        series = {}
        if pruned_side is not None:
            series["pruned"] = best_so_far_gain(pruned_side[pruned_side["target"] == t], rec.single_task[t])
        if "full" in trials:
            series["full"] = best_so_far_gain(trials["full"][trials["full"]["target"] == t], rec.single_task[t])
        if any(len(p) > 1 for p in series.values()):
            charts.append(line_chart_svg(series, t, margin))
    charts_html = (f'<div class="charts" id="best-so-far">{"".join(charts)}</div><p class="small">Test gain of the '
                   'configuration validation F1 selects so far (it can fall: validation picks it, not test). Blue: '
                   'pruned search (calibration and Optuna trials, in order); orange: full grid. Shaded: ± noise '
                   'margin.</p>'
                   if charts else "<p>No search in this run yet.</p>")

    compare_html = ""
    if run.has(REPORT):
        r = run.read_json(REPORT)
        head = [["time reduction", _f(r.get("time_reduction"), "{:.3f}")], ["F1 loss", _f(r.get("f1_loss"), "{:+.4f}")],
                ["gain captured", _f(r.get("gain_captured"), "{:.3f}")],
                ["gain captured (pooled)", _f(r.get("gain_captured_pooled"), "{:.3f}")],
                ["pairs kept / total", f"{r.get('pairs_kept')} / {r.get('pairs_total')}"],
                ["predictor AUC", _f((r.get("predictor") or {}).get("auc"), "{:.3f}")]]
        per = [[_e(p["target"]), _f(p["single_f1"], "{:.3f}"), _f(p["full_f1"], "{:.3f}"), _e(p["full_choice"]),
                _f(p["pruned_f1"], "{:.3f}"), _e(p["pruned_choice"]), _f(p["f1_loss"], "{:+.4f}")]
               for p in r.get("per_target", [])]
        compare_html = ("<h2>Pruned vs full grid</h2>" + _table(["figure", "value"], [[_e(a), _e(b)] for a, b in head],
                                                                 "comparison", num={1})
                        + _table(["target", "single F1", "full F1", "full choice", "pruned F1", "pruned choice",
                                  "F1 loss"], per, "comparison-per-target", num={1, 2, 4, 6}))

    title = f"raytp report: {run.root.name}"
    meta = (f"{len(tasks)} tasks · {len(rec.probabilities)} pairs predicted · {len(rec.measured)} pairs searched · "
            f"noise margin {margin:.4f} ({rec.seeds} seeds) · config {rec.config_fingerprint or '-'}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>'
            f'<h1>{_e(title)}</h1><p class="meta">{_e(meta)}</p>'
            f'<h2>Verdict per target</h2>{verdict_html}<p class="small">{_e(verdicts[0]["rule"])}</p>'
            f'<h2>Pairs</h2><div class="charts">{prob_svg}{gain_svg}</div>'
            f'<p class="small">Black outline: pairs the predictor kept for the search.</p>'
            f'<h2>Kept pairs</h2>{kept_html}'
            f'<h2>Best-so-far gain against compute, per target</h2>{charts_html}{compare_html}</body></html>')


def write_page(run: RunDir) -> str:
    """Render and store ``report.html`` (checksummed in the manifest); returns its name."""
    run.write_text(PAGE, render_page(run))
    return PAGE
