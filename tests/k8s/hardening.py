"""The pod hardening every container in k8s/ promises, and the paths the image's processes write.

``container_contexts(doc)`` yields every container of a rendered document with its effective security context
(container fields over the pod's), the KubeRay autoscaler sidecar included (KubeRay builds it in the head pod from
``autoscalerOptions``). ``hardening_violations`` checks the five settings; ``resolve_writers`` asks the real
libraries (Ray, Serve, huggingface_hub, transformers, torch, matplotlib, raytp) where they write under the image's
environment (deploy/Dockerfile's ENV, HOME=/home/ray), and ``unwritable`` lists those not on a writable volume.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.k8s.manifests import KUBERAY_KINDS, ROOT, cluster_spec, pod_templates

IMAGE_HOME = "/home/ray"  # the Ray image's user `ray` (uid 1000)
IMAGE_TMP = "/tmp"


# ---------------------------------------------------------------- effective security contexts

def _pod_templates_any(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if doc["kind"] in KUBERAY_KINDS:
        yield from pod_templates(doc)
    elif doc["kind"] == "Pod":
        yield "pod", doc
    elif doc["kind"] == "CronJob":
        yield "pod", doc["spec"]["jobTemplate"]["spec"]["template"]
    elif "template" in (doc.get("spec") or {}):  # Deployment, StatefulSet, DaemonSet, Job, ReplicaSet
        yield "pod", doc["spec"]["template"]


def container_contexts(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, container, effective securityContext) for every container a rendered document will run."""
    for where, tpl in _pod_templates_any(doc):
        spec = tpl["spec"]
        pod_sc = spec.get("securityContext") or {}
        inherited = {k: pod_sc[k] for k in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
                     if k in pod_sc}
        for c in spec.get("initContainers", []) + spec["containers"]:
            yield f"{where}/{c['name']}", c, {**inherited, **(c.get("securityContext") or {})}
        if where == "head" and cluster_spec(doc).get("enableInTreeAutoscaling"):
            opts = cluster_spec(doc).get("autoscalerOptions") or {}
            sidecar = {"name": "autoscaler", "volumeMounts": opts.get("volumeMounts", [])}
            yield "head/autoscaler", sidecar, {**inherited, **(opts.get("securityContext") or {})}


