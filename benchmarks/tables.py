"""Regenerate the result tables in README.md and benchmarks/README.md from benchmarks/results/*.json.

A table lives between ``<!-- results:NAME:start -->`` and ``<!-- results:NAME:end -->``; NAME is a
JSON stem in benchmarks/results/ (``pruned_vs_full``) optionally followed by ``/VIEW`` (``headline``,
``rankers``, ``families``). Only those blocks are rewritten; everything else in the files stays as written.

    python benchmarks/tables.py            # rewrite the blocks
    python benchmarks/tables.py --check    # exit 1 naming every block that disagrees with its JSON
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FILES = (ROOT / "README.md", ROOT / "benchmarks" / "README.md")
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w.,/-]+):start -->\n)(?P<body>.*?)(<!-- results:(?P=name):end -->)", re.S)


def _f(v: Any, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _ci(value: Any, interval: dict | None, digits: int = 3) -> str:
    if not interval or interval.get("low") is None:
        return _f(value, digits)
    return f"{_f(value, digits)} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"


def _mark(value: Any, op: str, bound: float) -> str:
    if value is None:
        return f"{op} {bound} ✗"
    ok = value >= bound if op == "≥" else value <= bound
    return f"{op} {bound} {'✓' if ok else '✗ missed'}"


def _provenance(r: dict) -> str:
    m = r.get("machine", {})
    load = m.get("load_avg")
    return (f"Task set **{r.get('task_set', 'in-sample')}**; pruned side {r.get('pruned_side', 'searched')}; "
            f"caches {str(r.get('caches', 'unknown')).split(' (')[0]}; measured {m.get('date', '?')} on "
            f"{m.get('cpus', '?')} CPUs" + (f", load average {load[0]:.1f} at the start" if load else "") +
            f"; `benchmarks/results/{r.get('benchmark', '?')}.json`.")


def headline(r: dict) -> str:
    """Pruned vs full: the figures with intervals, targets and provenance."""
    iv = r["intervals"]
    auc = r["predictor"]
    rows = [
        "| figure | value [95 % interval] | target |", "|---|---|---|",
        f"| time reduction (compute-seconds) | {_f(r['time_reduction'])} | {_mark(r['time_reduction'], '≥', 0.85)} |",
        *([f"| time reduction (example-epochs: the same on any machine and load) | "
           f"{_f(r['time_reduction_example_epochs'])} | {_mark(r['time_reduction_example_epochs'], '≥', 0.85)} |"]
          if r.get("time_reduction_example_epochs") is not None else []),
        f"| F1 loss (mean over {len(r['per_target'])} targets) | {_ci(r['f1_loss'], iv['f1_loss'])} | "
        f"{_mark(r['f1_loss'], '≤', 0.02)} |",
        f"| gain captured, pooled over the {r['targets_beyond_margin']} targets improved beyond the noise margin "
        f"({_f(r['margin'])}) | {_ci(r['gain_captured_pooled_beyond_margin'], iv['gain_captured_pooled_beyond_margin'])}"
        f" | |",
        f"| gain captured, pooled over the {r['targets_with_full_gain']} targets the full grid improved | "
        f"{_ci(r['gain_captured_pooled'], iv['gain_captured_pooled'])} | {_mark(r['gain_captured_pooled'], '≥', 0.8)} |",
        f"| gain captured, per-target mean (secondary) | {_ci(r['gain_captured'], iv['gain_captured_mean'])} | |",
        f"| predictor AUC ({r['pairs_beneficial']} beneficial of {r['pairs_total']} pairs) | "
        f"{_ci(auc['auc'], auc['intervals']['auc'])} | |",
    ]
    return "\n".join(rows + ["", _provenance(r)])


def rankers(r: dict) -> str:
    """Pruned vs full: every ranker's AUC, regret, NDCG and same-budget gain, with intervals and paired differences."""
    p = r["predictor"]
    rows = ["| ranker (as many pairs per target as the predictor) | AUC [95 %] | predictor AUC minus this [95 %] | "
            "regret@3 [95 %] | NDCG@3 [95 %] | same budget: F1 loss / pooled gain captured [95 %] |",
            "|---|---|---|---|---|---|"]

    def line(name: str, m: dict, sim: dict | None, diff: dict | None) -> str:
        i = m.get("intervals", {})
        si = (sim or {}).get("intervals", {})
        pooled = _ci((sim or {}).get("gain_captured_pooled"), si.get("gain_captured_pooled"))
        same = "—" if not sim else f"{_f(sim['f1_loss'])} / {pooled}"
        d = "—" if not diff or diff.get("low") is None else (
            f"{diff['estimate']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]"
            + (" (not above)" if diff["low"] <= 0 else ""))
        return (f"| {name} | {_ci(m['auc'], i.get('auc'))} | {d} | {_ci(m.get('regret_at_3'), i.get('regret_at_3'))} | "
                f"{_ci(m.get('ndcg_at_3'), i.get('ndcg_at_3'))} | {same} |")
    rows.append(line("**raytp predictor**", p, r["references"].get("predictor_first_point"), None))
    for name, b in r["baselines"].items():
        rows.append(line(name, b, b.get("simulated_first_point"), p["intervals"].get(f"auc_minus_{name}")))
    draws = r["references"].get("random_first_point_draws")
    text = "\n".join(rows)
    if draws:
        text += (f"\n\nRandom rankings at the same budget ({draws['draws']} draws): pooled gain captured mean "
                 f"{_f(draws['gain_captured_pooled_mean'])}; per-target mean {_f(draws['gain_captured_mean'])} "
                 f"(10th–90th percentile {_f(draws['gain_captured_p10'])}–{_f(draws['gain_captured_p90'])}).")
    return text + "\n\n" + _provenance(r)


