"""Serve's start-up environment (no Ray needed): HAProxy ingress settings and per-start HAProxy ports."""

from __future__ import annotations

import socket

from raytp.runtime.serve_env import HAPROXY_PORT_VARS, SERVE_ENV, apply_serve_env


def test_apply_serve_env_fills_defaults_and_keeps_what_is_set():
    env = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "30", "RAY_SERVE_HAPROXY_STATS_PORT": "18404"}
    seen = apply_serve_env(env)
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1" and env["RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"] == "30"
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
    assert set(seen) == set(SERVE_ENV) | set(HAPROXY_PORT_VARS)


def test_each_start_gets_free_haproxy_ports():
    """Two servers on one machine (or one HAProxy left behind by a killed server) must not collide on 8404/9101."""
    a, b = apply_serve_env({}), apply_serve_env({})
    ports = [int(env[k]) for env in (a, b) for k in HAPROXY_PORT_VARS]
    assert 8404 not in ports and 9101 not in ports
    for port in ports:
        with socket.socket() as s:
            s.bind(("", port))  # still free: nothing holds it between choosing and Ray's start
