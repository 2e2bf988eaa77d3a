"""/v1 stays compatible: a client written against the first /v1/recommend response still reads every answer.

The old shape is frozen here by hand (not imported from the app), so a change to the app's models that drops or
retypes a v1 field fails this test; new fields are allowed (additive)."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from raytp.serving.http_api import create_app
from raytp.serving.recommender import Recommender
from tests.recommender_runs import TASKS, write_run


class OldRecommendation(BaseModel):  # /v1/recommend rows as first released
    model_config = ConfigDict(extra="allow", strict=True)
    source: str
    probability: float | None
    observed_gain: float | None
    hyperparameters: dict[str, Any] | None
    basis: Literal["measured", "predicted"]


class OldRecommendResponse(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    target: str
    recommendations: list[OldRecommendation]


OLD_ROW_KEYS = {"source", "probability", "observed_gain", "hyperparameters", "basis"}


@pytest.mark.parametrize("searches", [("pruned",), ("pruned", "full"), ()])
def test_v1_recommend_keeps_the_old_shape_and_adds_the_verdict(tmp_path, searches):
    write_run(tmp_path / "r", searches=searches)
    rec = Recommender.from_run_dir(tmp_path / "r")
    with TestClient(create_app(lambda: rec), raise_server_exceptions=False) as c:
        for target in TASKS:
            r = c.post("/v1/recommend", json={"target": target, "k": 3})
            assert r.status_code == 200
            body = r.json()
            old = OldRecommendResponse.model_validate(body)
            assert old.target == target and len(old.recommendations) == 3
            assert all(OLD_ROW_KEYS <= set(row) for row in body["recommendations"])
            v = body["verdict"]  # added field
            assert v["action"] in ("co-train", "alone") and v["text"] and v["target"] == target
            assert body["noise_margin"] == pytest.approx(rec.margin)
