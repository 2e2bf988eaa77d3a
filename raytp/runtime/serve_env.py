"""Ray Serve settings of the recommender that must be known before Ray (or ``ray.serve``) is imported.

Kept free of Ray imports: Serve reads ``SERVE_ENV`` from the environment when its modules are imported, in the
controller, proxy and replica processes, which inherit it from the process that starts Ray.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Awaitable, Callable

__all__ = ["LOGGING_CONFIG", "SERVE_ENV", "NoDisconnectWatch", "apply_serve_env", "ingress_middlewares"]

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def apply_serve_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Put ``SERVE_ENV`` (and free HAProxy stats/metrics ports) into ``environ`` (default ``os.environ``) where not
    set already; call before Ray starts. Returns what the Serve processes will see."""
    environ = os.environ if environ is None else environ
    for key, value in SERVE_ENV.items():
        environ.setdefault(key, value)
    for key in HAPROXY_PORT_VARS:
        if key not in environ:
            environ[key] = str(_free_port())
    return {k: environ[k] for k in (*SERVE_ENV, *HAPROXY_PORT_VARS)}


# -- ingress middleware ------------------------------------------------------------------------------------------
# For every request, Serve's direct ingress starts a task that watches the client for a disconnect (to cancel a long
# handler), runs the handler as a second task, waits on both, and relays the request body through a queue; unless
# the request carries ``x-request-disconnect-disabled: ?1``, in which case it awaits the handler directly. Our
# handlers are in-memory look-ups of well under a millisecond: there is nothing to cancel, and the watch was ~15 %
# of the replica's CPU per request (benchmarks/README.md). The ingress marks every HTTP request so.
DISCONNECT_DISABLED_HEADER = (b"x-request-disconnect-disabled", b"?1")
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class NoDisconnectWatch:
    """ASGI middleware: marks each HTTP request as not needing Serve's client-disconnect watch."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["headers"] = [*scope["headers"], DISCONNECT_DISABLED_HEADER]
        await self.app(scope, receive, send)


def ingress_middlewares() -> list[Any]:
    """Serve's HTTP-proxy callback (``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH``): Starlette middlewares for the
    ingress. Called in Serve's processes, hence the import here."""
    from starlette.middleware import Middleware
    return [Middleware(NoDisconnectWatch)]
