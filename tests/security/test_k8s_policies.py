"""k8s: NetworkPolicies deployed by the kustomization (default deny; Ray ports only between raytp pods; Serve's
port only from labelled client namespaces; HAProxy stats/metrics never opened wider), and no Kubernetes API token
in pods that do not call the API (workers, submitters)."""

from __future__ import annotations

import yaml

from raytp.runtime.serve_env import INGRESS_TIMEOUTS
from tests.k8s.manifests import K8S, KUBERAY_KINDS, kustomization, load_docs, patched, pod_templates


POLICIES = [d for d in load_docs(K8S / "networkpolicies.yaml")]
RAYTP = {"app.kubernetes.io/name": "raytp"}


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
    return True


def _templates():
    return [(f"{kind}/{name}:{which}", tpl) for (kind, name), d in patched().items() if kind in KUBERAY_KINDS
            for which, tpl in pod_templates(d)]


def _rules_for(labels: dict) -> list[dict]:
    return [r for p in POLICIES if _selects(p["spec"]["podSelector"], labels) for r in p["spec"].get("ingress", [])]


def test_policies_are_deployed_by_the_kustomization():
    assert "networkpolicies.yaml" in kustomization(K8S)["resources"]
    assert {p["kind"] for p in POLICIES} == {"NetworkPolicy"}


def test_every_raytp_pod_is_under_default_deny():
    deny = [p for p in POLICIES if p["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in p["spec"]]
    assert deny
    for name, tpl in _templates():
        labels = tpl["metadata"]["labels"]
        assert any(_selects(p["spec"]["podSelector"], labels) for p in deny), name


def test_only_raytp_pods_and_the_operator_reach_ray_ports():
    """Every rule either admits raytp pods only, or names its ports: never 6379/10001/8404/9101 from elsewhere."""
    for name, tpl in _templates():
        for rule in _rules_for(tpl["metadata"]["labels"]):
            peers = rule.get("from", [])
            assert peers, f"{name}: a rule that admits everyone"
            raytp_only = all(set(p) == {"podSelector"} and p["podSelector"].get("matchLabels") == RAYTP for p in peers)
            if raytp_only:
                continue
            ports = {p["port"] for p in rule.get("ports", [])}
            assert ports and ports <= {8000, 8265, 52365}, f"{name}: {ports}"
            assert not ports & {6379, 10001, 8404, 9101}


def test_serve_port_only_from_labelled_client_namespaces():
    serve_rules = [r for p in POLICIES for r in p["spec"].get("ingress", [])
                   if any(pt["port"] == 8000 for pt in r.get("ports", []))
                   and all("namespaceSelector" in peer and "podSelector" not in peer for peer in r["from"])]
    assert serve_rules
    for r in serve_rules:
        for peer in r["from"]:
            assert peer["namespaceSelector"]["matchLabels"] == {"raytp.io/recommender-client": "true"}
    worker = {"app.kubernetes.io/name": "raytp", "app.kubernetes.io/component": "recommender-worker"}
    search_head = {"app.kubernetes.io/name": "raytp", "app.kubernetes.io/component": "search-head"}
    assert any(r in serve_rules for r in _rules_for(worker))
    assert not any(r in serve_rules for r in _rules_for(search_head))  # only the recommender serves clients


def test_no_service_account_token_where_the_api_is_not_called():
    for name, tpl in _templates():
        if name.endswith(":head"):
            continue  # the in-tree autoscaler in the head pod calls the Kubernetes API
        assert tpl["spec"].get("automountServiceAccountToken") is False, name
    standalone = yaml.safe_load((K8S / "cluster" / "raycluster.yaml").read_text())
    for which, tpl in pod_templates(standalone):
        if which != "head":
            assert tpl["spec"]["automountServiceAccountToken"] is False


def test_serving_pods_carry_the_haproxy_timeouts():
    d = patched()[("RayService", "raytp-recommender")]
    for name, tpl in pod_templates(d):
        env = {e["name"]: e.get("value") for e in tpl["spec"]["containers"][0].get("env", [])}
        for k in ("RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S", "RAY_SERVE_HAPROXY_TIMEOUT_SERVER_S"):
            assert env.get(k) == INGRESS_TIMEOUTS[k], (name, k)


def test_image_installs_hash_pinned_versions_at_or_above_the_advisory_floors():
    """deploy/constraints.txt: every line pinned with a sha256, installed by the Dockerfile in hash-checking mode,
    at or above pyproject's floors; those floors exclude the releases with known advisories."""
    import re
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    from tests.k8s.manifests import ROOT
    lines = [ln for ln in (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    pins = {}
    for ln in lines:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+) --hash=sha256:[0-9a-f]{64}", ln)
        assert m, ln
        pins[m.group(1).lower()] = Version(m.group(2))
    assert {"starlette", "h11", "transformers"} <= set(pins)
    deps = {Requirement(d).name.lower(): Requirement(d).specifier
            for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for name, floor in {"torch": "2.6", "transformers": "4.53", "starlette": "0.49.1", "h11": "0.16"}.items():
        assert Version(floor) in deps[name] and not deps[name].contains(str(Version(floor).release[0]) + ".0.0")
    for name, version in pins.items():
        if name in deps:
            assert deps[name].contains(version), (name, version)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r /home/ray/raytp-src/deploy/constraints.txt" in dockerfile
    assert "pip install -c /home/ray/raytp-src/deploy/constraints.txt" in dockerfile
