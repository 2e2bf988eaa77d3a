"""Serve's start-up environment (no Ray needed): HAProxy ingress settings and per-start HAProxy ports."""

from __future__ import annotations

import asyncio
import importlib
import socket

from raytp.runtime.serve_env import (DISCONNECT_DISABLED_HEADER, HAPROXY_PATH_VARS, HAPROXY_PORT_VARS,
                                     INGRESS_TIMEOUTS, SERVE_ENV, NoDisconnectWatch, apply_serve_env)


def test_apply_serve_env_fills_defaults_and_keeps_what_is_set():
    env = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "30", "RAY_SERVE_HAPROXY_STATS_PORT": "18404"}
    seen = apply_serve_env(env)
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1" and env["RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"] == "30"
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
    assert set(seen) == set(SERVE_ENV) | set(INGRESS_TIMEOUTS) | set(HAPROXY_PORT_VARS) | set(HAPROXY_PATH_VARS)


def test_each_start_gets_free_haproxy_ports():
    """Two servers on one machine (or one HAProxy left behind by a killed server) must not collide on 8404/9101."""
    a, b = apply_serve_env({}), apply_serve_env({})
    ports = [int(env[k]) for env in (a, b) for k in HAPROXY_PORT_VARS]
    assert 8404 not in ports and 9101 not in ports
    for port in ports:
        with socket.socket() as s:
            s.bind(("", port))  # still free: nothing holds it between choosing and Ray's start


def _call(middleware, scope):
    seen = {}

    async def app(scope, receive, send):
        seen["scope"] = scope

    asyncio.run(middleware(app)(scope, None, None))
    return seen["scope"]


def test_ingress_marks_http_requests_as_needing_no_disconnect_watch():
    headers = [(b"host", b"127.0.0.1"), (b"x-request-disconnect-disabled", b"?0")]  # a client's own value loses
    scope = _call(NoDisconnectWatch, {"type": "http", "headers": headers})
    assert dict(scope["headers"])[b"x-request-disconnect-disabled"] == b"?1"
    assert headers == [(b"host", b"127.0.0.1"), (b"x-request-disconnect-disabled", b"?0")]  # caller's list untouched
    assert _call(NoDisconnectWatch, {"type": "websocket", "headers": []})["headers"] == []
    assert _call(NoDisconnectWatch, {"type": "lifespan"}) == {"type": "lifespan"}


def test_serve_callback_import_path_gives_middlewares_serve_accepts():
    from ray.serve._private.constants import SERVE_HTTP_REQUEST_DISCONNECT_DISABLED_HEADER
    from ray.serve._private.http_util import validate_http_proxy_callback_return
    module, _, attr = SERVE_ENV["RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"].partition(":")
    middlewares = validate_http_proxy_callback_return(getattr(importlib.import_module(module), attr)())
    assert [m.cls for m in middlewares] == [NoDisconnectWatch]
    assert DISCONNECT_DISABLED_HEADER[0].decode() == SERVE_HTTP_REQUEST_DISCONNECT_DISABLED_HEADER  # Ray's name
