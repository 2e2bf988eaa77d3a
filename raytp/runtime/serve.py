"""The recommender as a Ray Serve application: one deployment whose FastAPI ingress is ``raytp.serving.http_api``.

- ``build_app({"run_dir": ...})`` is the application builder (import path ``raytp.runtime.serve:build_app``) used by
  ``serve run`` / ``serve deploy`` / KubeRay ``serveConfigV2``; ``make_app(run_dir, token)`` for ``raytp serve``.
- The run directory is the deployment's ``user_config``. Deploying a config whose only change is
  ``deployments[].user_config.run_dir`` calls ``reconfigure`` on the live replicas in place: they load the new run
  in a worker thread and swap it in with one assignment, so requests keep being answered. A reload that fails keeps
  the previous run (and logs why); a first load that fails fails the replica. Changing ``args.run_dir`` (or
  ``serve.run`` again) rebuilds the app and rolls new replicas in before the old ones stop.
- Bearer token: the ``token`` argument, else ``RAYTP_API_TOKEN`` in the replica's environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ray import serve
from ray.serve import Application

from raytp.errors import RaytpError
from raytp.runtime.cluster import ensure_ray
from raytp.serving.http_api import LOOPBACK_HOSTS, TOKEN_ENV, create_app
from raytp.serving.recommender import Recommender
from raytp.runtime.serve_env import LOGGING_CONFIG

__all__ = ["APP_NAME", "DEPLOYMENT_NAME", "RecommenderService", "build_app", "is_loopback", "local_service", "make_app",
           "run_local"]

APP_NAME = "raytp-recommender"
DEPLOYMENT_NAME = "Recommender"
log = logging.getLogger("ray.serve")


@serve.deployment(
    name=DEPLOYMENT_NAME,
    ray_actor_options={"num_cpus": 0.25},  # light: look-ups only; leaves CPUs for the proxy and other work
    max_ongoing_requests=64,                # async handlers of microseconds each: queue in the replica, not the proxy
    health_check_period_s=10,
    health_check_timeout_s=30,
    graceful_shutdown_timeout_s=10,
    logging_config=LOGGING_CONFIG,
)
@serve.ingress()
class RecommenderService:
    """Holds the current ``Recommender``; the ASGI app reads it on every request."""

    def __init__(self, token: str | None = None, loopback_only: bool = False):
        self._token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
        self._loopback_only = loopback_only
        self._recommender: Recommender | None = None

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(lambda: self._recommender, token=self._token, loopback_only=self._loopback_only)

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Load ``config["run_dir"]`` and swap it in (runs in Serve's thread pool: serving continues meanwhile)."""
        run_dir = (config or {}).get("run_dir")
        if not isinstance(run_dir, str) or not run_dir:
            raise ValueError("user_config needs a 'run_dir' string")
        try:
            recommender = Recommender.from_run_dir(run_dir)
        except RaytpError as e:
            if self._recommender is None:
                raise
            log.error("reload of %s failed, still serving %s: %s", run_dir, self._recommender.run_dir, e)
            return
        self._recommender = recommender
        log.info("serving recommendations from %s", run_dir)

    def check_health(self) -> None:
        if self._recommender is None:
            raise RuntimeError("no run directory loaded")


def build_app(args: dict[str, Any]) -> Application:
    """Application builder for Serve configs: ``args = {"run_dir": PATH, "loopback_only": false}`` (Serve passes
    the config's ``args`` as one dict); ``loopback_only: true`` for a single-machine deployment."""
    run_dir = (args or {}).get("run_dir")
    if not isinstance(run_dir, str) or not run_dir:
        raise RaytpError("serve application args need 'run_dir' (the run directory to serve)")
    loopback_only = (args or {}).get("loopback_only", False)
    if not isinstance(loopback_only, bool):
        raise RaytpError("serve application args: 'loopback_only' must be true or false")
    return make_app(run_dir, loopback_only=loopback_only)


def make_app(run_dir: str, token: str | None = None, loopback_only: bool = False, **options: Any) -> Application:
    """The bound application; the run dir is checked and made absolute here, the token overrides the env.
    ``loopback_only``: the replicas answer 403 to clients on other machines."""
    path = str(Path(run_dir).expanduser().resolve())
    Recommender.from_run_dir(path)  # fail here, with a clear message, rather than in a replica
    return RecommenderService.options(user_config={"run_dir": path}, **options).bind(token=token,
                                                                                     loopback_only=loopback_only)


def is_loopback(host: str) -> bool:
    """Whether a bind host is this machine only."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def run_local(run_dir: str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> str:
    """Start Serve's HTTP ingress on host:port (if Serve is not running yet) and deploy; returns the base URL.

    HAProxy ingress needs ``SERVE_ENV`` in the Ray processes' environment (``apply_serve_env`` before Ray starts);
    without it, Serve's Python proxy serves the same app, at a much higher cost per request."""
    serve.start(http_options={"host": host, "port": port}, logging_config=LOGGING_CONFIG)
    # with HAProxy ingress each replica also listens on all interfaces (Ray's choice): keep a local server local
    serve.run(make_app(run_dir, token=token, loopback_only=is_loopback(host)), name=APP_NAME, route_prefix="/")
    return f"http://{host}:{port}"


@contextmanager
def local_service(run_dir: str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
                  address: str | None = None) -> Iterator[str]:
    """``run_dir`` served on host:port for the duration of the block (yields the base URL). Joins ``address`` (or
    RAY_ADDRESS), else starts a local Ray; what this call started (Ray, and Serve on it) is shut down afterwards."""
    import ray
    started = ensure_ray(address)
    try:
        yield run_local(run_dir, host=host, port=port, token=token)
    finally:
        if started:
            serve.shutdown()
            ray.shutdown()
