"""The HTTP app against slow and hostile clients, over real HTTP on 127.0.0.1 (uvicorn in a thread, no Ray): the
token is checked on the request head before any body byte is read, a body that trickles is cut off (408) while
other clients keep being answered within 1 s; empty/short tokens, loopback by ipaddress, forwarded headers, Serve
control headers, HAProxy's private directory, and `raytp serve`'s refusals."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading
import time

import httpx
import pytest
import uvicorn

from raytp.cli import main as cli_main
from raytp.errors import RaytpError
from raytp.serving.http_api import check_token, create_app, is_loopback
from raytp.serving.recommender import Recommender
from raytp.runtime.serve_env import HAPROXY_PATH_VARS, INGRESS_TIMEOUTS, NoDisconnectWatch, apply_serve_env
from tests.recommender_runs import write_run

TOKEN = "a-token-of-sufficient-length"
SLOW_CLIENTS = 64
HEAD = ("POST /v1/recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 65536\r\n{auth}\r\n")


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Recommender:
    return Recommender.from_run_dir(write_run(tmp_path_factory.mktemp("sec") / "run").root)


class _Server:
    """uvicorn serving ``app`` on a free 127.0.0.1 port, in a thread, for the duration of a ``with``."""

    def __init__(self, app):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                                    lifespan="off", limit_concurrency=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def _slow_clients(addr: str, auth: str) -> list[socket.socket]:
    host, port = addr.split(":")
    socks = []
    for _ in range(SLOW_CLIENTS):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(HEAD.format(auth=auth).encode() + b'{"target": ')  # 11 of 65,536 promised bytes
        socks.append(s)
    return socks


def _first_status(s: socket.socket, within: float) -> int | None:
    s.settimeout(within)
    try:
        data = s.recv(4096)
    except (socket.timeout, ConnectionError):
        return None
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


def test_unauthenticated_slow_bodies_refused_before_the_body(rec):
    """64 clients promise 64 KiB bodies, send 11 bytes and stall, without a token: each gets 401 at once."""
    with _Server(create_app(lambda: rec, token=TOKEN, body_timeout_s=30)) as addr:
        socks = _slow_clients(addr, "")
        try:
            t = time.monotonic()
            statuses = [_first_status(s, within=2.0) for s in socks]
            assert statuses == [401] * SLOW_CLIENTS and time.monotonic() - t < 5
        finally:
            for s in socks:
                s.close()


def test_slow_bodies_cut_off_while_others_answered_within_1s(rec):
    """64 authenticated clients trickle their bodies: others are still answered (each < 1 s) while they are
    connected, and each slow one gets 408 once the body deadline passes."""
    body_timeout = 3.0
    with _Server(create_app(lambda: rec, token=TOKEN, body_timeout_s=body_timeout)) as addr:
        started = time.monotonic()
        socks = _slow_clients(addr, f"Authorization: Bearer {TOKEN}\r\n")
        try:
            latencies = []
            with httpx.Client(base_url=f"http://{addr}", headers={"Authorization": f"Bearer {TOKEN}"},
                              timeout=5.0) as http:
                for i in range(20):
                    t = time.monotonic()
                    r = http.post("/v1/recommend", json={"target": "water", "k": 2}) if i % 2 else http.get("/v1/tasks")
                    latencies.append(time.monotonic() - t)
                    assert r.status_code == 200, r.text
            assert time.monotonic() - started < body_timeout, "the slow clients were no longer all connected"
            assert max(latencies) < 1.0, latencies
            statuses = [_first_status(s, within=body_timeout + 5) for s in socks]
            assert statuses == [408] * SLOW_CLIENTS, statuses
        finally:
            for s in socks:
                s.close()


@pytest.mark.parametrize("token", ["", " ", "short", " " + TOKEN])
def test_empty_or_short_token_refused(rec, token):
    with pytest.raises(RaytpError, match="API token is set but"):
        create_app(lambda: rec, token=token)
    with pytest.raises(RaytpError):
        check_token(token, "RAYTP_API_TOKEN")


@pytest.mark.parametrize(("host", "local"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("127.example.com", False), ("", False),
    ("::ffff:10.0.0.1", False), ("testclient", False)])
def test_is_loopback(host, local):
    assert is_loopback(host) is local


def _asgi_status(app, client: tuple[str, int], headers: list[tuple[bytes, bytes]]) -> int:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/healthz", "raw_path": b"/healthz", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"x"), *headers], "client": client, "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


@pytest.mark.parametrize(("client", "headers", "status"), [
    (("127.0.0.1", 5), [], 200),
    (("::ffff:127.0.0.1", 5), [], 200),
    (("10.0.0.7", 5), [], 403),
    (("127.0.0.1", 5), [(b"x-forwarded-for", b"127.0.0.1")], 403),  # a proxy in front: never trusted
    (("127.0.0.1", 5), [(b"forwarded", b"for=127.0.0.1")], 403),
    (("127.0.0.1", 5), [(b"x-real-ip", b"10.0.0.7")], 403),
])
def test_loopback_only_uses_the_peer_and_distrusts_forwarding(rec, client, headers, status):
    assert _asgi_status(create_app(lambda: rec, loopback_only=True), client, headers) == status


def test_ingress_strips_client_serve_timeout_header():
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    headers = [(b"x-request-timeout-seconds", b"0"), (b"X-Request-Timeout-Seconds", b"0"), (b"host", b"x")]
    asyncio.run(NoDisconnectWatch(app)({"type": "http", "headers": headers}, None, None))
    names = [k.lower() for k, _ in seen["headers"]]
    assert b"x-request-timeout-seconds" not in names and b"host" in names


def test_haproxy_files_in_a_private_directory_and_timeouts_set():
    env = apply_serve_env({})
    base = env["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"]
    try:
        st = os.stat(base)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
        for key in HAPROXY_PATH_VARS:
            assert env[key].startswith(base) and not env[key].startswith("/tmp/haproxy-serve")
        assert int(env["RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S"]) <= 60
        assert set(INGRESS_TIMEOUTS) <= set(env)
    finally:
        os.rmdir(base)


def test_serve_command_refuses_empty_token_and_open_bind(tmp_path, capsys, monkeypatch):
    run = write_run(tmp_path / "run").root
    monkeypatch.setenv("RAYTP_API_TOKEN", "")
    assert cli_main(["serve", "--run", str(run), "--port", "18777"]) == 2
    assert "RAYTP_API_TOKEN: the API token is set but empty" in capsys.readouterr().err
    monkeypatch.delenv("RAYTP_API_TOKEN")
    assert cli_main(["serve", "--run", str(run), "--host", "0.0.0.0", "--port", "18777"]) == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0 serves other machines" in err and "--insecure" in err


def test_serve_config_carries_the_http_timeouts():
    """deploy/serve_config.yaml (serve deploy / KubeRay) has the idle and request timeouts raytp serve sets."""
    from pathlib import Path

    import yaml

    from raytp.runtime.serve import HTTP_TIMEOUTS
    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy" / "serve_config.yaml").read_text())
    assert {k: cfg["http_options"].get(k) for k in HTTP_TIMEOUTS} == HTTP_TIMEOUTS
