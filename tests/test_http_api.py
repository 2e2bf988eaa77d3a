"""The FastAPI app in-process (no Ray): routes, schema, errors, token, swapping the recommender."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from raytp.serving.http_api import PairResponse, RecommendResponse, RunInfo, TasksResponse, create_app
from raytp.serving.recommender import Recommender
from tests.recommender_runs import BAD_REQUESTS, write_run

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    write_run(base / "a", seed=1, searches=("pruned", "full"))
    write_run(base / "b", seed=2)
    return {k: Recommender.from_run_dir(base / k) for k in "ab"}


@pytest.fixture
def client(runs):
    with TestClient(create_app(lambda: runs["a"]), raise_server_exceptions=False) as c:
        yield c


def test_healthz_and_tasks(client, runs):
    assert client.get("/healthz").json() == {"status": "ok", "tasks": len(runs["a"].tasks())}
    body = TasksResponse.model_validate(client.get("/v1/tasks").json())
    assert [t.model_dump() for t in body.tasks] == runs["a"].tasks()


def test_recommend_matches_the_recommender(client, runs):
    r = client.post("/v1/recommend", json={"target": "water", "k": 3})
    assert r.status_code == 200
    body = RecommendResponse.model_validate(r.json())
    assert r.json() == runs["a"].recommend("water", 3)
    assert len(body.recommendations) == 3
    assert len(client.post("/v1/recommend", json={"target": "water"}).json()["recommendations"]) == 5


def test_pair_and_run(client, runs):
    r = client.get("/v1/pairs/food/water")
    assert r.status_code == 200 and r.json() == runs["a"].pair("food", "water")
    PairResponse.model_validate(r.json())
    info = RunInfo.model_validate(client.get("/v1/run").json())
    assert info.artifacts == ["single_task.json", "pair_predictions.parquet", "search_pruned.parquet",
                              "search_full.parquet"]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_json_4xx(client, case):
    _, method, path, kwargs, status, code = case
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]


def test_chunked_oversized_body_is_refused(client):
    def chunks():
        for _ in range(20):
            yield b"x" * 8192
    r = client.post("/v1/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_openapi_documents_the_models(client):
    spec = client.get("/openapi.json").json()
    assert {"/healthz", "/v1/tasks", "/v1/recommend", "/v1/pairs/{source}/{target}"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["Recommendation"]["properties"]["basis"]["enum"] == ["measured", "predicted"]
    assert "422" in spec["paths"]["/v1/recommend"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_token_guards_v1_only(runs):
    with TestClient(create_app(lambda: runs["a"], token=TOKEN)) as c:
        assert c.get("/healthz").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}):
            r = c.post("/v1/recommend", json={"target": "food"}, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/tasks").status_code == 401
        ok = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/v1/tasks", headers=ok).status_code == 200
        assert c.get("/v1/pairs/food/water", headers=ok).status_code == 200


def test_swapping_the_recommender_changes_answers(runs):
    current = {"rec": runs["a"]}
    with TestClient(create_app(lambda: current["rec"])) as c:
        before = c.post("/v1/recommend", json={"target": "food", "k": 5}).json()
        current["rec"] = runs["b"]
        after = c.post("/v1/recommend", json={"target": "food", "k": 5}).json()
    assert before == runs["a"].recommend("food", 5) and after == runs["b"].recommend("food", 5)
    assert before != after


def test_not_loaded_and_internal_errors_are_json():
    with TestClient(create_app(lambda: None)) as c:
        r = c.post("/v1/recommend", json={"target": "food"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert c.get("/healthz").status_code == 503

    def broken() -> Recommender:
        raise ZeroDivisionError("bug")
    with TestClient(create_app(broken), raise_server_exceptions=False) as c:
        r = c.get("/v1/tasks")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("peer, status", [(("127.0.0.1", 50000), 200), (("::1", 50000), 200),
                                          (("10.1.2.3", 50000), 403), (("192.168.0.7", 50000), 403)])
def test_loopback_only_refuses_other_machines(runs, peer, status):
    with TestClient(create_app(lambda: runs["a"], loopback_only=True), client=peer) as c:
        r = c.post("/v1/recommend", json={"target": "water", "k": 2})
        assert r.status_code == status
        if status == 403:
            assert r.json()["error"]["code"] == "forbidden" and "--host 0.0.0.0" in r.json()["error"]["message"]
            assert c.get("/healthz").status_code == 403
    with TestClient(create_app(lambda: runs["a"]), client=peer) as c:  # off by default (a cluster's pods)
        assert c.post("/v1/recommend", json={"target": "water", "k": 2}).status_code == 200
