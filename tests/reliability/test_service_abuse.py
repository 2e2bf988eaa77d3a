"""The recommender API under abuse: schemathesis fuzzes every operation of its OpenAPI schema (valid and invalid
inputs) in-process and no request may get a 5xx; a bounded soak of 3,000 requests keeps memory stable."""

from __future__ import annotations

import gc
import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from raytp.serving.http_api import create_app
from raytp.serving.recommender import Recommender
from tests.recommender_runs import TASKS, write_run

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def recommender(tmp_path_factory) -> Recommender:
    return Recommender.from_run_dir(write_run(tmp_path_factory.mktemp("abuse") / "run", searches=("pruned", "full")).root)


OPERATIONS = ["GET /healthz", "GET /v1/tasks", "POST /v1/recommend", "GET /v1/pairs/{source}/{target}", "GET /v1/run"]
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)


def _operations(recommender: Recommender, token: str | None) -> dict[str, object]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(lambda: recommender, token=token))
    return {op.label: op for op in (r.ok() for r in schema.get_all_operations())}


def _check(case, response) -> None:
    assert response.status_code < 500, \
        f"{case.method} {case.formatted_path} body={case.body!r} -> {response.status_code}: {response.text[:300]}"
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"} and body["error"]["message"], body
    else:
        case.validate_response(response)  # 2xx bodies conform to the documented schema


def test_schema_lists_every_operation(recommender):
    assert sorted(_operations(recommender, None)) == sorted(OPERATIONS)


# negative mode needs something to violate: only the JSON body has constraints (path segments are any string,
# which positive mode already generates)
FUZZ_CASES = [(op, GenerationMode.POSITIVE) for op in OPERATIONS] + [("POST /v1/recommend", GenerationMode.NEGATIVE)]


@pytest.mark.parametrize(("label", "mode"), FUZZ_CASES, ids=[f"{o}-{m.value}" for o, m in FUZZ_CASES])
def test_fuzz_from_openapi_never_5xx(recommender, label, mode):
    """schemathesis generates requests for one operation from the app's own OpenAPI schema (valid ones, then ones
    that violate it: wrong types, missing/extra fields, odd path segments); every answer is JSON and under 500."""
    op = _operations(recommender, None)[label]

    @FUZZ
    @given(case=op.as_strategy(generation_mode=mode))
    def fuzz(case):
        _check(case, case.call())

    fuzz()


@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzz_token_protected_api_never_5xx(recommender, label):
    """Behind a bearer token, with no token, a wrong one or the right one: 401 or an answer, never a 5xx."""
    op = _operations(recommender, TOKEN)[label]
    tokens = [None, "wrong", TOKEN]

    @settings(FUZZ, max_examples=15)
    @given(case=op.as_strategy(), which=st.integers(0, 2))
    def fuzz(case, which):
        headers = {"Authorization": f"Bearer {tokens[which]}"} if tokens[which] else {}
        response = case.call(headers=headers)
        _check(case, response)
        if label != "GET /healthz" and which != 2:
            assert response.status_code == 401

    fuzz()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_soak_memory_stays_flat(recommender):
    """3,000 mixed requests (answers and every kind of error) in-process after a warm-up: the second half of the
    soak adds < 2 MB of resident memory over the first (a leak of 2 KB per request would add ~2.5 MB)."""
    app = create_app(lambda: recommender, token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests = [
        ("POST", "/v1/recommend", {"json": {"target": "food", "k": 3}}, 200),
        ("POST", "/v1/recommend", {"json": {"target": "pizza"}}, 404),
        ("POST", "/v1/recommend", {"content": b'{"target": ', "headers": {"content-type": "application/json"}}, 400),
        ("GET", f"/v1/pairs/{TASKS[1]}/{TASKS[0]}", {}, 200),
        ("GET", "/v1/tasks", {}, 200),
        ("POST", "/v1/recommend", {"json": {"target": "food", "pad": "x" * 70_000}}, 413),
        ("GET", "/v1/run", {"headers": {"Authorization": "Bearer nope"}}, 401),
    ]
    with TestClient(app, raise_server_exceptions=False) as client:
        def burst(n: int) -> int:
            for i in range(n):
                method, path, kw, status = requests[i % len(requests)]
                r = client.request(method, path, **{**kw, "headers": {**auth, **kw.get("headers", {})}}, timeout=10)
                assert r.status_code == status, (path, r.status_code, r.text[:200])
            gc.collect()
            return _rss()

        burst(400)  # warm-up: caches, lazy imports, allocator arenas
        start = burst(0)
        middle = burst(1500)
        end = burst(1500)
    assert end - middle < 2 * 2 ** 20, f"RSS {start >> 20} -> {middle >> 20} -> {end >> 20} MiB"
