"""Load the KubeRay / Kubernetes manifests in k8s/ and walk them: pod templates, containers, entrypoints."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
SCHEMA = K8S / "schemas" / "kuberay-v1.schema.json"
KUBERAY_KINDS = {"RayCluster", "RayJob", "RayService"}
# the oldest Kubernetes minor we claim, and the newest kubernetes-validate ships (added at import in the tests)
K8S_MIN_VERSION = "1.29"


def kustomization_dirs() -> list[Path]:
    """k8s/ (the default set) and every opt-in kustomization below it (k8s/cluster/)."""
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))


def manifest_files() -> list[Path]:
    """Every manifest some kustomization in k8s/ renders (patches and kustomization files are not manifests)."""
    return sorted({(d / r).resolve() for d in kustomization_dirs() for r in kustomization(d)["resources"]})


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def all_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.relative_to(K8S.resolve()).as_posix()}:{d['kind']}/{d['metadata']['name']}", d)
            for p in manifest_files() for d in load_docs(p)]


def kuberay_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(i, d) for i, d in all_docs() if d["kind"] in KUBERAY_KINDS]


def core_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(i, d) for i, d in all_docs() if d["kind"] not in KUBERAY_KINDS]


def cluster_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    return {"RayCluster": lambda: spec, "RayJob": lambda: spec["rayClusterSpec"],
            "RayService": lambda: spec["rayClusterConfig"]}[doc["kind"]]()


def pod_templates(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod template of a KubeRay CR: head, each worker group, the RayJob submitter."""
    cs = cluster_spec(doc)
    yield "head", cs["headGroupSpec"]["template"]
    for g in cs.get("workerGroupSpecs", []):
        yield f"worker[{g['groupName']}]", g["template"]
    if doc["kind"] == "RayJob" and "submitterPodTemplate" in doc["spec"]:
        yield "submitter", doc["spec"]["submitterPodTemplate"]


def containers(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = template["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def mounts_of(template: dict[str, Any], container_index: int = 0) -> dict[str, str]:
    """mountPath -> source ('configMap:NAME' / 'pvc:NAME' / 'emptyDir') for the main container."""
    spec = template["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    out = {}
    for m in spec["containers"][container_index].get("volumeMounts", []):
        v = volumes[m["name"]]
        if "configMap" in v:
            out[m["mountPath"]] = f"configMap:{v['configMap']['name']}"
        elif "persistentVolumeClaim" in v:
            out[m["mountPath"]] = f"pvc:{v['persistentVolumeClaim']['claimName']}"
        else:
            out[m["mountPath"]] = next(iter(k for k in v if k != "name"))
    return out


def pinned_ray_version() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for d in deps:
        m = re.fullmatch(r"ray(\[[^\]]*\])?==([0-9.]+)", d.replace(" ", ""))
        if m:
            return m.group(2)
    raise AssertionError("pyproject.toml pins no ray version (ray[...]==X.Y.Z)")


def kuberay_schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


_UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


def quantity(q: str | int | float) -> float:
    """A Kubernetes resource quantity as a number ("500m" -> 0.5, "8Gi" -> 8 * 2**30)."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(q))
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"not a quantity: {q!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def json_pointer_apply(doc: Any, op: dict[str, Any]) -> None:
    """Apply one RFC 6902 add/replace/remove op in place; KeyError/IndexError when the path does not resolve."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    leaf = parts[-1]
    if isinstance(node, list):
        idx = len(node) if leaf == "-" else int(leaf)
        if op["op"] == "add":
            node.insert(idx, op["value"])
        elif op["op"] == "replace":
            node[idx] = op["value"]
        elif op["op"] == "remove":
            del node[idx]
        else:
            raise ValueError(op["op"])
        return
    if op["op"] in ("replace", "remove") and leaf not in node:
        raise KeyError(f"{op['path']}: nothing to {op['op']}")
    if op["op"] == "remove":
        del node[leaf]
    elif op["op"] in ("add", "replace"):
        node[leaf] = op["value"]
    else:
        raise ValueError(op["op"])



def resources(directory: Path = K8S) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> document for the resources a kustomization lists, as written."""
    return {(d["kind"], d["metadata"]["name"]): d for r in kustomization(directory)["resources"]
            for d in load_docs(directory / r)}


def patched(directory: Path = K8S) -> dict[tuple[str, str], dict[str, Any]]:
    """The kustomization's documents with its JSON patches applied in Python (what kubectl kustomize gives, images
    aside): KeyError/IndexError when a patch path does not exist, AssertionError when a target matches nothing."""
    import copy
    docs = copy.deepcopy(resources(directory))
    for p in kustomization(directory).get("patchesJson6902", []):
        t = p["target"]
        targets = [k for k in docs if k[0] == t["kind"] and k[1] == t["name"]
                   and docs[k]["apiVersion"] == "/".join(x for x in (t.get("group"), t["version"]) if x)]
        assert targets, f"patch target {t} matches no resource"
        for op in yaml.safe_load((directory / p["path"]).read_text(encoding="utf-8")):
            for k in targets:
                json_pointer_apply(docs[k], op)
    return docs

# ---------------------------------------------------------------- kubectl kustomize (the real renderer)

def kubectl() -> str | None:
    """The kubectl to render with: $KUBECTL, else the one on PATH (CI installs Debian's kubernetes-client)."""
    import shutil
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIRECTORY`: the documents `kubectl apply -k` would send."""
    import subprocess
    binary = kubectl()
    if binary is None:
        raise FileNotFoundError("kubectl")
    res = subprocess.run([binary, "kustomize", str(directory)], capture_output=True, text=True, timeout=120,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory}: {res.stderr.strip()}")
    return [d for d in yaml.safe_load_all(res.stdout) if d is not None]
