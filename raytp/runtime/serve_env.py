"""Ray Serve settings of the recommender that must be known before Ray (or ``ray.serve``) is imported.

Kept free of Ray imports: Serve reads ``SERVE_ENV`` from the environment when its modules are imported, in the
controller, proxy and replica processes, which inherit it from the process that starts Ray.
"""

from __future__ import annotations

import os
import socket
import tempfile
from typing import Any, Awaitable, Callable

__all__ = ["HAPROXY_PATH_VARS", "INGRESS_TIMEOUTS", "LOGGING_CONFIG", "SERVE_ENV", "NoDisconnectWatch",
           "apply_serve_env", "ingress_middlewares"]

# Serve's HTTP path, measured with benchmarks/serve_load.py on 2 cores (see benchmarks/README.md): with the
# default Python proxy actor every request crosses proxy -> replica as a Ray actor call, ~13 ms of CPU per
# request; with HAProxy in front of the replicas' own HTTP servers ("direct ingress") it is ~1 ms. Serve reads
# these in its controller, proxy and replica processes at import, so they must be in the environment of the Ray
# processes: set before this process starts Ray (``apply_serve_env``), or on the nodes of an existing cluster
# (the pod env of the RayService in k8s/). The draining period is the time a stopping replica keeps taking
# requests so that HAProxy can drop it first: Serve's default (30 s) is for remote load balancers; on one machine
# HAProxy is reconfigured in well under a second, and 30 s would hold every shutdown and rolling update.
SERVE_ENV = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",                     # HAProxy ingress, implies direct ingress into replicas
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",    # handlers run on the replica's main event loop
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    # ASGI middlewares Serve puts in front of each replica's HTTP server (and of its Python proxy): see below
    "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "raytp.runtime.serve_env:ingress_middlewares",
}
# No per-request access log (written to a file per request, by the replica / proxy) and no INFO lines per request.
LOGGING_CONFIG = {"log_level": "WARNING", "enable_access_log": False}


# HAProxy's own stats and Prometheus listeners take fixed ports by default (8404, 9101, on all interfaces): a second
# local server, or a HAProxy left behind by a killed one, would make the next start fail ("Address already in use").
# ``apply_serve_env`` gives each start free ports instead, unless they are set.
HAPROXY_PORT_VARS = ("RAY_SERVE_HAPROXY_STATS_PORT", "RAY_SERVE_HAPROXY_METRICS_PORT")


# Timeouts of HAProxy (Ray's defaults: an hour of client inactivity, none on the server): a client that sends
# nothing for 30 s is cut off, a replica that answers nothing for 60 s too. The app itself cuts off a body that has
# not arrived within 10 s (raytp.serving.http_api.BODY_TIMEOUT_S) and refuses a bad token before reading the body.
INGRESS_TIMEOUTS = {
    "RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S": "30",
    "RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S": "60",
    "RAY_SERVE_HAPROXY_TIMEOUT_CONNECT_S": "5",
}
# HAProxy's config, admin socket (mode 666, level admin), server state and metrics socket: Ray puts them under
# /tmp/haproxy-serve, where another local user could reach the admin socket and redirect requests (bearer tokens
# included). ``apply_serve_env`` moves them into a private 0700 directory of this start.
HAPROXY_PATH_VARS = {
    "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": "haproxy.cfg",
    "RAY_SERVE_HAPROXY_SOCKET_PATH": "admin.sock",
    "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": "",
    "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": "server-state",
    "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": "metrics.sock",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def apply_serve_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Put ``SERVE_ENV``, ``INGRESS_TIMEOUTS``, free HAProxy stats/metrics ports and HAProxy's files in a new private
    (0700) temporary directory into ``environ`` (default ``os.environ``) where not set already; call before Ray
    starts. Returns what the Serve processes will see."""
    environ = os.environ if environ is None else environ
    for key, value in {**SERVE_ENV, **INGRESS_TIMEOUTS}.items():
        environ.setdefault(key, value)
    for key in HAPROXY_PORT_VARS:
        if key not in environ:
            environ[key] = str(_free_port())
    if not any(k in environ for k in HAPROXY_PATH_VARS):
        private = tempfile.mkdtemp(prefix="raytp-haproxy-")  # mode 0700, owned by this user
        for key, name in HAPROXY_PATH_VARS.items():
            environ[key] = os.path.join(private, name) if name else private
    return {k: environ[k] for k in (*SERVE_ENV, *INGRESS_TIMEOUTS, *HAPROXY_PORT_VARS, *HAPROXY_PATH_VARS)
            if k in environ}


# -- ingress middleware ------------------------------------------------------------------------------------------
# For every request, Serve's direct ingress starts a task that watches the client for a disconnect (to cancel a long
# handler), runs the handler as a second task, waits on both, and relays the request body through a queue; unless
# the request carries ``x-request-disconnect-disabled: ?1``, in which case it awaits the handler directly. Our
# handlers are in-memory look-ups of well under a millisecond: there is nothing to cancel, and the watch was ~15 %
# of the replica's CPU per request (benchmarks/README.md). The ingress marks every HTTP request so.
DISCONNECT_DISABLED_HEADER = (b"x-request-disconnect-disabled", b"?1")
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


# Headers Serve acts on that a client must not set: ``x-request-timeout-seconds: 0`` would switch Serve's request
# timeout off for that request.
CLIENT_CONTROL_HEADERS = frozenset({b"x-request-timeout-seconds", b"x-request-disconnect-disabled"})


class NoDisconnectWatch:
    """ASGI middleware: drops client-set Serve control headers (``CLIENT_CONTROL_HEADERS``) and marks each HTTP
    request as not needing Serve's client-disconnect watch."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["headers"] = [*(h for h in scope["headers"] if h[0].lower() not in CLIENT_CONTROL_HEADERS),
                                DISCONNECT_DISABLED_HEADER]
        await self.app(scope, receive, send)


def ingress_middlewares() -> list[Any]:
    """Serve's HTTP-proxy callback (``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH``): Starlette middlewares for the
    ingress. Called in Serve's processes, hence the import here."""
    from starlette.middleware import Middleware
    return [Middleware(NoDisconnectWatch)]
