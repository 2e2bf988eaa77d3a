"""Ray's token authentication stays on for the local clusters raytp starts: RAY_AUTH_MODE=disabled only through
`raytp --insecure-no-ray-auth`; the token file must be private to this user (a missing one is created 0600); a
client with a wrong token is refused by a cluster raytp started."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from raytp.cli import main as cli_main
from raytp.errors import RaytpError
from raytp.runtime.cluster import NO_RAY_AUTH_MARK, prepare_ray_auth

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def auth_env(monkeypatch, tmp_path):
    for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", NO_RAY_AUTH_MARK):
        monkeypatch.delenv(k, raising=False)
    token = tmp_path / "ray" / "auth_token"
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    return token


def test_local_cluster_gets_token_auth_and_a_private_token_file(auth_env):
    prepare_ray_auth(local=True)
    assert os.environ["RAY_AUTH_MODE"] == "token"
    assert stat.S_IMODE(auth_env.stat().st_mode) == 0o600 and len(auth_env.read_text()) >= 16
    assert stat.S_IMODE(auth_env.parent.stat().st_mode) == 0o700
    before = auth_env.read_text()
    prepare_ray_auth(local=True)  # an existing private file is kept as it is
    assert auth_env.read_text() == before


def test_disabled_mode_refused_without_the_flag(auth_env, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(RaytpError, match="--insecure-no-ray-auth"):
        prepare_ray_auth(local=True)
    monkeypatch.setenv(NO_RAY_AUTH_MARK, "1")
    prepare_ray_auth(local=True)
    assert os.environ["RAY_AUTH_MODE"] == "disabled" and not auth_env.exists()


def test_cli_flag_is_the_switch(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(NO_RAY_AUTH_MARK, raising=False)
    assert cli_main(["--insecure-no-ray-auth", "verify", "--run", str(tmp_path / "none")]) == 2
    assert os.environ.get(NO_RAY_AUTH_MARK) == "1"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_token_file_open_to_others_refused(auth_env, mode):
    auth_env.parent.mkdir()
    auth_env.write_text("x" * 32)
    auth_env.chmod(mode)
    with pytest.raises(RaytpError, match="chmod 600"):
        prepare_ray_auth(local=True)


def test_token_file_of_another_user_or_a_link_refused(auth_env, tmp_path):
    auth_env.parent.mkdir()
    real = tmp_path / "real"
    real.write_text("x" * 32)
    real.chmod(0o600)
    auth_env.symlink_to(real)
    with pytest.raises(RaytpError, match="not a link"):
        prepare_ray_auth(local=True)
    if os.getuid() != 0:
        return  # chown needs root
    auth_env.unlink()
    auth_env.write_text("x" * 32)
    auth_env.chmod(0o600)
    os.chown(auth_env, 65534, 65534)
    with pytest.raises(RaytpError, match="another user"):
        prepare_ray_auth(local=True)


def test_started_cluster_refuses_a_wrong_token(tmp_path):
    """A real local Ray started by ensure_ray: token mode, and a client with a wrong token cannot join it."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_ADDRESS",
                                                            NO_RAY_AUTH_MARK)}
    env["RAY_AUTH_TOKEN_PATH"] = str(tmp_path / "tok" / "auth_token")
    owner = textwrap.dedent("""
        import sys, ray
        from raytp.runtime.cluster import ensure_ray
        from ray._raylet import AuthenticationMode, get_authentication_mode
        ensure_ray(num_cpus=1)
        assert ray.get(ray.remote(lambda: 41 + 1).remote(), timeout=120) == 42
        print("MODE", get_authentication_mode() == AuthenticationMode.TOKEN, flush=True)
        print("ADDR", ray.get_runtime_context().gcs_address, flush=True)
        sys.stdin.readline()
        ray.shutdown()
        """)
    p = subprocess.Popen([sys.executable, "-c", owner], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        lines = [p.stdout.readline() for _ in range(2)]
        assert lines[0].strip() == "MODE True", lines + [p.stderr.read()[-2000:] if p.poll() is not None else ""]
        addr = lines[1].split()[1]
        intruder = textwrap.dedent(f"""
            import ray
            try:
                ray.init(address={addr!r}, logging_level="ERROR")
                print("JOINED", ray.get(ray.remote(lambda: 1).remote(), timeout=30))
            except Exception as e:
                print("REFUSED", type(e).__name__)
            """)
        bad = {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "wrong-token-" + "0" * 20}
        bad.pop("RAY_AUTH_TOKEN_PATH")
        r = subprocess.run([sys.executable, "-c", intruder], capture_output=True, text=True, env=bad, timeout=120,
                           cwd=REPO)
        assert "REFUSED" in r.stdout and "JOINED" not in r.stdout, r.stdout + r.stderr[-2000:]
    finally:
        p.stdin.write("\n")
        p.stdin.flush()
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=30)
