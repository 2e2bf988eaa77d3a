"""The KubeRay operator's admission rules that a CRD schema cannot express, for KubeRay v1.5.1-v1.7.0.

Written from the operator's validation (ray-operator/controllers/ray/utils/validation.go: ValidateRayClusterSpec,
ValidateRayJobSpec, ValidateRayServiceSpec, the *Metadata checks) plus the one Kubernetes core rule on extended
resources that bites GPU pods. Where releases differ, the strictest release wins: a worker group's
``idleTimeoutSeconds`` without autoscaler v2 is rejected from v1.6.0 on (v1.5.x accepts it but only v2 honours it).
``violations(doc)`` returns one line per broken rule, naming the field; an empty list means the operator accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.k8s.manifests import pod_templates, quantity

KUBERAY_TARGETS = ("v1.5.1", "v1.7.0")  # the operator releases these rules are written for (k8s/README.md)
MAX_NAME = {"RayCluster": 53, "RayJob": 47, "RayService": 47}  # the operator appends 6 characters to job/service names
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_V2_ENV = "RAY_enable_autoscaler_v2"
_START_RESOURCES = ("num-cpus", "num-gpus", "memory", "resources")
_UPGRADE_TYPES = ("NewCluster", "NewClusterWithIncrementalUpgrade", "None")


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _groups(cs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "headGroupSpec", cs["headGroupSpec"]
    for i, g in enumerate(cs.get("workerGroupSpecs", [])):
        yield f"workerGroupSpecs[{i}]({g.get('groupName')})", g


def autoscaler_v2(cs: dict[str, Any]) -> bool:
    """The operator's IsAutoscalingV2Enabled: ``autoscalerOptions.version: v2``, nothing else."""
    return (cs.get("autoscalerOptions") or {}).get("version") == "v2"


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def cluster_spec_violations(cs: dict[str, Any], at: str) -> list[str]:
    """ValidateRayClusterSpec: a RayCluster's spec, a RayJob's rayClusterSpec, a RayService's rayClusterConfig."""
    out: list[str] = []
    head_containers = cs["headGroupSpec"]["template"]["spec"].get("containers") or []
    if not head_containers:
        return [f"{at}.headGroupSpec: should have at least one container"]
    head_env = _env(head_containers[0])
    autoscaling = cs.get("enableInTreeAutoscaling") is True
    v2 = autoscaler_v2(cs)
    env_v2 = str(head_env.get(_V2_ENV, "")).lower() in ("1", "true")
    for name, g in _groups(cs):
        params, labels = g.get("rayStartParams") or {}, g.get("labels") or {}
        if any(params.get(k) for k in _START_RESOURCES) and g.get("resources"):
            out.append(f"{at}.{name}: resources set in both rayStartParams and resources")
        if "labels" in params:
            out.append(f"{at}.{name}: rayStartParams['labels'] is not supported; use labels")
        if name == "headGroupSpec":
            continue
        if not g["template"]["spec"].get("containers"):
            out.append(f"{at}.{name}: should have at least one container")
        lo, hi = g.get("minReplicas"), g.get("maxReplicas")
        if not autoscaling and (lo is None or hi is None):
            out.append(f"{at}.{name}: must set both minReplicas and maxReplicas when autoscaling is disabled")
        if lo is not None and hi is not None and lo > hi:
            out.append(f"{at}.{name}: minReplicas {lo} greater than maxReplicas {hi}")
        idle = g.get("idleTimeoutSeconds")
        if idle is not None and idle < 0:
            out.append(f"{at}.{name}.idleTimeoutSeconds: must be non-negative")
        if idle is not None and not v2 and not env_v2:
            out.append(f"{at}.{name}.idleTimeoutSeconds: set, but autoscaler v2 is not enabled "
                       "(autoscalerOptions.version: v2)")
        if g.get("suspend"):
            out.append(f"{at}.{name}.suspend: needs the RayJobDeletionPolicy feature gate (off by default)"
                       + (", and is refused with the autoscaler enabled" if autoscaling else ""))
    if not autoscaling and env_v2:
        out.append(f"{at}.headGroupSpec: {_V2_ENV} set while enableInTreeAutoscaling is false")
    if autoscaling and (cs.get("autoscalerOptions") or {}).get("version") and _V2_ENV in head_env:
        out.append(f"{at}: both autoscalerOptions.version and the head env var {_V2_ENV} are set")
    if autoscaling and v2:
        for name, g in _groups(cs):
            policy = g["template"]["spec"].get("restartPolicy")
            if policy not in (None, "", "Never"):
                out.append(f"{at}.{name}.template.spec.restartPolicy: {policy}; autoscaler v2 needs Never or unset")
    idle = (cs.get("autoscalerOptions") or {}).get("idleTimeoutSeconds")
    if idle is not None and idle < 0:
        out.append(f"{at}.autoscalerOptions.idleTimeoutSeconds: must be non-negative")
    if (cs.get("authOptions") or {}).get("mode") == "token":
        rv = cs.get("rayVersion")
        if not rv:
            out.append(f"{at}.rayVersion: required with authOptions.mode token (Ray >= 2.52.0)")
        elif _version(rv) < (2, 52, 0):
            out.append(f"{at}.rayVersion: {rv}; authOptions.mode token needs Ray >= 2.52.0")
    return out