def families(r: dict) -> str:
    """Pruned vs full: the learned predictor per feature group (signal families apart; leave-targets-out, no
    intervals) and each single score used as a zero-shot ranking, from ``predictor_evaluation``."""
    pe = r.get("predictor_evaluation", {})
    rows = [f"Outcomes: {pe.get('beneficial', '—')} beneficial of {pe.get('pairs', '—')} pairs. Leave-targets-out, "
            "no intervals (see the ranker table for those).", "",
            "| learned predictor on feature group | features | AUC | regret@3 |", "|---|---|---|---|"]
    for g in pe.get("learned_by_feature_group", []):
        rows.append(f"| {g['group']} | {g['n_features']} | {_f(g.get('auc'))} | {_f(g.get('regret@3'))} |")
    rows += ["", "| score as a zero-shot ranking | AUC | regret@3 |", "|---|---|---|"]
    for name, m in pe.get("scores", {}).items():
        rows.append(f"| {name} | {_f(m.get('auc'))} | {_f(m.get('regret@3'))} |")
    return "\n".join(rows + ["", _provenance(r)])


def input_maps(r: dict) -> str:
    """Input-level attribution maps as zero-shot rankers: AUC, paired differences with TextEmb / LogME, NDCG@3."""
    rows = [f"| zero-shot ranker ({r['beneficial']} beneficial of {r['pairs']} pairs) | AUC [95 %] | "
            "minus TextEmb [95 %] | minus LogME [95 %] | NDCG@3 [95 %] |", "|---|---|---|---|---|"]

    def diff(d: dict | None) -> str:
        return "—" if not d or d.get("low") is None else f"{d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
    for name, iv in r["scores"].items():
        if iv is None:
            rows.append(f"| {name} | — (not in this run) | | | |")
            continue
        rows.append(f"| {name} | {_ci(iv['auc']['estimate'], iv['auc'])} | {diff(iv.get('auc_minus_textemb'))} | "
                    f"{diff(iv.get('auc_minus_logme'))} | {_ci(iv['ndcg_at_3']['estimate'], iv['ndcg_at_3'])} |")
    cost = (f"Input maps cost {_f(r['seconds_per_model_mean'], 2)} s per model on average (max "
            f"{_f(r['seconds_per_model_max'], 2)} s; {r['backend']}, {r['probe_size']} probe texts, n_steps "
            f"{r['n_steps']}; from {r['maps']['source']}). `input_ig/*` columns use the `{r['weighting_of_columns']}` "
            "text weighting; `[w]` marks another weighting.")
    return "\n".join(rows) + "\n\n" + cost + "\n\n" + _provenance(r)


