"""`raytp serve`: the recommender as a local Ray Serve HTTP service (127.0.0.1 by default), until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import socket
import time

from raytp.errors import RaytpError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve recommendations over HTTP (Ray Serve)",
                       description="Serve a run directory's recommendations over HTTP with Ray Serve until Ctrl-C. "
                                   "Set RAYTP_API_TOKEN to require a bearer token on /v1 routes.")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run directory to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.serving.recommender import Recommender
    rec = Recommender.from_run_dir(args.run)  # bad run dirs fail before Ray starts
    if not 1 <= args.port <= 65535:
        raise RaytpError(f"--port must be in 1..65535, got {args.port}")
    _check_port_free(args.host, args.port)
    address = args.address or os.environ.get("RAY_ADDRESS")
    if not address:
        # a throwaway local cluster that this command starts and stops itself (DESIGN: Ray 2.60 token auth)
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        # Serve's HTTP ingress (HAProxy in front of the replica): read by Ray's processes at start-up, so it goes
        # into this environment before Ray is imported and started; an existing cluster keeps what it started with
        from raytp.runtime.serve_env import apply_serve_env
        apply_serve_env()

    from raytp.runtime.serve import local_service
    token = os.environ.get("RAYTP_API_TOKEN") or None
    with local_service(str(args.run), host=args.host, port=args.port, token=token, address=address) as url:
        print(f"serving {len(rec.task_names())} tasks from {args.run} at {url} (docs: {url}/docs"
              f"{', bearer token required' if token else ''}); Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise RaytpError(f"cannot bind {host}:{port}: {e.strerror}") from None