def rayjob_violations(doc: dict[str, Any]) -> list[str]:
    """ValidateRayJobSpec."""
    spec, out = doc["spec"], []
    mode = spec.get("submissionMode", "K8sJobMode")
    if spec.get("suspend") and not spec.get("shutdownAfterJobFinishes"):
        out.append("spec.suspend: only a RayJob with shutdownAfterJobFinishes: true may be suspended")
    if spec.get("ttlSecondsAfterFinished", 0) < 0:
        out.append("spec.ttlSecondsAfterFinished: must be non-negative")
    if not spec.get("shutdownAfterJobFinishes") and spec.get("ttlSecondsAfterFinished", 0) > 0:
        out.append("spec.ttlSecondsAfterFinished: only with shutdownAfterJobFinishes: true")
    if "deletionStrategy" in spec:
        out.append("spec.deletionStrategy: needs the RayJobDeletionPolicy feature gate (off by default)")
    selector = spec.get("clusterSelector") or {}
    if spec.get("suspend") and selector:
        out.append("spec.suspend: the clusterSelector mode cannot be suspended")
    if not spec.get("rayClusterSpec") and not selector:
        out.append("spec: one of rayClusterSpec or clusterSelector must be set")
    if mode == "InteractiveMode" and spec.get("backoffLimit", 0) > 0:
        out.append("spec.backoffLimit: incompatible with InteractiveMode")
    if mode == "SidecarMode":
        for key in ("submitterPodTemplate", "submitterConfig"):
            if key in spec:
                out.append(f"spec.{key}: not supported in SidecarMode")
    if spec.get("activeDeadlineSeconds") is not None and spec["activeDeadlineSeconds"] <= 0:
        out.append("spec.activeDeadlineSeconds: must be positive")
    if spec.get("backoffLimit") is not None and spec["backoffLimit"] < 0:
        out.append("spec.backoffLimit: must be non-negative")
    if spec.get("rayClusterSpec"):
        out += cluster_spec_violations(spec["rayClusterSpec"], "spec.rayClusterSpec")
    return out


def rayservice_violations(doc: dict[str, Any]) -> list[str]:
    """ValidateRayServiceSpec (the parts that apply to a manifest, not to live status)."""
    spec = doc["spec"]
    out = cluster_spec_violations(spec["rayClusterConfig"], "spec.rayClusterConfig")
    if ((spec["rayClusterConfig"]["headGroupSpec"].get("headService") or {}).get("metadata") or {}).get("name"):
        out.append("spec.rayClusterConfig.headGroupSpec.headService.metadata.name: should not be set")
    kind = (spec.get("upgradeStrategy") or {}).get("type")
    if kind is not None and kind not in _UPGRADE_TYPES:
        out.append(f"spec.upgradeStrategy.type: {kind} not one of {', '.join(_UPGRADE_TYPES)}")
    if kind == "NewClusterWithIncrementalUpgrade":
        if not spec["rayClusterConfig"].get("enableInTreeAutoscaling"):
            out.append("spec.upgradeStrategy: NewClusterWithIncrementalUpgrade needs the autoscaler")
        if not (spec["upgradeStrategy"].get("clusterUpgradeOptions") or {}).get("gatewayClassName"):
            out.append("spec.upgradeStrategy.clusterUpgradeOptions: required (with gatewayClassName) for "
                       "NewClusterWithIncrementalUpgrade")
    if spec.get("rayClusterDeletionDelaySeconds", 0) < 0:
        out.append("spec.rayClusterDeletionDelaySeconds: must be non-negative")
    return out


def metadata_violations(doc: dict[str, Any]) -> list[str]:
    name, kind = doc["metadata"]["name"], doc["kind"]
    out = []
    if len(name) > MAX_NAME[kind]:
        out.append(f"metadata.name: {kind} names are at most {MAX_NAME[kind]} characters")
    if not _DNS1035.fullmatch(name):
        out.append(f"metadata.name: {name!r} is not a DNS-1035 label")
    timeout = (doc["metadata"].get("annotations") or {}).get("ray.io/initializing-timeout")
    positive = re.fullmatch(r"\d+|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", timeout or "") and re.search(r"[1-9]", timeout)
    if kind == "RayService" and timeout and not positive:  # Go's time.ParseDuration, or whole seconds, above 0
        out.append(f"metadata.annotations[ray.io/initializing-timeout]: {timeout!r} is not a positive duration")
    return out


def extended_resource_violations(template: dict[str, Any], at: str) -> list[str]:
    """Kubernetes (not KubeRay): an extended resource such as nvidia.com/gpu needs a limit, and a request, when
    given, equal to it; the API server rejects the pod otherwise."""
    out = []
    spec = template["spec"]
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for key in set(req) | set(lim):
            if key in ("cpu", "memory", "ephemeral-storage") or key.startswith("hugepages-"):
                continue
            if key not in lim:
                out.append(f"{at}/{c['name']}.resources.limits.{key}: required for an extended resource")
            elif key in req and quantity(req[key]) != quantity(lim[key]):
                out.append(f"{at}/{c['name']}.resources: {key} request {req[key]} must equal its limit {lim[key]}")
    return out


def violations(doc: dict[str, Any]) -> list[str]:
    """Everything KubeRay v1.5.1-v1.7.0 (and the API server, for extended resources) would reject in ``doc``."""
    kind = doc["kind"]
    out = metadata_violations(doc)
    if kind == "RayCluster":
        out += cluster_spec_violations(doc["spec"], "spec")
    elif kind == "RayJob":
        out += rayjob_violations(doc)
    elif kind == "RayService":
        out += rayservice_violations(doc)
    else:
        raise ValueError(f"not a KubeRay kind: {kind}")
    if kind != "RayJob" or doc["spec"].get("rayClusterSpec"):
        for name, tpl in pod_templates(doc):
            out += extended_resource_violations(tpl, name)
    return out