def ablation(r: dict) -> str:
    """Pruned-search ablation (issue 13): every arm at one budget, mean ± SD over sampler seeds, both cost units,
    the live default run, and whether the grid matters."""
    def ms(v: Any, digits: int = 3) -> str:
        if isinstance(v, dict):
            return "—" if v.get("mean") is None else f"{v['mean']:.{digits}f} ± {v['sd']:.{digits}f}"
        return _f(v, digits)
    rows = [f"Budget {r['budget_trials']} trials of the full grid's {r['full_trials']} ({r['grid_points']} points per "
            f"pair); noise margin {_f(r['margin'])} F1; sampler seeds: "
            f"{r['arms'].get('c', {}).get('seeds', '—')} (mean ± SD).", "",
            "| arm | time reduction (compute-s) | time reduction (example-epochs) | F1 loss | pooled gain captured "
            "(targets beyond the margin) | trials | stopped early |", "|---|---|---|---|---|---|---|"]
    for k, a in r["arms"].items():
        label = a.get("label", k).split(":")[0]
        rows.append(f"| ({k}) {label} | {ms(a.get('time_reduction'))} | {ms(a.get('time_reduction_example_epochs'))} | "
                    f"{ms(a.get('f1_loss'))} | {ms(a.get('gain_captured_pooled_margin'))} | {ms(a.get('trials'), 1)} | "
                    f"{ms(a.get('stopped_early'), 1)} |")
    live, g = r.get("live_default", {}), r.get("full_grid", {})
    pruned = live.get("pruned", {})
    rows += ["", f"Live default run (Ray Tune + Optuna, not replayed): time reduction {_f(live.get('time_reduction'))} "
                 f"(example-epochs {_f(live.get('time_reduction_example_epochs'))}), F1 loss {_f(live.get('f1_loss'))}, "
                 f"{pruned.get('trials_run', '—')} trials, {pruned.get('stopped_early', '—')} stopped early by ASHA, "
                 f"{pruned.get('targets', '—')} targets searched.",
             "", f"Does the grid matter? Validation selects a point other than the first on "
                 f"{_f(g.get('share_pairs_selected_not_first'), 2)} of {g.get('pairs', '—')} pairs; the selected point's "
                 f"test gain is above the first point's by {_f(g.get('selected_over_first_mean'))} on average (median "
                 f"{_f(g.get('selected_over_first_median'))}); beneficial pairs: {g.get('beneficial_pairs', '—')}, of "
                 f"which {_f(g.get('share_beneficial_selected_not_first'), 2)} selected a non-first point.",
             "", f"Task set **{r.get('task_set', '?')}** ({', '.join(r.get('tasks', []))}); measured "
                 f"{r.get('machine', {}).get('date', '?')}, load average {_f((r.get('loadavg') or [None])[0], 1)} at the "
                 f"replay; `benchmarks/results/{r.get('name', '?')}_ablation.json`."]
    return "\n".join(rows)


def sets(rs: list[dict]) -> str:
    """One row per pruned-vs-full run (stems joined by commas, ``a,b,c/sets``): the live default search and its
    ranking against the best zero-shot baseline, with intervals and whether the set was declared."""
    rows = ["| task set | pairs (beneficial) | time reduction: seconds / example-epochs | F1 loss [95 %] | pooled gain "
            "captured, targets beyond the margin [95 %] | predictor AUC [95 %] | best other ranker: AUC, predictor "
            "minus it [95 %] |", "|---|---|---|---|---|---|---|"]
    for r in rs:
        iv, p = r["intervals"], r["predictor"]
        best = max(r["baselines"].items(), key=lambda kv: -1 if kv[1]["auc"] is None else kv[1]["auc"])
        d = p["intervals"].get(f"auc_minus_{best[0]}") or {}
        diff = "—" if d.get("low") is None else f"{d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
        label = {"pruned_vs_full": "default 8 tasks", "cross_corpus": "cross-corpus halves"}.get(r["benchmark"],
                                                                                               r["benchmark"])
        rows.append(f"| {label} ({r.get('task_set', '?')}) | {r['pairs_total']} ({r['pairs_beneficial']}) | "
                    f"{_f(r['time_reduction'])} / {_f(r.get('time_reduction_example_epochs'))} | "
                    f"{_ci(r['f1_loss'], iv['f1_loss'])} | "
                    f"{_ci(r['gain_captured_pooled_beyond_margin'], iv['gain_captured_pooled_beyond_margin'])} "
                    f"({r['targets_beyond_margin']} targets) | {_ci(p['auc'], p['intervals']['auc'])} | "
                    + (f"{best[0]}: {_f(best[1]['auc'])}, {diff} |" if best[1]["auc"] is not None
                       else "— (no beneficial pair: AUC undefined) |"))
    dates = sorted({r.get("machine", {}).get("date", "?")[:10] for r in rs})
    return "\n".join(rows) + f"\n\nMeasured {', '.join(dates)}; `benchmarks/results/<task set>.json`."


