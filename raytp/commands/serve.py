"""`raytp serve`: the recommender as a local Ray Serve HTTP service (127.0.0.1 by default), until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import time

from raytp.errors import RaytpError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve recommendations over HTTP (Ray Serve)",
                       description="Serve a run directory's recommendations over HTTP with Ray Serve until Ctrl-C. "
                                   "Set RAYTP_API_TOKEN (at least 16 characters) to require a bearer token on /v1 "
                                   "routes; a host other than loopback needs one, or --insecure.")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run directory to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without RAYTP_API_TOKEN (anyone who can reach it gets answers)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.serving.recommender import Recommender
    rec = Recommender.from_run_dir(args.run)  # bad run dirs fail before Ray starts
    if not 1 <= args.port <= 65535:
        raise RaytpError(f"--port must be in 1..65535, got {args.port}")
    from raytp.serving.http_api import TOKEN_ENV, check_token, is_loopback
    token = check_token(os.environ.get(TOKEN_ENV), TOKEN_ENV)  # set but empty or short: refused, never "no auth"
    if token is None and not is_loopback(args.host) and not getattr(args, "insecure", False):
        raise RaytpError(f"--host {args.host} serves other machines: set {TOKEN_ENV} (a bearer token of at least 16 "
                         "characters), or pass --insecure to serve them without one")
    _check_port_free(args.host, args.port)
    address = args.address or os.environ.get("RAY_ADDRESS")
    private_dir = None
    if not address:
        # Serve's HTTP ingress (HAProxy in front of the replica): read by Ray's processes at start-up, so it goes
        # into this environment before Ray is imported and started; an existing cluster keeps what it started with
        from raytp.runtime.serve_env import HAPROXY_PATH_VARS, apply_serve_env
        fresh = not any(k in os.environ for k in HAPROXY_PATH_VARS)
        private_dir = apply_serve_env()["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"] if fresh else None

    from raytp.runtime.serve import local_service
    try:
        with local_service(str(args.run), host=args.host, port=args.port, token=token, address=address) as url:
            print(f"serving {len(rec.task_names())} tasks from {args.run} at {url} (docs: {url}/docs"
                  f"{', bearer token required' if token else ''}); Ctrl-C to stop", flush=True)
            try:
                while True:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                print("stopping", flush=True)
    finally:
        if private_dir:
            shutil.rmtree(private_dir, ignore_errors=True)  # HAProxy's private files of this start
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise RaytpError(f"cannot bind {host}:{port}: {e.strerror}") from None
