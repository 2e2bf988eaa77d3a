"""What `kubectl apply -k` would send: every kustomization in k8s/ rendered by a real `kubectl kustomize`, then
checked as a whole: the operator's rules, the pod hardening of every container, the writable paths the image's
processes use, and images that deploy/Dockerfile builds. Needs kubectl: .ci/run installs Debian's
kubernetes-client (kubectl 1.20, kustomize v2.0.3); a newer kubectl renders the same documents. Without kubectl
these tests skip on a developer machine and fail under CI (CI=true)."""

from __future__ import annotations

import copy
import os
import re
import shlex
import tomllib

import pytest

from tests.k8s.hardening import (
    container_contexts, hardening_violations, image_env, ray_container_writes, resolve_writers,
)
from tests.k8s.kuberay_rules import violations
from tests.k8s.manifests import K8S, KUBERAY_KINDS, ROOT, kubectl, kustomization_dirs, patched, pod_templates, render

if kubectl() is None:
    if os.environ.get("CI"):
        raise RuntimeError("kubectl not found: .ci/run installs Debian's kubernetes-client; tests/k8s need it")
    pytest.skip("kubectl not installed (apt-get install kubernetes-client)", allow_module_level=True)

DIRS = kustomization_dirs()
RENDERED = {d.relative_to(K8S).as_posix(): render(d) for d in DIRS}
DOCS = [(f"{k}:{d['kind']}/{d['metadata']['name']}", d) for k, docs in RENDERED.items() for d in docs]
CRS = [(i, d) for i, d in DOCS if d["kind"] in KUBERAY_KINDS]


def _ids(items):
    return [i for i, _ in items]


@pytest.fixture(scope="module")
def writers():
    return resolve_writers()


def test_kubectl_renders_every_kustomization_as_the_offline_patching_predicts():
    for d in DIRS:
        expected = patched(d)
        got = {(doc["kind"], doc["metadata"]["name"]): doc for doc in RENDERED[d.relative_to(K8S).as_posix()]}
        assert set(got) == set(expected)
        for key, doc in got.items():
            want = copy.deepcopy(expected[key])
            for _, c, _ in container_contexts(want):  # kustomize's only other change: the image names
                if "image" in c:
                    c["image"] = c["image"].replace("raytp:", "registry.example.com/raytp:", 1)
            assert doc == want, key


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_no_rendered_cr_breaks_an_operator_rule(doc):
    assert violations(doc) == []


@pytest.mark.parametrize("doc", [d for _, d in DOCS], ids=_ids(DOCS))
def test_every_container_of_every_rendered_document_is_hardened(doc):
    assert hardening_violations(doc) == []


def test_every_container_is_counted_the_autoscaler_sidecar_included():
    names = {w for _, d in CRS for w, _, _ in container_contexts(d)}
    assert {"head/ray-head", "head/autoscaler", "submitter/ray-job-submitter", "head/wait-for-run",
            "worker[gpu]/ray-worker", "worker[serve]/ray-worker"} <= names