def atlas(rs: list[dict]) -> str:
    """Atlas evaluations (``atlas_eval_a,atlas_eval_b/atlas``): per ranked set, the atlas-learned predictor's AUC with
    its interval beside every zero-shot ranker's AUC (a zero-shot-only evaluation has no predictor: —)."""
    names = [k for k in rs[0]["auc_point"] if k != "atlas_predictor"]
    rows = ["| ranked set | ranked atlas ← trained on | beneficial / pairs | training rows | atlas-learned predictor "
            "[95 %] | " + " | ".join(names) + " |", "|---|---|---|---|---|" + "---|" * len(names)]
    for r in rs:
        a = (r["results"].get("atlas_predictor") or {}).get("auc")
        folds = r.get("fold_details") or [r]
        train = sorted({int(f.get("train_rows", 0)) for f in folds})
        train_s = "—" if train == [0] else "-".join(str(n) for n in (train[0], train[-1]) if n) if len(train) > 1 \
            else str(train[0])
        split = f", {r['folds']} folds (seed {r['fold_seed']})" if r.get("folds") else ""
        short = lambda f: f.removeprefix("atlas_").removesuffix(".csv.gz")  # noqa: E731
        rows.append(f"| {r['name']} ({r.get('task_set', '?')}{split}) | {short(r['atlas'])} ← {short(r['train_atlas'])} | "
                    f"{r['beneficial_test']} / {r['pairs_ranked']} | {train_s} | "
                    f"{'—' if a is None else _ci(a['estimate'], a)} | "
                    + " | ".join(_f(r["auc_point"].get(n)) for n in names) + " |")
    paired = [r for r in rs if r.get("paired")]
    notes = [f"{r['name']}: AUC {r['paired']['a']} minus {r['paired']['b']} "
             f"{_ci(r['paired']['auc_a_minus_b']['estimate'], r['paired']['auc_a_minus_b'])} (paired over targets)."
             for r in paired]
    return "\n".join(rows) + "\n\n" + " ".join(notes + ["`benchmarks/results/atlas_eval_<set>.json`."])


def tune_overhead(r: dict) -> str:
    """Two source trees' full grids side by side (benchmarks/tune_overhead.py)."""
    s = r["summary"]
    rows = ["| source tree | search wall (s) | share of slot time not training | driver CPU (s) | training (s) |",
            "|---|---|---|---|---|"]
    for arm in ("before", "after"):
        a = s[arm]
        rows.append(f"| {arm} | {a['wall_s']:.1f} | {a['overhead_share']:.1%} | {a['driver_cpu_s']:.1f} | "
                    f"{a['train_s']:.1f} |")
    commits = r.get("commits") or {}
    trees = f"before = {commits['before']}, after = {commits['after']}; " if commits else ""
    return "\n".join(rows) + (f"\n\n{trees}{len(r['tasks'])} tasks ({', '.join(r['tasks'])}), mean of {r['reps']} runs per "
                              f"tree, alternating; search wall {s['speedup_wall']:.2f}x; per-trial test F1 identical: "
                              f"{r['f1_test_identical']}; measured {r['machine']['date']}; "
                              "`benchmarks/results/tune_overhead.json`.")


VIEWS = {"headline": headline, "rankers": rankers, "families": families, "input_maps": input_maps,
         "ablation": ablation, "tune_overhead": tune_overhead}


def render(name: str, results: Path = RESULTS) -> str:
    """The block NAME (``stem`` or ``stem/view``) from ``results/stem.json``; ``a,b,c/sets``: several."""
    stem, _, view = name.partition("/")
    if view in ("sets", "atlas"):
        missing = [s for s in stem.split(",") if not (results / f"{s}.json").is_file()]
        if missing:
            raise SystemExit(f"{results / (missing[0] + '.json')}: missing (block results:{name})")
        return (sets if view == "sets" else atlas)([json.loads((results / f"{s}.json").read_text())
                                                     for s in stem.split(",")])
    path = results / f"{stem}.json"
    if not path.is_file():
        raise SystemExit(f"{path}: missing (block results:{name})")
    fn = VIEWS.get(view or "headline")
    if fn is None:
        raise SystemExit(f"block results:{name}: unknown view {view!r}; known: {', '.join(VIEWS)}")
    return fn(json.loads(path.read_text()))


def blocks(text: str) -> list[tuple[str, str]]:
    """(name, body) of every results block in ``text``."""
    return [(m["name"], m["body"]) for m in BLOCK.finditer(text)]


def regenerate(text: str, results: Path = RESULTS) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m["name"], results).strip() + "\n" + m.group(4), text)


def main(argv: list[str]) -> int:
    stale = []
    for path in FILES:
        text = path.read_text()
        new = regenerate(text)
        if new != text:
            if "--check" in argv:
                stale += [f"{path.relative_to(ROOT)}: results:{n}" for n, b in blocks(text)
                          if b.strip() != render(n).strip()]
            else:
                path.write_text(new)
                print(f"rewrote {path.relative_to(ROOT)}")
    for s in stale:
        print(f"stale table: {s} (run python benchmarks/tables.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
