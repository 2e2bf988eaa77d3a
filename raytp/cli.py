"""The ``raytp`` command. Each subcommand lives in ``raytp/commands/<name>.py`` with
``add_parser(subparsers)`` and ``run(args) -> int`` and is listed in ``COMMANDS``; user errors print one line and
exit 2."""

from __future__ import annotations

import argparse
import os
import sys

from raytp.commands import compare, data, export, predict, recommend, run, search, serve, train, verify

COMMANDS = (data, train, search, compare, run, recommend, serve, verify, export, predict)  # in the order `raytp --help` lists them


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raytp", description="Find the task pairs worth training together.")
    parser.add_argument("--version", action="version", version=f"raytp {_version()}")
    parser.add_argument("--insecure-no-ray-auth", action="store_true",
                        help="start local Ray clusters with RAY_AUTH_MODE=disabled (no token auth: anyone who can "
                             "reach this machine's Ray ports can run code on it); off by default")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _version() -> str:
    from raytp import __version__
    return __version__


def main(argv: list[str] | None = None) -> int:
    from raytp.errors import Interrupted, RaytpError
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "insecure_no_ray_auth", False):
        os.environ["RAYTP_INSECURE_NO_RAY_AUTH"] = "1"  # read by raytp.runtime.cluster.prepare_ray_auth
    try:
        if getattr(args, "json", False):  # one JSON object on stdout, nothing else (banners and logs: stderr)
            from raytp.commands.common import json_stdout
            with json_stdout():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except Interrupted as e:
        print(f"raytp: interrupted: {e}", file=sys.stderr)
        return e.exit_code
    except RaytpError as e:
        print(f"raytp: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # e.g. `raytp ... --json | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as e:  # a path the user gave that cannot be read or written: one line, no traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"raytp: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("raytp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
