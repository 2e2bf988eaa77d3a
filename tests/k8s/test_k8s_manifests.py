"""Offline validation of k8s/: Kubernetes schemas, the project's KubeRay schema, Ray's Serve schema, the raytp CLI,
and the security / scheduling rules the deployment promises (non-root, limits, token auth, no exposed dashboard)."""

from __future__ import annotations

import copy
import importlib
import shlex

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.k8s.manifests import (
    K8S_MIN_VERSION, all_docs, cluster_spec, containers, core_docs, kuberay_docs, kuberay_schema, mounts_of,
    pinned_ray_version, pod_templates, quantity,
)

K8S_VERSIONS = [K8S_MIN_VERSION, kubernetes_validate.latest_version()]
DOCS = all_docs()
CRS = kuberay_docs()
RAYJOBS = [(i, d) for i, d in CRS if d["kind"] == "RayJob"]
RAYSERVICES = [(i, d) for i, d in CRS if d["kind"] == "RayService"]
TEMPLATES = [(f"{i}:{name}", t) for i, d in CRS for name, t in pod_templates(d)]


def _ids(items):
    return [i for i, _ in items]


def _by_kind(kind):
    return {d["metadata"]["name"]: d for _, d in DOCS if d["kind"] == kind}


def _validate_pod_template(tpl, version):
    wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": tpl}
    return kubernetes_validate.validate(wrapped, version, strict=True)


def test_the_expected_manifests_exist():
    kinds = sorted((d["kind"], d["metadata"]["name"]) for _, d in DOCS)
    assert ("RayJob", "raytp-search") in kinds and ("RayJob", "raytp-compare") in kinds
    assert ("RayService", "raytp-recommender") in kinds and ("RayCluster", "raytp-cluster") in kinds
    assert ("ConfigMap", "raytp-experiment") in kinds and ("PersistentVolumeClaim", "raytp-data") in kinds
    assert len(kinds) == len(set(kinds)), "duplicate kind/name"


# ---------------------------------------------------------------- Kubernetes schemas (kubernetes-validate, strict)

@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("doc", [d for _, d in core_docs()], ids=_ids(core_docs()))
def test_core_objects_validate_against_kubernetes(doc, version):
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("tpl", [t for _, t in TEMPLATES], ids=_ids(TEMPLATES))
def test_pod_templates_validate_against_kubernetes(tpl, version):
    _validate_pod_template(tpl, version)


def test_kubernetes_validation_can_fail():
    tpl = copy.deepcopy(TEMPLATES[0][1])
    tpl["spec"]["containers"][0]["securityContxt"] = {}  # typo: strict schemas reject unknown fields
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_pod_template(tpl, K8S_VERSIONS[-1])
    bad = copy.deepcopy(TEMPLATES[0][1])
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": "6379"}]  # a string where an integer belongs
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_pod_template(bad, K8S_VERSIONS[-1])


# ---------------------------------------------------------------- KubeRay CRs against the project's schema

def test_kuberay_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(kuberay_schema())


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_kuberay_crs_validate_against_project_schema(doc):
    jsonschema.Draft202012Validator(kuberay_schema()).validate(doc)


