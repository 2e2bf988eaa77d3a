"""The learned predictor from a knowledge base of earlier runs, against the zero-shot predictor.

For each run directory (each holding pair features and a full search), hold it out, train the learned
predictor (gradient boosting) on the other runs' pairs (every subset of them that is non-empty), and score
the held-out run's pairs: ROC-AUC against its full search's beneficial labels, next to the zero-shot ranking
(the default). No search is run: it reads what pruned_vs_full.py / cross_corpus.py left in bench-out.

    python benchmarks/knowledge_base.py --run default=DIR --run tasks2=DIR --run cross=DIR [--out bench-out]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import conclude, machine, parser  # noqa: E402

from sklearn.metrics import roc_auc_score  # noqa: E402

from raytp.config import PruneConfig  # noqa: E402
from raytp.pipeline import knowledge_base  # noqa: E402
from raytp.rundir.names import PAIR_FEATURES  # noqa: E402
from raytp.predict import TransferPredictor  # noqa: E402
from raytp.predict.intervals import ranking_intervals  # noqa: E402
from raytp.report import pair_truth  # noqa: E402
from raytp.rundir import RunDir  # noqa: E402


def held_out_auc(held: str, kb_runs: list[str], feature: str) -> dict:
    run = RunDir(held)
    feats = run.read_parquet(PAIR_FEATURES)
    truth = feats.merge(pair_truth(run.read_parquet("search_full.parquet")), on=["source", "target"])
    y = truth["beneficial"].to_numpy(bool)
    zero = TransferPredictor(mode="zero-shot", feature=feature).fit(feats)
    out = {"pairs": len(truth), "beneficial": int(y.sum()),
           "zero_shot_auc": float(roc_auc_score(y, zero.predict_proba(truth)[:, 1]))}
    if kb_runs:
        kb = knowledge_base(kb_runs)
        cols = [c for c in feats.columns if c in kb.columns]
        learned = TransferPredictor(mode="learned", feature=feature, random_state=0).fit(
            kb[cols], kb["beneficial"].to_numpy(bool))
        p_learned = learned.predict_proba(truth[cols])[:, 1]
        out.update({"kb_pairs": len(kb), "kb_beneficial": int(kb["beneficial"].sum()),
                    "learned_auc": float(roc_auc_score(y, p_learned))})
        # bootstrap 95 % intervals over held-out targets and their pairs; paired: learned minus zero-shot
        iv = ranking_intervals(p_learned, y, truth["gain"].to_numpy(float), truth["target"].to_numpy(),
                               against={"zero_shot": zero.predict_proba(truth)[:, 1]})
        out["intervals"] = {"learned_auc": iv["auc"], "learned_minus_zero_shot_auc": iv["auc_minus_zero_shot"]}
    return out


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--run", action="append", required=True, metavar="NAME=DIR",
                   help="a run directory with pair features and a full search (twice or more)")
    args = p.parse_args()
    runs = dict(r.split("=", 1) for r in args.run)
    if len(runs) < 2:
        raise SystemExit("need at least two --run NAME=DIR")
    for name, d in runs.items():
        run = RunDir(d)
        for rel in (PAIR_FEATURES, "search_full.parquet"):
            if not run.has(rel):
                raise SystemExit(f"{run.path(rel)}: missing (run {name} needs pair features and a full search)")
    feature = PruneConfig().zero_shot_feature
    rows = []
    for held in runs:
        others = [n for n in runs if n != held]
        for k in range(1, len(others) + 1):
            for kb in itertools.combinations(others, k):
                r = {"held_out": held, "knowledge_base": list(kb),
                     **held_out_auc(runs[held], [runs[n] for n in kb], feature)}
                rows.append(r)
                print(f"held out {held:10s} knowledge base {'+'.join(kb):22s} ({r['kb_pairs']} pairs, "
                      f"{r['kb_beneficial']} beneficial): learned AUC {r['learned_auc']:.3f}   "
                      f"zero-shot AUC {r['zero_shot_auc']:.3f}")
    # target: none fixed (a comparison); --check flags held-out runs where the knowledge base loses to zero-shot
    missed = [f"{r['held_out']} <- {'+'.join(r['knowledge_base'])}: learned AUC {r['learned_auc']:.3f} < zero-shot "
              f"{r['zero_shot_auc']:.3f}" for r in rows if r["learned_auc"] < r["zero_shot_auc"]]
    return conclude(args, "knowledge_base.json", {"benchmark": "knowledge_base", "machine": machine(),
                                                  "runs": {k: str(Path(v).name) for k, v in runs.items()},
                                                  "zero_shot_feature": feature, "rows": rows}, missed)


if __name__ == "__main__":
    sys.exit(main())
