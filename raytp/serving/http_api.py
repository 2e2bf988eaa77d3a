"""The recommender's HTTP API: a FastAPI app factory, free of Ray (Serve wraps it; the benchmark runs it bare).

Routes (OpenAPI at ``/docs``): ``GET /healthz``, ``GET /v1/tasks``, ``POST /v1/recommend``,
``GET /v1/pairs/{source}/{target}``, ``GET /v1/run``.

Every error is JSON ``{"error": {"code": ..., "message": ...}}``:

====  =====================  ===========================================================
400   ``malformed_json``     the body is not valid JSON
401   ``unauthorized``       a token is configured and the request lacks ``Authorization: Bearer <token>``
404   ``unknown_task``       a task name the loaded run does not know (also ``not_found`` for unknown routes)
405   ``method_not_allowed``
413   ``body_too_large``     body over ``MAX_BODY_BYTES``
422   ``invalid_request``    wrong types, missing or unknown fields (``details`` lists each problem)
422   ``invalid_query``      k outside 1..tasks-1, source == target
503   ``not_ready``          no run directory loaded
500   ``internal_error``     a bug: logged with its traceback; never caused by bad input
====  =====================  ===========================================================
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from raytp.errors import RaytpError
from raytp.serving.recommender import QueryError, Recommender, UnknownTaskError

__all__ = ["create_app", "MAX_BODY_BYTES", "TOKEN_ENV"]

MAX_BODY_BYTES = 64 * 1024
TOKEN_ENV = "RAYTP_API_TOKEN"
log = logging.getLogger("raytp.serving.http_api")


# -- models (the OpenAPI schema) -----------------------------------------------------------------
class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"]
    tasks: int


class TaskInfo(BaseModel):
    name: str
    f1_val: float | None
    f1_test: float | None
    f1_test_sd: float | None
    hyperparameters: dict[str, Any] | None = Field(description="Settings the single-task stage chose.")


class TasksResponse(BaseModel):
    tasks: list[TaskInfo]


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    target: str = Field(min_length=1, max_length=256, description="Target task name.", examples=["food"])
    k: int | None = Field(None, ge=1, description="How many sources (1..tasks-1; default min(5, tasks-1)).")


class Recommendation(BaseModel):
    source: str
    probability: float | None = Field(description="Predicted P(beneficial); null when the run has no predictor output.")
    observed_gain: float | None = Field(description="Target F1 gain of the best-validation searched trial, if searched.")
    hyperparameters: dict[str, Any] | None = Field(description="Settings of that trial, if searched.")
    basis: Literal["measured", "predicted"]


class RecommendResponse(BaseModel):
    target: str
    recommendations: list[Recommendation]


class Baseline(BaseModel):
    f1_val: float | None
    f1_test: float | None
    f1_test_sd: float | None


class SearchInfo(BaseModel):
    trials: int
    failed_trials: int
    searched_in: list[str]
    best_trial: dict[str, Any]


class PairResponse(BaseModel):
    source: str
    target: str
    probability: float | None
    kept: bool | None = Field(description="Whether the pair survived pruning (null: no predictions).")
    observed_gain: float | None
    hyperparameters: dict[str, Any] | None
    basis: Literal["measured", "predicted", "none"]
    baseline: Baseline
    search: SearchInfo | None


class RunInfo(BaseModel):
    run_dir: str
    artifacts: list[str]
    config_fingerprint: str | None
    tasks: int
    predicted_pairs: int
    measured_pairs: int
    loaded_at: float


# -- errors ----------------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _error(status: int, code: str, message: str, details: list | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _error(400, "malformed_json", "request body is not valid JSON")
    details = [{"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
               for e in errors]
    first = details[0] if details else {"loc": "request", "msg": "invalid"}
    more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
    return _error(422, "invalid_request", f"{first['loc']}: {first['msg']}{more}", details)


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (400, 401, 404, 413, 422, 503)}


# -- middleware: body limit + catch-all ------------------------------------------------------------
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"})


class _Guard:
    """Pure ASGI middleware: refuse bodies over ``max_body`` (413) and turn any unhandled exception into JSON.

    ``loopback_only``: answer 403 to any client not on this machine. Serve's HAProxy ingress binds each
    replica's own HTTP server on all interfaces (Ray's choice, for HAProxy on other nodes), so a deployment
    meant for 127.0.0.1 needs this to stay local."""

    def __init__(self, app: Any, max_body: int = MAX_BODY_BYTES, loopback_only: bool = False):
        self.app, self.max_body, self.loopback_only = app, max_body, loopback_only

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.loopback_only and (scope.get("client") or ("",))[0] not in LOOPBACK_HOSTS:
            await _error(403, "forbidden", "this server answers only clients on its own machine (it was started "
                                           "for 127.0.0.1); start it with --host 0.0.0.0 to serve others"
                         )(scope, receive, send)
            return
        started = False

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def reply(resp: JSONResponse) -> None:
            await resp(scope, receive, tracked_send)

        try:
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                body = await self._read_body(receive, scope)
                if body is None:
                    await reply(_error(413, "body_too_large", f"request body is over {self.max_body} bytes"))
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, tracked_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await reply(_error(500, "internal_error", "internal error (logged on the server)"))

    async def _read_body(self, receive: Callable, scope: dict) -> bytes | None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Callable) -> Callable:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


# -- the app ---------------------------------------------------------------------------------------
def create_app(get_recommender: Callable[[], Recommender | None], token: str | None = None,
               max_body: int = MAX_BODY_BYTES, loopback_only: bool = False) -> FastAPI:
    """The API over whatever recommender ``get_recommender()`` returns at request time (hot reload swaps it).

    ``token``: when set, every /v1 route needs ``Authorization: Bearer <token>``; /healthz stays open.
    ``loopback_only``: every route answers 403 to clients that are not on this machine.
    """
    app = FastAPI(title="raytp recommender", version="1", description=__doc__.split("\n\n")[0])
    bearer = HTTPBearer(auto_error=False)
    expected = token.encode() if token else None

    def current() -> Recommender:
        try:
            rec = get_recommender()
        except RaytpError as e:
            raise ApiError(503, "not_ready", str(e)) from None
        if rec is None:
            raise ApiError(503, "not_ready", "no run directory loaded yet")
        return rec

    async def authorize(cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if expected is None:
            return
        given = cred.credentials.encode() if cred is not None else b""
        if not hmac.compare_digest(given, expected):
            raise ApiError(401, "unauthorized", "missing or wrong bearer token",
                           headers={"WWW-Authenticate": "Bearer"})

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)] if expected else [], responses=_ERROR_RESPONSES)

    @app.get("/healthz", response_model=Health, responses={503: {"model": ErrorResponse}})
    async def healthz() -> Any:
        return JSONResponse({"status": "ok", "tasks": len(current().task_names())})

    @v1.get("/tasks", response_model=TasksResponse)
    async def tasks() -> Any:
        return JSONResponse({"tasks": current().tasks()})

    @v1.post("/recommend", response_model=RecommendResponse)
    async def recommend(req: RecommendRequest) -> Any:
        return JSONResponse(current().recommend(req.target, req.k))

    @v1.get("/pairs/{source}/{target}", response_model=PairResponse)
    async def pair(source: str, target: str) -> Any:
        return JSONResponse(current().pair(source, target))

    @v1.get("/run", response_model=RunInfo)
    async def run_info() -> Any:
        return JSONResponse(current().info())

    app.include_router(v1)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(UnknownTaskError)
    async def _unknown(_: Request, exc: UnknownTaskError) -> JSONResponse:
        return _error(404, "unknown_task", str(exc))

    @app.exception_handler(QueryError)
    async def _query(_: Request, exc: QueryError) -> JSONResponse:
        return _error(422, "invalid_query", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "malformed_json", 404: "not_found", 405: "method_not_allowed"}  # 400: FastAPI body parse
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                      headers=getattr(exc, "headers", None))

    app.add_middleware(_Guard, max_body=max_body, loopback_only=loopback_only)
    return app
