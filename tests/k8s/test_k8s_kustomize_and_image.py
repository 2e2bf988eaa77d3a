"""kustomization.yaml (no kustomize binary here: references, images and patches checked and applied offline) and
deploy/Dockerfile + .dockerignore (no Docker engine here: linted statically)."""

from __future__ import annotations

import copy
import fnmatch
import re
import shlex
import tomllib

import jsonschema
import kubernetes_validate
import pytest

from tests.k8s.kuberay_rules import violations
from tests.k8s.manifests import (
    K8S, ROOT, KUBERAY_KINDS, json_pointer_apply, kuberay_schema, kustomization, kustomization_dirs, load_docs,
    manifest_files, patched, pinned_ray_version, pod_templates, resources,
)

KUST_DIRS = kustomization_dirs()
KUSTOMIZE_V2_FIELDS = {"apiVersion", "kind", "resources", "bases", "namePrefix", "nameSuffix", "namespace",
                       "commonLabels", "commonAnnotations", "images", "patchesStrategicMerge", "patchesJson6902",
                       "configMapGenerator", "secretGenerator", "generatorOptions", "vars", "crds", "configurations"}
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


# ---------------------------------------------------------------- kustomization

def test_kustomizations_are_the_default_set_and_the_opt_in_cluster():
    assert [d.relative_to(K8S).as_posix() for d in KUST_DIRS] == [".", "cluster"]
    assert ("RayCluster", "raytp-cluster") in resources(K8S / "cluster")
    assert ("RayCluster", "raytp-cluster") not in resources(K8S), "the long-lived cluster is opt-in"


@pytest.mark.parametrize("directory", KUST_DIRS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_kustomization_resources_exist_and_parse(directory):
    kust = kustomization(directory)
    assert kust["apiVersion"].startswith("kustomize.config.k8s.io/") and kust["kind"] == "Kustomization"
    for r in kust["resources"]:
        p = (directory / r).resolve()
        assert p.is_file() and p.parent == directory.resolve(), f"{r}: kustomize loads files in or below {directory}"
        assert load_docs(p)
    # only fields kubectl 1.20's kustomize (v2.0.3, Debian's kubernetes-client) reads: it fails on newer ones
    # (`labels`, `patches`, `components`...) or, for an inline `patch`, silently skips the patch
    assert set(kust) <= KUSTOMIZE_V2_FIELDS, sorted(set(kust) - KUSTOMIZE_V2_FIELDS)
    assert all("path" in p and "patch" not in p for p in kust.get("patchesJson6902", [])), "patches as files"


def test_every_manifest_is_in_some_kustomization():
    rendered = set(manifest_files())
    for p in K8S.rglob("*.yaml"):
        if p.name == "kustomization.yaml" or "patches" in p.relative_to(K8S).parts:
            continue
        assert p.resolve() in rendered, f"{p.relative_to(K8S)}: applied by no kustomization"


def test_kustomizations_map_images_alike_and_cover_every_container():
    images = [kustomization(d)["images"] for d in KUST_DIRS]
    assert all(i == images[0] for i in images), "k8s/ and k8s/cluster/ must point at the same registry"
    mapped = {i["name"] for i in images[0]}
    for i in images[0]:
        assert i.get("newName") or i.get("newTag"), i
    for directory in KUST_DIRS:
        for (kind, name), d in resources(directory).items():
            if kind not in KUBERAY_KINDS:
                continue
            for _, tpl in pod_templates(d):
                for c in tpl["spec"].get("initContainers", []) + tpl["spec"]["containers"]:
                    assert c["image"].split(":")[0] in mapped, f"{kind}/{name}: {c['image']} not set by kustomization"


@pytest.mark.parametrize("directory", KUST_DIRS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_kustomize_patches_hit_existing_fields_and_keep_manifests_valid(directory):
    validator = jsonschema.Draft202012Validator(kuberay_schema())
    for (kind, name), d in patched(directory).items():
        if kind in KUBERAY_KINDS:
            validator.validate(d)
            assert violations(d) == [], f"{kind}/{name}"
            for _, tpl in pod_templates(d):
                kubernetes_validate.validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
                                              "template": tpl}, kubernetes_validate.latest_version(), strict=True)
        else:
            kubernetes_validate.validate(d, kubernetes_validate.latest_version(), strict=True)


