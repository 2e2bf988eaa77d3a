"""`raytp recommend`: the best sources for a target, from a run directory (no server) or a running service."""

from __future__ import annotations

import argparse
import os
from typing import Any

from raytp.commands.common import print_json
from raytp.errors import RaytpError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="which source tasks to train with for a target",
                       description="Rank source tasks for a target: predicted P(beneficial), observed gain and "
                                   "settings where the pair was searched. Reads a run directory, or asks a "
                                   "running `raytp serve` (--url).")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--run", metavar="RUN_DIR", help="run directory to answer from (no server needed)")
    where.add_argument("--url", help="base URL of a running recommender, e.g. http://127.0.0.1:8000")
    p.add_argument("--target", required=True, help="target task, e.g. food")
    p.add_argument("--k", type=int, default=None, help="how many sources (default: min(5, tasks-1))")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    p.add_argument("--token", default=None, help="bearer token for --url (default: $RAYTP_API_TOKEN)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for --url (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.run is not None:
        from raytp.serving.recommender import Recommender
        answer = Recommender.from_run_dir(args.run).recommend(args.target, args.k)
    else:
        answer = ask_service(args.url, args.target, args.k, args.token or os.environ.get("RAYTP_API_TOKEN"),
                             args.timeout)
    if args.json:
        print_json(answer)
    else:
        print(format_table(answer))
    return 0


def ask_service(url: str, target: str, k: int | None, token: str | None, timeout: float) -> dict[str, Any]:
    """POST /v1/recommend to a running service; its JSON errors become one-line RaytpErrors."""
    import httpx
    if not url.startswith(("http://", "https://")):
        raise RaytpError(f"--url must start with http:// or https://, got {url!r}")
    body: dict[str, Any] = {"target": target}
    if k is not None:
        body["k"] = k
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.post(url.rstrip("/") + "/v1/recommend", json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        raise RaytpError(f"cannot reach the recommender at {url}: {e}") from None
    try:
        data = r.json()
    except ValueError:
        raise RaytpError(f"{url} answered {r.status_code} with a non-JSON body") from None
    if r.status_code != 200:
        err = data.get("error", {}) if isinstance(data, dict) else {}
        raise RaytpError(f"{url} answered {r.status_code}: {err.get('message', r.text[:200])}")
    return data


def format_table(answer: dict[str, Any]) -> str:
    """A readable table of one answer."""
    recs = answer["recommendations"]
    if not recs:
        return f"no sources known for target {answer['target']!r} (the run has no pair predictions or searches)"
    header = ["rank", "source", "P(beneficial)", "observed gain", "basis", "hyperparameters"]
    rows = []
    for i, r in enumerate(recs, 1):
        p, g, hp = r["probability"], r["observed_gain"], r["hyperparameters"]
        rows.append([str(i), r["source"], "-" if p is None else f"{p:.3f}", "-" if g is None else f"{g:+.4f}",
                     r["basis"], "-" if not hp else " ".join(f"{a}={b}" for a, b in hp.items())])
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([f"sources for target {answer['target']!r}", line(header), line(["-" * w for w in widths]),
                      *map(line, rows)])