def _mutations():
    job = copy.deepcopy(dict(RAYJOBS)["rayjob-search.yaml:RayJob/raytp-search"])

    def m(fn):
        d = copy.deepcopy(job)
        fn(d)
        return d
    return {
        "unknown spec field": m(lambda d: d["spec"].__setitem__("shutdownAfterJobFinish", True)),
        "unknown cluster field": m(lambda d: d["spec"]["rayClusterSpec"].__setitem__("authOption", {"mode": "token"})),
        "bad auth mode": m(lambda d: d["spec"]["rayClusterSpec"]["authOptions"].__setitem__("mode", "on")),
        "bad submission mode": m(lambda d: d["spec"].__setitem__("submissionMode", "K8sMode")),
        "suspended without shutdown": m(lambda d: d["spec"].update(suspend=True, shutdownAfterJobFinishes=False,
                                                                   ttlSecondsAfterFinished=0)),
        "no entrypoint": m(lambda d: d["spec"].pop("entrypoint")),
        "worker group without name": m(lambda d: d["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].pop("groupName")),
        "negative replicas": m(lambda d: d["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].__setitem__("maxReplicas", -1)),
        "wrong api version": m(lambda d: d.__setitem__("apiVersion", "ray.io/v1alpha1")),
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_kuberay_schema_rejects_broken_crs(name):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(kuberay_schema()).validate(_mutations()[name])


# ---------------------------------------------------------------- security

@pytest.mark.parametrize("tpl", [t for _, t in TEMPLATES], ids=_ids(TEMPLATES))
def test_pods_run_as_non_root_without_privilege_escalation(tpl):
    spec = tpl["spec"]
    psc = spec.get("securityContext", {})
    assert psc.get("runAsNonRoot") is True
    assert psc.get("runAsUser", 1000) != 0
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    for c in containers(tpl):
        sc = c.get("securityContext", {})
        assert sc.get("allowPrivilegeEscalation") is False, c["name"]
        assert not sc.get("privileged"), c["name"]
        assert sc.get("runAsUser", psc.get("runAsUser")) not in (0, None), c["name"]
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), c["name"]
        assert not any("hostPort" in p for p in c.get("ports", [])), c["name"]


@pytest.mark.parametrize("tpl", [t for _, t in TEMPLATES], ids=_ids(TEMPLATES))
def test_every_container_has_requests_and_limits(tpl):
    for c in containers(tpl):
        res = c.get("resources", {})
        for key in ("cpu", "memory"):
            req, lim = res.get("requests", {}).get(key), res.get("limits", {}).get(key)
            assert req is not None and lim is not None, f"{c['name']}: {key} request and limit"
            assert quantity(req) <= quantity(lim), f"{c['name']}: {key} request above limit"
        for ext, lim in res.get("limits", {}).items():
            if ext not in ("cpu", "memory"):  # extended resources (GPUs): requests must equal limits
                assert res.get("requests", {}).get(ext, lim) == lim, f"{c['name']}: {ext}"


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_autoscaler_sidecar_is_limited_and_unprivileged(doc):
    cs = cluster_spec(doc)
    if not cs.get("enableInTreeAutoscaling"):
        return
    opts = cs["autoscalerOptions"]
    for key in ("cpu", "memory"):
        assert key in opts["resources"]["requests"] and key in opts["resources"]["limits"]
    assert opts["securityContext"]["allowPrivilegeEscalation"] is False
    assert opts["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_ray_token_auth_is_on_and_ray_version_matches_the_pin(doc):
    cs = cluster_spec(doc)
    assert cs.get("authOptions", {}).get("mode") == "token"
    assert cs["rayVersion"] == pinned_ray_version()
    assert tuple(int(x) for x in cs["rayVersion"].split(".")[:2]) >= (2, 52), "Ray token auth needs Ray >= 2.52"
    for name, tpl in pod_templates(doc):
        for c in containers(tpl):  # KubeRay manages the token: nothing may switch it off by hand
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            assert env.get("RAY_AUTH_MODE", "token") == "token", f"{name}/{c['name']}"


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_dashboard_and_head_stay_inside_the_cluster(doc):
    head = cluster_spec(doc)["headGroupSpec"]
    assert head.get("serviceType") == "ClusterIP"
    assert not head.get("enableIngress")
    assert head.get("headService", {}).get("spec", {}).get("type", "ClusterIP") == "ClusterIP"
    if doc["kind"] == "RayService":
        assert doc["spec"].get("serveService", {}).get("spec", {}).get("type", "ClusterIP") == "ClusterIP"
    for _, d in DOCS:  # and no other object opens a door
        assert d["kind"] not in ("Ingress", "Route") and d.get("spec", {}).get("type") not in ("LoadBalancer", "NodePort")


# ---------------------------------------------------------------- scheduling: GPU workers, autoscaling, cleanup

@pytest.mark.parametrize("doc", [d for _, d in RAYJOBS], ids=_ids(RAYJOBS))
def test_rayjobs_have_autoscaled_gpu_workers_and_clean_up(doc):
    spec = doc["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    cs = spec["rayClusterSpec"]
    assert cs["enableInTreeAutoscaling"] is True
    assert cs["headGroupSpec"]["rayStartParams"].get("num-cpus") == "0", "trials must land on workers, not the head"
    gpu_groups = [g for g in cs["workerGroupSpecs"]
                  if "nvidia.com/gpu" in g["template"]["spec"]["containers"][0]["resources"]["limits"]]
    assert gpu_groups, "no GPU worker group"
    for g in gpu_groups:
        assert quantity(g["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert 0 <= g["minReplicas"] <= g.get("replicas", g["minReplicas"]) <= g["maxReplicas"]
        assert g["maxReplicas"] >= 1
        tol = g["template"]["spec"].get("tolerations", [])
        assert any(t["key"] == "nvidia.com/gpu" and t.get("effect") == "NoSchedule" for t in tol)
        assert "gpu" in g["template"]["spec"]["containers"][0]["image"], "GPU workers need the CUDA image"


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=_ids(CRS))
def test_ray_containers_use_the_raytp_images(doc):
    for name, tpl in pod_templates(doc):
        image = tpl["spec"]["containers"][0]["image"]
        assert image.split(":")[0] in ("raytp-cpu", "raytp-gpu"), f"{name}: {image}"


# ---------------------------------------------------------------- the commands the manifests run

def _entrypoint_argv(doc):
    argv = shlex.split(doc["spec"]["entrypoint"])
    assert argv[0] == "raytp", argv
    return argv[1:]


def _parse_raytp(argv):
    from raytp.cli import build_parser
    return build_parser().parse_args(argv)


def _option(argv, flag):
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize("doc", [d for _, d in RAYJOBS], ids=_ids(RAYJOBS))
def test_rayjob_entrypoint_is_a_valid_raytp_command(doc):
    argv = _entrypoint_argv(doc)
    args = _parse_raytp(argv)
    assert args.command == argv[0] == "run"
    # the config comes from the ConfigMap mounted on the head (where the driver runs) ...
    head = cluster_spec(doc)["headGroupSpec"]["template"]
    mounts = mounts_of(head)
    cfg = _option(argv, "--config")
    mount = next((m for m in mounts if cfg.startswith(m.rstrip("/") + "/")), None)
    assert mount and mounts[mount] == "configMap:raytp-experiment", cfg
    key = cfg[len(mount.rstrip("/")) + 1:]
    assert key in _by_kind("ConfigMap")["raytp-experiment"]["data"]
    # ... and results go to the shared volume, mounted at the same path on the head and every worker
    out = _option(argv, "--out")
    for name, tpl in pod_templates(doc):
        if name == "submitter":
            continue
        ms = mounts_of(tpl)
        assert any(out.startswith(m.rstrip("/") + "/") and ms[m] == "pvc:raytp-data" for m in ms), f"{name}: {out}"


def test_compare_job_runs_the_full_search_and_search_job_does_not():
    jobs = dict(RAYJOBS)
    search = _entrypoint_argv(jobs["rayjob-search.yaml:RayJob/raytp-search"])
    compare = _entrypoint_argv(jobs["rayjob-compare.yaml:RayJob/raytp-compare"])
    assert "--with-full" in compare and "--with-full" not in search
    assert _option(search, "--out") != _option(compare, "--out"), "the two jobs must not share a run directory"
    args = _parse_raytp(compare)
    assert args.with_full is True


def test_experiment_configmap_is_a_valid_config_that_fits_the_workers(tmp_path):
    from raytp.config import load_config
    cm = _by_kind("ConfigMap")["raytp-experiment"]
    p = tmp_path / "experiment.yaml"
    p.write_text(cm["data"]["experiment.yaml"])
    cfg = load_config(p)
    for _, doc in RAYJOBS:
        for g in cluster_spec(doc)["workerGroupSpecs"]:
            lim = g["template"]["spec"]["containers"][0]["resources"]["limits"]
            assert cfg.resources.cpus_per_worker <= quantity(lim["cpu"])
            assert cfg.resources.gpus_per_worker <= quantity(lim.get("nvidia.com/gpu", 0))
    sp = cfg.search.storage_path
    assert sp is None or "://" in sp or sp.startswith("/data/"), "Tune storage must be shared: the volume or a URI"


# ---------------------------------------------------------------- the recommender's Serve config

def _unknown_serve_keys(raw) -> list[str]:
    """Keys Ray's Serve schema would silently ignore (it does not forbid extras at every level): typos."""
    from ray.serve.schema import DeploymentSchema, HTTPOptionsSchema, ServeApplicationSchema, ServeDeploySchema
    bad = [k for k in raw if k not in ServeDeploySchema.model_fields]
    bad += [f"http_options.{k}" for k in raw.get("http_options", {}) if k not in HTTPOptionsSchema.model_fields]
    for app in raw.get("applications", []):
        bad += [f"app.{k}" for k in app if k not in ServeApplicationSchema.model_fields]
        for dep in app.get("deployments", []):
            bad += [f"deployment.{k}" for k in dep if k not in DeploymentSchema.model_fields]
    return bad


def _serve_config(doc):
    from ray.serve.schema import ServeDeploySchema
    raw = yaml.safe_load(doc["spec"]["serveConfigV2"])
    assert _unknown_serve_keys(raw) == []
    return raw, ServeDeploySchema.model_validate(raw)


@pytest.mark.parametrize("doc", [d for _, d in RAYSERVICES], ids=_ids(RAYSERVICES))
def test_serve_config_matches_rays_schema(doc):
    raw, cfg = _serve_config(doc)
    assert cfg.applications and len({a.name for a in cfg.applications}) == len(cfg.applications)
    assert cfg.http_options.port == 8000
    for app in cfg.applications:
        for dep in app.deployments:
            assert dep.health_check_period_s is not None and dep.health_check_timeout_s is not None
            ac = dep.autoscaling_config
            assert ac is not None and 1 <= ac["min_replicas"] <= ac["max_replicas"]


def test_serve_schema_check_can_fail():
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema
    raw = yaml.safe_load(RAYSERVICES[0][1]["spec"]["serveConfigV2"])
    typo = copy.deepcopy(raw)
    typo["applications"][0]["deployments"][0]["num_replicaz"] = 2
    assert _unknown_serve_keys(typo) == ["deployment.num_replicaz"]
    wrong = copy.deepcopy(raw)
    wrong["applications"][0]["deployments"][0]["max_ongoing_requests"] = "many"
    with pytest.raises(ValidationError):
        ServeDeploySchema.model_validate(wrong)
    dup = copy.deepcopy(raw)
    dup["applications"].append(copy.deepcopy(dup["applications"][0]))
    with pytest.raises(ValidationError):  # two apps on one name / route prefix
        ServeDeploySchema.model_validate(dup)


@pytest.mark.parametrize("doc", [d for _, d in RAYSERVICES], ids=_ids(RAYSERVICES))
def test_serve_app_reads_the_search_run_from_the_shared_volume(doc):
    raw, cfg = _serve_config(doc)
    search_out = _option(_entrypoint_argv(dict(RAYJOBS)["rayjob-search.yaml:RayJob/raytp-search"]), "--out")
    for app in cfg.applications:
        assert app.args["run_dir"] == search_out
    for name, tpl in pod_templates(doc):
        ms = mounts_of(tpl)
        assert any(search_out.startswith(m.rstrip("/") + "/") and ms[m] == "pvc:raytp-data" for m in ms), name
        for c in tpl["spec"]["containers"]:
            token = [e for e in c.get("env", []) if e["name"] == "RAYTP_API_TOKEN"]
            assert token and "secretKeyRef" in token[0]["valueFrom"], f"{name}: API token from a Secret"
        for init in tpl["spec"].get("initContainers", []):  # the wait-for-run gate watches that same run
            assert search_out in " ".join(init["command"])


@pytest.mark.parametrize("doc", [d for _, d in RAYSERVICES], ids=_ids(RAYSERVICES))
def test_serve_import_path_resolves_to_raytps_app_builder(doc, tmp_path):
    _, cfg = _serve_config(doc)
    for app in cfg.applications:
        module, _, attr = app.import_path.partition(":")
        assert module.startswith("raytp."), app.import_path
        mod = importlib.import_module(module)
        builder = getattr(mod, attr)
        assert callable(builder), app.import_path
        # deployment overrides must name deployments the app really has (else `serve deploy` rejects it);
        # the builder checks its run directory, so give it a small generated one
        from tests.recommender_runs import write_run
        write_run(tmp_path / "run")
        built = builder({**app.args, "run_dir": str(tmp_path / "run")})
        names = _deployment_names(built)
        assert names
        for dep in app.deployments:
            assert dep.name in names, f"serveConfigV2 overrides {dep.name!r}; the app has {sorted(names)}"


def _deployment_names(application) -> set[str]:
    names, stack = set(), [getattr(application, "_bound_deployment", None)]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        dep = getattr(node, "_deployment", node)
        if getattr(dep, "name", None):
            names.add(dep.name)
        for a in list(getattr(node, "_bound_args", ())) + list(getattr(node, "_bound_kwargs", {}).values()):
            inner = getattr(a, "_bound_deployment", a)
            if hasattr(inner, "_bound_args"):
                stack.append(inner)
    return names


@pytest.mark.parametrize("doc", [d for _, d in RAYSERVICES], ids=_ids(RAYSERVICES))
def test_serve_pods_carry_the_products_serve_environment(doc):
    """Serve reads these at start-up in every Ray process: each node of the RayService needs the same values as
    ``raytp serve`` sets locally (less the short draining period, which is for a single machine)."""
    from raytp.runtime.serve_env import SERVE_ENV
    expected = {k: v for k, v in SERVE_ENV.items() if k != "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"}
    for name, tpl in pod_templates(doc):
        ray_container = tpl["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in ray_container.get("env", [])}
        assert {k: env.get(k) for k in expected} == expected, name