@pytest.mark.parametrize("field,value,expected", [
    ("readOnlyRootFilesystem", False, "readOnlyRootFilesystem"),
    ("allowPrivilegeEscalation", True, "allowPrivilegeEscalation"),
    ("capabilities", {"drop": ["NET_RAW"]}, "capabilities"),
    ("capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]}, "capabilities"),
    ("seccompProfile", {"type": "Unconfined"}, "seccompProfile"),
    ("runAsNonRoot", False, "runAsNonRoot"),
    ("runAsUser", 0, "runAsNonRoot"),
])
def test_a_container_that_drops_a_hardening_setting_is_caught(field, value, expected):
    doc = copy.deepcopy(dict(CRS)[".:RayJob/raytp-search"])
    c = doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    c["securityContext"][field] = value
    found = hardening_violations(doc)
    assert found and all(v.startswith("worker[gpu]/ray-worker") and expected in v for v in found), found


def test_pod_level_settings_count_and_the_autoscaler_sidecar_is_checked():
    doc = copy.deepcopy(dict(CRS)[".:RayService/raytp-recommender"])
    doc["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["securityContext"].pop("seccompProfile")
    assert {v.split(":")[0] for v in hardening_violations(doc)} == {
        "head/wait-for-run", "head/ray-head", "head/autoscaler"}
    doc = copy.deepcopy(dict(CRS)[".:RayService/raytp-recommender"])
    doc["spec"]["rayClusterConfig"]["autoscalerOptions"]["securityContext"].pop("readOnlyRootFilesystem")
    assert hardening_violations(doc) == ["head/autoscaler: readOnlyRootFilesystem must be true"]


# ---------------------------------------------------------------- writable paths

def test_the_writers_resolve_under_the_images_scratch_directories(writers):
    assert writers["ray temp dir (sessions, logs, spilled objects, Tune artifacts)"] == "/tmp/ray"
    assert writers["serve haproxy config_file_loc"] == "/tmp/haproxy-serve"
    assert writers["huggingface HF_HUB_CACHE"].startswith("/home/ray/.cache/")
    assert writers["raytp embedding cache"].startswith("/home/ray/.cache/")
    assert all(p.startswith(("/tmp", "/home/ray/.cache", "/home/ray/.ray")) for p in writers.values()), writers


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_every_path_the_image_writes_is_on_a_writable_volume(doc, writers):
    assert ray_container_writes(doc, writers) == []


def test_a_missing_scratch_volume_is_caught(writers):
    doc = copy.deepcopy(dict(CRS)[".:RayJob/raytp-search"])
    worker = doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    worker["containers"][0]["volumeMounts"] = [m for m in worker["containers"][0]["volumeMounts"]
                                               if m["mountPath"] != "/home/ray/.cache"]
    found = ray_container_writes(doc, writers)
    assert found and all(v.startswith("worker[gpu]/ray-worker") for v in found)
    assert any("huggingface HF_HUB_CACHE" in v for v in found) and any("raytp embedding cache" in v for v in found)
    doc = copy.deepcopy(dict(CRS)[".:RayJob/raytp-search"])
    for m in doc["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["volumeMounts"]:
        if m["mountPath"] == "/tmp":
            m["readOnly"] = True
    assert any(v.startswith("head/ray-head: ray temp dir") for v in ray_container_writes(doc, writers))


def test_an_image_env_that_sends_a_cache_elsewhere_is_caught():
    env = image_env()
    env.pop("MPLCONFIGDIR")  # matplotlib would fall back to ~/.config/matplotlib: on the read-only root
    doc = dict(CRS)[".:RayJob/raytp-search"]
    found = ray_container_writes(doc, resolve_writers(env))
    assert any("matplotlib config: /home/ray/.config/matplotlib" in v for v in found), found


# ---------------------------------------------------------------- images

def _dockerfile_builds():
    """{(repository, tag): variant} from the build commands k8s/README.md and deploy/Dockerfile document."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    builds = {}
    for text in ((K8S / "README.md").read_text(), (ROOT / "deploy" / "Dockerfile").read_text()):
        for line in re.findall(r"docker build [^\n]*", text):
            argv = shlex.split(line.split("&&")[0].split("#")[0])
            if "deploy/Dockerfile" not in argv or "-t" not in argv:
                continue
            args = dict(a.split("=", 1) for a in argv[argv.index("docker") + 2:] if "=" in a and a.isascii())
            repo, tag = argv[argv.index("-t") + 1].rsplit(":", 1)
            if args.get("WITH_ASSETS") == "1":
                continue
            builds[(repo.rsplit("/", 1)[-1], tag)] = args.get("VARIANT", "cpu")
    assert builds and all(t.startswith(version + "-") for _, t in builds), builds
    return builds


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_every_rendered_image_is_one_the_dockerfile_builds(doc):
    builds = _dockerfile_builds()
    for where, c, _ in container_contexts(doc):
        if "image" not in c:
            continue  # the autoscaler sidecar: KubeRay runs it on the head's image
        repo, tag = c["image"].rsplit(":", 1)
        assert repo == "registry.example.com/raytp", f"{where}: {c['image']} (the kustomization's registry)"
        assert (repo.rsplit("/", 1)[-1], tag) in builds, f"{where}: {c['image']} is not built by deploy/Dockerfile"
        gpu = "nvidia.com/gpu" in (c.get("resources") or {}).get("limits", {})
        assert builds[("raytp", tag)] == ("gpu" if gpu else "cpu"), f"{where}: {c['image']}"


# ---------------------------------------------------------------- the opt-in cluster's dependencies

def test_the_readmes_selectors_create_exactly_what_the_cluster_mounts():
    """k8s/README.md section 7 creates the ConfigMap and the volume with `kubectl apply -k k8s/ -l KEY=VALUE`:
    those selectors must pick exactly the objects k8s/cluster/ mounts, and no job or service."""
    selected = set()
    for key, value in re.findall(r"kubectl apply -k k8s/ -l ([\w./-]+)=([\w.-]+)", (K8S / "README.md").read_text()):
        selected |= {(d["kind"], d["metadata"]["name"]) for d in RENDERED["."]
                     if d["metadata"].get("labels", {}).get(key) == value}
    needed = set()
    for d in RENDERED["cluster"]:
        for _, tpl in pod_templates(d):
            for v in tpl["spec"].get("volumes", []):
                if "configMap" in v:
                    needed.add(("ConfigMap", v["configMap"]["name"]))
                if "persistentVolumeClaim" in v:
                    needed.add(("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]))
    assert needed and selected == needed, (selected, needed)
