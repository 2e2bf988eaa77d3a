"""Security figures of issue 20, measured: a YAML alias bomb refused (wall time, peak memory growth of a fresh
process), and the HTTP app's latency for ordinary clients while 64 slow-body clients are connected (real HTTP on
127.0.0.1, uvicorn, token on): unauthenticated slow clients (401 from the head) and authenticated ones (held until
the body deadline, then 408). Prints the figures and writes results/security.json (with the load average).

    python benchmarks/security.py --out benchmarks/results
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, parser, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "benchmark-token-0123456789"
LOL = '"lol"'
BOMB = "".join(f"{c}: &{c} [{','.join([('*' + p) if p else LOL] * 9)}]\n"
               for c, p in zip("abcdefgh", ["", *"abcdefg"])) + "search: {grid: {mode: *h}}\n"


def load_in_fresh_process(path: Path) -> dict[str, Any]:
    """``load_config(path)`` in a fresh Python: {"refused", "seconds", "grown_kib" (peak RSS growth), "error"}.
    ``refused`` is True only for a ConfigError; anything else that went wrong is in ``error``."""
    code = textwrap.dedent(f"""
        import resource, time
        from raytp.config import load_config
        from raytp.errors import ConfigError
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        try:
            load_config({str(path)!r}); print("LOADED")
        except ConfigError as e:
            print("REFUSED", time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base, e)
        """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    out = p.stdout.strip().split(" ", 3)
    if out[0] != "REFUSED":
        return {"refused": False, "seconds": None, "grown_kib": None, "error": (p.stdout + p.stderr).strip()}
    return {"refused": True, "seconds": float(out[1]), "grown_kib": int(out[2]), "error": out[3]}


def alias_bomb() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bomb.yaml"
        p.write_text(BOMB)
        r = load_in_fresh_process(p)
    return {"bytes": len(BOMB), "refused": r["refused"], "seconds": r["seconds"],
            "peak_rss_growth_mib": r["grown_kib"] / 1024 if r["grown_kib"] is not None else None}


def slow_clients(authenticated: bool, n: int = 64, probes: int = 50, body_timeout: float = 5.0) -> dict[str, Any]:
    import httpx
    import uvicorn

    from raytp.serving.http_api import create_app
    from raytp.serving.recommender import Recommender
    from tests.recommender_runs import write_run
    with tempfile.TemporaryDirectory() as d:
        rec = Recommender.from_run_dir(write_run(Path(d) / "run").root)
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: rec, token=TOKEN, body_timeout_s=body_timeout),
                                           host="127.0.0.1", port=0, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    auth = f"Authorization: Bearer {TOKEN}\r\n" if authenticated else ""
    head = (f"POST /v1/recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: 65536\r\n{auth}\r\n").encode() + b'{"target": '
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(head)
        socks.append(s)
    lat = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=10) as http:
        for i in range(probes):
            t = time.perf_counter()
            r = http.post("/v1/recommend", json={"target": "water", "k": 2}) if i % 2 else http.get("/v1/tasks")
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200
    probes_done_s = time.monotonic() - t0
    statuses: dict[str, int] = {}
    answered_after = []
    for s in socks:
        s.settimeout(body_timeout + 10)
        try:
            data = s.recv(64)
            code = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "other"
        except (socket.timeout, ConnectionError):
            code = "none"
        answered_after.append(time.monotonic() - t0)
        statuses[code] = statuses.get(code, 0) + 1
        s.close()
    server.should_exit = True
    thread.join(timeout=20)
    return {"slow_clients": n, "authenticated": authenticated, "slow_client_statuses": statuses,
            "slow_clients_answered_by_s": round(max(answered_after), 2), "probes": probes,
            "probes_done_while_connected": probes_done_s < (body_timeout if authenticated else 1e9),
            "probe_latency_ms": {"median": round(statistics.median(lat) * 1000, 2),
                                 "max": round(max(lat) * 1000, 2)}}


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    load_before = os.getloadavg()
    result = {"alias_bomb": alias_bomb(),
              "slow_clients_unauthenticated": slow_clients(False),
              "slow_clients_authenticated": slow_clients(True)}
    for k, v in result.items():
        print(k, v)
    write_json(args.out, "security.json", {"machine": machine(), "loadavg_before": load_before,
                                           "loadavg_after": os.getloadavg(), **result})


if __name__ == "__main__":
    main()
