"""Cross-corpus benchmark (issue 8): the pruned-vs-full comparison where tasks share no examples.

The disaster-response corpus is split into two disjoint halves (raytp/configs/cross_corpus.yaml),
four tasks from each, so label co-occurrence is undefined for every cross pair and only
model-based signals (signatures, TextEmb, LogME) can rank them. Writes cross_corpus.json with the
same keys as pruned_vs_full.json.

    python benchmarks/cross_corpus.py [--out bench-out] [--quick] [--reuse RUN_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import raytp

CONFIG = Path(raytp.__file__).resolve().parent / "configs" / "cross_corpus.yaml"

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pruned_vs_full
    extra = [] if "--reuse" in sys.argv else ["--config", str(CONFIG)]
    sys.argv = [sys.argv[0], *extra, "--name", "cross_corpus", *sys.argv[1:]]
    sys.exit(pruned_vs_full.main())
