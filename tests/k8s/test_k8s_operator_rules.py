"""The KubeRay operator's admission rules (tests/k8s/kuberay_rules.py) on every CR in k8s/, and each rule fed a
manifest that breaks it: the rule must reject it, naming the field."""

from __future__ import annotations

import copy

import pytest

from tests.k8s.kuberay_rules import autoscaler_v2, violations
from tests.k8s.manifests import cluster_spec, kuberay_docs

CRS = kuberay_docs()
BY_ID = dict(CRS)
SEARCH = BY_ID["rayjob-search.yaml:RayJob/raytp-search"]
SERVICE = BY_ID["rayservice-recommender.yaml:RayService/raytp-recommender"]
CLUSTER = BY_ID["cluster/raycluster.yaml:RayCluster/raytp-cluster"]


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=[i for i, _ in CRS])
def test_no_manifest_breaks_an_operator_rule(doc):
    assert violations(doc) == []


@pytest.mark.parametrize("doc", [d for _, d in CRS], ids=[i for i, _ in CRS])
def test_autoscaler_v2_wherever_worker_groups_idle_out(doc):
    cs = cluster_spec(doc)
    if any("idleTimeoutSeconds" in g for g in cs.get("workerGroupSpecs", [])):
        assert autoscaler_v2(cs)
    if autoscaler_v2(cs):  # and what v2 needs: Ray pods are replaced, never restarted in place
        pods = [cs["headGroupSpec"]] + cs.get("workerGroupSpecs", [])
        assert all(g["template"]["spec"].get("restartPolicy", "Never") == "Never" for g in pods)


def _head(cs):
    return cs["headGroupSpec"]["template"]["spec"]


def _worker(cs, i=0):
    return cs["workerGroupSpecs"][i]


def _gpu_resources(cs):
    return _worker(cs)["template"]["spec"]["containers"][0]["resources"]


def _autoscaler_v1(cs):
    cs["autoscalerOptions"]["version"] = "v1"
    _worker(cs).setdefault("idleTimeoutSeconds", 300)


def _drop_version(cs):
    cs["autoscalerOptions"].pop("version")
    _worker(cs).setdefault("idleTimeoutSeconds", 300)


def _v2_env_and_version(cs):
    _head(cs)["containers"][0].setdefault("env", []).append({"name": "RAY_enable_autoscaler_v2", "value": "1"})


def _v2_env_without_autoscaling(cs):
    cs["enableInTreeAutoscaling"] = False
    cs["autoscalerOptions"].pop("version")
    _head(cs)["containers"][0].setdefault("env", []).append({"name": "RAY_enable_autoscaler_v2", "value": "true"})


# name -> (document, mutation of its cluster spec or of the whole document, the field the rejection must name)
CLUSTER_CASES = {
    "idle timeout under autoscaler v1": (_autoscaler_v1, "idleTimeoutSeconds: set, but autoscaler v2"),
    "idle timeout, autoscaler version unset": (_drop_version, "idleTimeoutSeconds: set, but autoscaler v2"),
    "v2 with head restartPolicy Always": (lambda cs: _head(cs).update(restartPolicy="Always"),
                                         "headGroupSpec.template.spec.restartPolicy"),
    "v2 with worker restartPolicy OnFailure": (lambda cs: _worker(cs)["template"]["spec"].update(
        restartPolicy="OnFailure"), "template.spec.restartPolicy: OnFailure"),
    "version and RAY_enable_autoscaler_v2 both": (_v2_env_and_version, "both autoscalerOptions.version"),
    "RAY_enable_autoscaler_v2 without autoscaling": (_v2_env_without_autoscaling, "enableInTreeAutoscaling is false"),
    "GPU request below limit": (lambda cs: _gpu_resources(cs)["requests"].update({"nvidia.com/gpu": "0"}),
                                "nvidia.com/gpu request 0 must equal its limit"),
    "GPU request without limit": (lambda cs: _gpu_resources(cs)["limits"].pop("nvidia.com/gpu"),
                                  "limits.nvidia.com/gpu: required"),
    "minReplicas above maxReplicas": (lambda cs: _worker(cs).update(minReplicas=5, maxReplicas=2),
                                      "minReplicas 5 greater than maxReplicas 2"),
    "negative idle timeout": (lambda cs: _worker(cs).update(idleTimeoutSeconds=-1), "must be non-negative"),
    "suspended worker group": (lambda cs: _worker(cs).update(suspend=True), ".suspend: needs the RayJobDeletionPolicy"),
    "resources in rayStartParams and resources": (
        lambda cs: _worker(cs).update(rayStartParams={"num-gpus": "1"}, resources={"GPU": "1"}), "both rayStartParams"),
    "token auth on an old Ray": (lambda cs: cs.update(rayVersion="2.51.0"), "needs Ray >= 2.52.0"),
    "no replica bounds without autoscaling": (
        lambda cs: (cs.update(enableInTreeAutoscaling=False), cs["autoscalerOptions"].pop("version"),
                    _worker(cs).pop("idleTimeoutSeconds", None), _worker(cs).pop("maxReplicas")),
        "must set both minReplicas and maxReplicas"),
}