def hardening_violations(doc: dict[str, Any]) -> list[str]:
    """runAsNonRoot (and no uid 0), no privilege escalation, all capabilities dropped, seccomp RuntimeDefault,
    read-only root filesystem: each missing one, per container."""
    out = []
    for where, _, sc in container_contexts(doc):
        if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsNonRoot")
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
            out.append(f"{where}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
            out.append(f"{where}: capabilities must drop ALL and add none")
        if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            out.append(f"{where}: seccompProfile RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{where}: readOnlyRootFilesystem must be true")
    return out


# ---------------------------------------------------------------- where the image's processes write

def image_env(dockerfile: Path = ROOT / "deploy" / "Dockerfile") -> dict[str, str]:
    """The ENV of deploy/Dockerfile (KEY=VALUE form, continuation lines joined)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


# Each writer is computed by the library that writes there, not restated: the probe prints {writer: directory}.
_PROBE = r"""
import json, os, tempfile
out = {"python tempfile": tempfile.gettempdir()}
from ray._common.utils import get_default_ray_temp_dir
out["ray temp dir (sessions, logs, spilled objects, Tune artifacts)"] = get_default_ray_temp_dir()
from ray.serve._private import constants as sc
for k in ("CONFIG_FILE_LOC", "SOCKET_PATH", "SERVER_STATE_FILE", "METRICS_SOCKET_PATH"):
    out[f"serve haproxy {k.lower()}"] = os.path.dirname(getattr(sc, "RAY_SERVE_HAPROXY_" + k))
from ray._private.authentication.authentication_token_setup import _get_default_token_path
out["ray auth token"] = str(_get_default_token_path().parent)
from ray._common.usage.usage_lib import _usage_stats_config_path
out["ray usage stats config"] = os.path.dirname(_usage_stats_config_path())
from huggingface_hub import constants as hf
for k in ("HF_HOME", "HF_HUB_CACHE", "HF_ASSETS_CACHE", "HF_XET_CACHE"):
    if hasattr(hf, k):
        out["huggingface " + k] = getattr(hf, k)
from transformers.utils.hub import HF_MODULES_CACHE
out["transformers modules"] = HF_MODULES_CACHE
import torch.hub
out["torch hub"] = torch.hub.get_dir()
from torch._inductor.runtime.cache_dir_utils import default_cache_dir
out["torch inductor"] = default_cache_dir()
try:
    from triton import knobs
    out["triton cache"] = knobs.cache.dir
except ImportError:  # no triton in the CPU build: its documented rule
    out["triton cache"] = os.environ.get("TRITON_CACHE_DIR") or os.path.join(
        os.environ.get("TRITON_HOME", os.path.expanduser("~")), ".triton", "cache")
out["cuda jit cache"] = os.environ.get("CUDA_CACHE_PATH", os.path.expanduser("~/.nv/ComputeCache"))
import matplotlib
out["matplotlib config"] = matplotlib.get_configdir()
out["matplotlib cache"] = matplotlib.get_cachedir()
from raytp.models.encoders import embedding_cache_dir
out["raytp embedding cache"] = str(embedding_cache_dir())
print(json.dumps(out))
"""


def resolve_writers(env: dict[str, str] | None = None, timeout: float = 300) -> dict[str, str]:
    """{writer: directory} as the image's processes would resolve them: the probe runs in a subprocess with the
    image's environment, /home/ray and /tmp mapped to scratch directories (so nothing is created outside them),
    and the answers mapped back."""
    env = image_env() if env is None else env
    with tempfile.TemporaryDirectory() as scratch:
        home, tmp = f"{scratch}/home/ray", f"{scratch}/tmp"
        os.makedirs(home)
        os.makedirs(tmp)

        def to_scratch(v: str) -> str:
            return home + v[len(IMAGE_HOME):] if v.startswith(IMAGE_HOME) else (
                tmp + v[len(IMAGE_TMP):] if v == IMAGE_TMP or v.startswith(IMAGE_TMP + "/") else v)

        child = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "LC_ALL")}
        child.update({k: to_scratch(v) for k, v in env.items()})
        child.update(HOME=home, USER="ray", RAY_USAGE_STATS_ENABLED="0")
        child.setdefault("TMPDIR", tmp)
        res = subprocess.run([sys.executable, "-c", _PROBE], env=child, cwd=scratch, capture_output=True,
                             text=True, timeout=timeout, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"writer probe failed: {res.stderr.strip().splitlines()[-1:]}")
        found = json.loads(res.stdout.strip().splitlines()[-1])

    def back(v: str) -> str:
        return IMAGE_HOME + v[len(home):] if v.startswith(home) else (IMAGE_TMP + v[len(tmp):] if v.startswith(tmp)
                                                                       else v)
    return {k: back(v) for k, v in found.items()}


def writable_mounts(template: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """Mount paths of ``container`` that it may write: emptyDir or a PersistentVolumeClaim, not read-only."""
    volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
    out = []
    for m in container.get("volumeMounts", []):
        v = volumes.get(m["name"], {})
        claim = v.get("persistentVolumeClaim") or {}
        if m.get("readOnly") or claim.get("readOnly"):
            continue
        if "emptyDir" in v or claim:
            out.append(m["mountPath"].rstrip("/") or "/")
    return out


def unwritable(paths: dict[str, str], mounts: list[str]) -> list[str]:
    """The writers whose directory lies under none of ``mounts``."""
    def under(p: str, m: str) -> bool:
        return p == m or p.startswith(m.rstrip("/") + "/")
    return sorted(f"{w}: {p}" for w, p in paths.items() if not any(under(p, m) for m in mounts))


def ray_container_writes(doc: dict[str, Any], writers: dict[str, str]) -> list[str]:
    """For every container of a KubeRay document that runs the raytp image's Python (head, workers, the job
    submitter, and the autoscaler sidecar, which KubeRay runs on the head's image): the writers it cannot write."""
    out = []
    templates = dict(_pod_templates_any(doc))
    for where, c, _ in container_contexts(doc):
        tpl = templates[where.split("/")[0]]
        if c in tpl["spec"].get("initContainers", []):
            continue  # init containers run a shell loop: no writes
        out += [f"{where}: {u}" for u in unwritable(writers, writable_mounts(tpl, c))]
    return out