def test_a_patch_on_a_missing_path_is_caught():
    doc = copy.deepcopy(resources()[("RayJob", "raytp-search")])
    with pytest.raises((KeyError, IndexError)):
        json_pointer_apply(doc, {"op": "replace", "path": "/spec/rayClusterSpec/workerGroupSpecs/3/maxReplicas",
                                 "value": 2})
    with pytest.raises(KeyError):
        json_pointer_apply(doc, {"op": "replace", "path": "/spec/rayClusterSpec/maxReplicas", "value": 2})


def test_readme_documents_the_parameters_and_the_steps():
    text = (K8S / "README.md").read_text().lower()
    for word in ("image", "storage", "gpu", "kuberay operator", "kubectl apply -k", "port-forward",
                 "raytp-api-token", "maxreplicas", "storage_path", "kuberay **v1.5.1 to v1.7.0**", "autoscaler v2",
                 "readonlyrootfilesystem: true", "kubectl apply -k k8s/cluster/", "kubernetes-client"):
        assert word in text, word


# ---------------------------------------------------------------- Dockerfile (static lint)

def _instructions():
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _arg_defaults(instrs, upto_from: bool):
    args = {}
    for word, rest in instrs:
        if word == "FROM" and upto_from:
            break
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k] = v.strip('"')
    return args


def _from_image(instrs, **overrides):
    args = {**_arg_defaults(instrs, upto_from=True), **overrides}
    image = next(rest for word, rest in instrs if word == "FROM").split()[0]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], image)


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_base_image_is_the_official_ray_image_of_the_pinned_version(variant):
    instrs = _instructions()
    image = _from_image(instrs, VARIANT=variant)
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    m = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py3(\d+)-(cpu|gpu|cu\d+)", image)
    assert m, image
    assert m.group(1) == pinned_ray_version()
    assert m.group(3) == variant
    min_minor = int(re.search(r">=\s*3\.(\d+)", py).group(1))
    assert int(m.group(2)) >= min_minor, f"{image} has an older Python than requires-python {py}"


def test_image_runs_as_non_root():
    users = [rest for word, rest in _instructions() if word == "USER"]
    assert users, "no USER: the image would inherit whatever the base sets"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit(), "numeric non-root USER (so runAsNonRoot can verify it)"


def test_torch_pin_matches_the_makefile():
    spec = re.search(r"^TORCH_SPEC \?= torch==(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert _arg_defaults(_instructions(), upto_from=False)["TORCH_VERSION"] == spec


def test_no_data_or_weights_unless_a_build_arg_asks():
    instrs = _instructions()
    args = _arg_defaults(instrs, upto_from=False)
    assert args["WITH_ASSETS"] == "0"
    for word, rest in instrs:
        if word in ("COPY", "ADD"):
            srcs = [s for s in shlex.split(rest) if not s.startswith("--")][:-1]
            for s in srcs:
                assert (ROOT / s).exists(), f"COPY {s}: no such path in the repository"
                assert not _dockerignored(s), f"COPY {s}: excluded by .dockerignore"
                assert s in ("pyproject.toml", "README.md", "raytp", "deploy/constraints.txt"), \
                    f"COPY {s}: only the package (and its hashed constraints) goes in"
            assert "--from" not in rest
        if word == "RUN" and re.search(r"disaster|minilm|ASSET_PACKAGES|\.csv|safetensors", rest, re.I):
            assert re.search(r'if \[ "\$\{WITH_ASSETS\}" = "1" \]', rest), f"unguarded asset install: {rest}"
        assert word != "ADD" or "http" not in rest, "no downloads via ADD"


def _dockerignored(path: str) -> bool:
    """Docker's .dockerignore rule: patterns in order, the last one matching the path or a parent decides."""
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        globs = [pat] + ([pat[3:]] if pat.startswith("**/") else [])
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            ignored = not neg
    return ignored


@pytest.mark.parametrize("path,ignored", [
    ("raytp/cli.py", False), ("pyproject.toml", False), ("raytp/configs/default.yaml", False),
    (".venv/bin/python", True), ("runs/default/search_full.parquet", True), (".git/HEAD", True),
    ("raytp/data/disaster_response_messages.csv", True), ("raytp/models/model.safetensors", True),
    ("raytp/__pycache__/cli.cpython-311.pyc", True), ("tests/conftest.py", True), ("bench-out/x.json", True),
])
def test_dockerignore_admits_the_package_and_nothing_heavy(path, ignored):
    assert _dockerignored(path) is ignored