@pytest.mark.parametrize("kind,case", [(k, c) for k in ("RayJob", "RayService", "RayCluster") for c in CLUSTER_CASES
                                       if not (k == "RayService" and "GPU" in c)])  # the recommender has no GPUs
def test_a_cluster_spec_that_breaks_a_rule_is_rejected(kind, case):
    mutate, expected = CLUSTER_CASES[case]
    bad = copy.deepcopy({"RayJob": SEARCH, "RayService": SERVICE, "RayCluster": CLUSTER}[kind])
    mutate(cluster_spec(bad))
    found = violations(bad)
    assert any(expected in v for v in found), found


JOB_CASES = {
    "suspend without shutdown": (lambda s: s.update(suspend=True, shutdownAfterJobFinishes=False),
                                 "spec.suspend: only a RayJob with shutdownAfterJobFinishes"),
    "negative ttl": (lambda s: s.update(ttlSecondsAfterFinished=-1), "ttlSecondsAfterFinished"),
    "zero active deadline": (lambda s: s.update(activeDeadlineSeconds=0), "activeDeadlineSeconds"),
    "sidecar mode with a submitter template": (lambda s: s.update(submissionMode="SidecarMode"),
                                               "spec.submitterPodTemplate: not supported in SidecarMode"),
    "interactive mode with retries": (lambda s: s.update(submissionMode="InteractiveMode", backoffLimit=2),
                                      "incompatible with InteractiveMode"),
    "neither cluster spec nor selector": (lambda s: s.pop("rayClusterSpec"), "one of rayClusterSpec"),
    "ttl without shutdown": (lambda s: s.update(shutdownAfterJobFinishes=False), "only with shutdownAfterJobFinishes"),
    "deletion strategy without its feature gate": (
        lambda s: s.update(deletionStrategy={"deletionRules": []}), "spec.deletionStrategy: needs the RayJobDeletion"),
    "suspended cluster selector": (
        lambda s: (s.pop("rayClusterSpec"), s.update(suspend=True, clusterSelector={"ray.io/cluster": "raytp-cluster"})),
        "clusterSelector mode cannot be suspended"),
}


@pytest.mark.parametrize("case", list(JOB_CASES))
def test_a_rayjob_that_breaks_a_rule_is_rejected(case):
    mutate, expected = JOB_CASES[case]
    bad = copy.deepcopy(SEARCH)
    mutate(bad["spec"])
    found = violations(bad)
    assert any(expected in v for v in found), found


def test_the_suspended_compare_job_is_allowed_because_it_shuts_down():
    compare = BY_ID["rayjob-compare.yaml:RayJob/raytp-compare"]
    assert compare["spec"]["suspend"] is True and violations(compare) == []


@pytest.mark.parametrize("name,expected", [
    ("raytp-" + "x" * 42, "at most 47 characters"), ("Raytp-search", "not a DNS-1035 label"),
    ("1raytp", "not a DNS-1035 label"),
])
def test_names_the_operator_cannot_use_are_rejected(name, expected):
    bad = copy.deepcopy(SEARCH)
    bad["metadata"]["name"] = name
    assert any(expected in v for v in violations(bad))


@pytest.mark.parametrize("mutate,expected", [
    (lambda s: s["upgradeStrategy"].update(type="Rolling"), "upgradeStrategy.type: Rolling"),
    (lambda s: s["rayClusterConfig"]["headGroupSpec"].update(headService={"metadata": {"name": "mine"}}),
     "headService.metadata.name"),
    (lambda s: s["upgradeStrategy"].update(type="NewClusterWithIncrementalUpgrade"), "clusterUpgradeOptions: required"),
    (lambda s: s.update(rayClusterDeletionDelaySeconds=-5), "rayClusterDeletionDelaySeconds"),
], ids=["upgrade type", "head service name", "incremental upgrade options", "deletion delay"])
def test_a_rayservice_that_breaks_a_rule_is_rejected(mutate, expected):
    bad = copy.deepcopy(SERVICE)
    mutate(bad["spec"])
    found = violations(bad)
    assert any(expected in v for v in found), found


@pytest.mark.parametrize("value,ok", [("5m", True), ("1h30m", True), ("600", True), ("0", False), ("0s", False), ("soon", False)])
def test_the_initializing_timeout_annotation_must_be_a_positive_duration(value, ok):
    doc = copy.deepcopy(SERVICE)
    doc["metadata"].setdefault("annotations", {})["ray.io/initializing-timeout"] = value
    assert (violations(doc) == []) is ok
