"""Verdicts of a run directory against its measured data (issue 17's target).

For every target: the verdict is "alone" exactly when no searched pair's gain (the best-validation configuration's
test gain) exceeds the noise margin the search recorded (search_*.json). Also the report page's size, and the size
of the page of a generated 20-task run (< 2 MB). Prints the table and writes benchmarks/results/verdicts_<name>.json.

    PYTHONPATH=. python benchmarks/verdicts.py --run runs/default --name default
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raytp.serving.recommender import SEARCHES, Recommender  # noqa: E402
from raytp.serving.page import render_page  # noqa: E402
from raytp.search.outcomes import pair_outcomes  # noqa: E402
from raytp.serving.verdict import verdict_table  # noqa: E402
from raytp.rundir import RunDir  # noqa: E402


def check(run_dir: str) -> dict:
    run = RunDir(run_dir)
    rec = Recommender.from_run_dir(run_dir)
    recorded = {rel: run.read_json(rel.replace(".parquet", ".json"))["noise"]["margin"]
                for rel in SEARCHES.values() if run.has(rel) and run.has(rel.replace(".parquet", ".json"))}
    import pandas as pd
    trials = pd.concat([run.read_parquet(rel) for rel in SEARCHES.values() if run.has(rel)], ignore_index=True)
    margin = rec.margin
    pairs = pair_outcomes(trials, margin)
    rows, agree = [], 0
    for t in rec.task_names():
        gains = pairs[pairs["target"] == t]["gain"].astype(float).tolist()
        beyond = any(g > margin for g in gains)
        v = rec.verdict(t)
        ok = (v["action"] == "alone") == (not beyond)
        agree += ok
        rows.append({"target": t, "verdict": v["action"], "source": v["source"], "pairs_searched": len(gains),
                     "best_gain": max(gains) if gains else None, "any_gain_beyond_margin": beyond, "agrees": ok,
                     "text": v["text"]})
    return {"run_dir": str(run_dir), "noise_margin": margin, "recorded_margins": recorded,
            "targets": len(rows), "agree": agree, "rows": rows, "page_bytes": len(render_page(run).encode())}


def page_bytes_20_tasks() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.recommender_runs import write_run
    with tempfile.TemporaryDirectory() as d:
        write_run(Path(d) / "r", tasks=[f"task{i:02d}" for i in range(20)], searches=("pruned", "full"), keep=3)
        return len(render_page(Path(d) / "r").encode())


def browser_load(run_dir: str, loads: int = 5) -> dict | None:
    """Serve the run (real uvicorn on 127.0.0.1, with a token) and load its page in headless Chromium ``loads`` times:
    load seconds (navigation start to the load event, as the browser reports it, and wall time around goto)."""
    import shutil
    import socket
    import threading
    import time
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    import uvicorn

    from raytp.serving.http_api import create_app
    rec = Recommender.from_run_dir(run_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: rec, token="t", loopback_only=True), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    nav, wall, errors = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
            for _ in range(loads):
                page = browser.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                t = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/?token=t", wait_until="load")
                wall.append(time.perf_counter() - t)
                nav.append(page.evaluate("() => performance.getEntriesByType('navigation')[0].duration") / 1000)
                page.close()
            browser.close()
    finally:
        server.should_exit = True
    return {"loads": loads, "navigation_s": nav, "goto_wall_s": wall, "console_errors": errors,
            "max_navigation_s": max(nav), "max_goto_wall_s": max(wall)}


def models_check(run_dir: str) -> list[dict]:
    """Export every kept model and score it on the run's test split (what `raytp predict --evaluate` does)."""
    import json as _json

    from raytp.commands.predict import evaluate_exported
    from raytp.rundir.names import model_meta_path
    from raytp.search.keep import export_model, load_model
    run = RunDir(run_dir)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for t in Recommender.from_run_dir(run_dir).task_names():
            if not run.has(model_meta_path(t)):
                continue
            out = export_model(run_dir, t, Path(d) / t)
            model, backend, meta = load_model(out)
            ev = evaluate_exported(str(out), model, backend, meta)
            rows.append({**ev, "retrained_seed_mean_f1_test": meta.get("retrained_seed_mean_f1_test"),
                         "reproduced": abs(ev["f1_test"] - ev["recorded_f1_test"]) < 1e-9})
    _json.dumps(rows)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--name", default="default")
    args = ap.parse_args()
    out = check(args.run)
    out["page_bytes_20_tasks_generated"] = page_bytes_20_tasks()
    out["browser"] = browser_load(args.run)
    out["models"] = models_check(args.run)
    out["loadavg"] = os.getloadavg()
    print(verdict_table(Recommender.from_run_dir(args.run).verdicts()))
    print(f"\nverdict agrees with the measured data on {out['agree']}/{out['targets']} targets "
          f"(noise margin {out['noise_margin']:.4f}; recorded {out['recorded_margins']})")
    print(f"page: {out['page_bytes']:,} bytes; generated 20-task run: {out['page_bytes_20_tasks_generated']:,} bytes")
    b = out["browser"]
    print("browser: skipped (chromium or playwright missing)" if b is None else
          f"browser: {b['loads']} loads from the local server, navigation <= {b['max_navigation_s']:.3f} s, "
          f"goto wall <= {b['max_goto_wall_s']:.3f} s, console errors {len(b['console_errors'])}")
    for m in out["models"]:
        print(f"model {m['target']:<13} {m['kind']:<11} {m['source'] or '-':<9} predict F1 {m['f1_test']:.4f} "
              f"recorded {m['recorded_f1_test']:.4f} ({'reproduced' if m['reproduced'] else 'DIFFERS'}); search's "
              f"seed mean {m['recorded_seed_mean_f1_test']:.4f}, retrained {m['retrained_seed_mean_f1_test']:.4f}")
    res = Path(__file__).parent / "results" / f"verdicts_{args.name}.json"
    out["run_dir"] = f"<{args.name} run>"  # no machine-specific paths in the repo
    res.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {res}")


if __name__ == "__main__":
    main()
