"""The image's processes on a read-only root filesystem, for real: a private mount namespace (unshare) in which
every mount is remounted read-only and only the manifests' writable mounts are writable (fresh tmpfs each), then
Ray, a Ray task (HF encoder + raytp embedding cache + torch + matplotlib) and Ray Serve with HAProxy ingress run
there under deploy/Dockerfile's environment with HOME=/home/ray. Needs root with CAP_SYS_ADMIN (as CI has here);
skips with the reason elsewhere. The static check of the same list is tests/k8s/test_k8s_rendered.py."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.k8s.hardening import IMAGE_HOME, image_env, writable_mounts
from tests.k8s.manifests import ROOT, kuberay_docs, pod_templates

SEARCH = dict(kuberay_docs())["rayjob-search.yaml:RayJob/raytp-search"]
DATA = "/home/data"  # stands in for the /data volume (the real root cannot get a new directory)


def _head_scratch() -> list[str]:
    """The head container's writable emptyDir mounts (/dev/shm stays writable, as in every pod)."""
    tpl = dict(pod_templates(SEARCH))["head"]
    return [m for m in writable_mounts(tpl, tpl["spec"]["containers"][0]) if m not in ("/data", "/dev/shm")]


def _namespace_available() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    if not os.path.isdir("/home"):
        return "no /home to mount the image's home on"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        "mount -t tmpfs probe /mnt && mount -o remount,bind,ro / && ! touch /.raytp-ro-probe"],
                       capture_output=True, text=True, timeout=60, check=False)
    return None if r.returncode == 0 else f"cannot make a read-only mount namespace here: {r.stderr.strip()[:200]}"


def run_read_only(stages: str, scratch: list[str], timeout: float = 540) -> tuple[int, dict | None, str]:
    """Run tests/k8s/readonly_probe.py with STAGES on a read-only root with ``scratch`` writable."""
    env = {**image_env(), "HOME": IMAGE_HOME, "USER": "ray", "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RAY_USAGE_STATS_ENABLED": "0"}
    q = shlex.quote
    lines = ["set -eu", "mount --make-rprivate /",
             "awk '{print $2}' /proc/self/mounts | sort -u | while read -r mp; do",
             "  case \"$mp\" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue;; esac",
             "  mount -o remount,bind,ro \"$mp\" || { echo \"cannot make $mp read-only\" >&2; exit 3; }",
             "done",
             "mount -t tmpfs -o mode=755 raytp-home /home", f"mkdir -p {IMAGE_HOME} {DATA}"]
    for p in scratch:
        if p.startswith("/home/"):
            lines.append(f"mkdir -p {q(p)}")
    for p in scratch + [DATA]:
        lines.append(f"mount -t tmpfs -o mode=1777 scratch {q(p)}")
    lines += ["mount -o remount,ro /home", f"cd {IMAGE_HOME}",
              "exec env -i " + " ".join(q(f"{k}={v}") for k, v in env.items())
              + f" {q(sys.executable)} -m tests.k8s.readonly_probe {DATA} {q(stages)}"]
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", "\n".join(lines)],
                       capture_output=True, text=True, timeout=timeout, check=False)
    out = r.stdout.strip().splitlines()
    try:
        result = json.loads(out[-1]) if out else None
    except json.JSONDecodeError:
        result = None
    return r.returncode, result, r.stderr[-3000:]


@pytest.fixture(scope="module")
def namespace():
    reason = _namespace_available()
    if reason:
        pytest.skip(reason)


def test_the_manifests_writable_mounts_are_the_scratch_list():
    assert _head_scratch() == ["/tmp", "/home/ray/.cache", "/home/ray/.ray"]


def test_ray_serve_torch_and_hf_run_on_a_read_only_root(namespace):
    rc, res, err = run_read_only("embed,ray,serve", _head_scratch())
    assert rc == 0 and res is not None, err
    assert res["root_read_only"] is True, "the probe could write outside the writable mounts"
    assert res["embed"]["embedding_shape"] == [3, 384] and res["embed"]["embedding_cache"] >= 1
    assert res["ray_task"]["embedding_shape"] == [3, 384]
    assert res["serve_status"] == 200
    assert any(f.endswith("haproxy.cfg") for f in res["haproxy_files"]), res["haproxy_files"]  # HAProxy ingress ran
    assert res["ray_logs"] > 0 and res["read_only_errors_in_ray_logs"] == []


def test_without_the_cache_mount_the_same_run_fails(namespace):
    scratch = [p for p in _head_scratch() if p != "/home/ray/.cache"]
    rc, res, err = run_read_only("embed", scratch)
    assert rc != 0 and "Read-only file system" in err, (rc, res, err)
