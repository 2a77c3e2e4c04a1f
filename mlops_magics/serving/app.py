"""The scoring server: MLflow's scoring protocol (POST /invocations; GET /ping, /health, /version) plus
/metrics (Prometheus), /docs (an OpenAPI page from the model's signature) and POST /feedback."""

from __future__ import annotations

import contextlib
import html
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mlops_magics.serving.batching import MicroBatcher
from mlops_magics.serving.bodies import BodyRefused, ClientGone, discard, read_capped
from mlops_magics.serving.connections import BODY_TIMEOUT_S
from mlops_magics.serving.inputs import Column, RequestError, read
from mlops_magics.serving.metrics import SharedMetrics
from mlops_magics.serving.requestlog import RequestLog
from mlops_magics.serving.tokens import DigestFile

log = logging.getLogger("mlops.serving")
DEFAULT_MAX_BODY = 10 * 2**20


@dataclass
class ServedModel:
    uri: str
    name: str
    predict: Any
    columns: list[Column] | None
    version: str | None = None
    pinned: str = ""  # the exact model loaded: models:/name/3 when uri is models:/name@alias


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _jsonable(predictions: np.ndarray) -> Any:
    if predictions.dtype == object:
        return [p.item() if isinstance(p, np.generic) else p for p in predictions.tolist()]
    if predictions.dtype.kind in "USV":  # numpy strings (np.where over labels gives <U6): orjson takes no such array
        return predictions.tolist()
    return predictions


def refused_input(exc: Exception) -> bool:
    """How models say an input is not for them: scikit-learn's checks (NaN or infinity where no imputer is,
    a column missing, mixed types in an encoder) raise these, and pyfunc's own schema check an MlflowException.
    The message stays in the deployment's log: it may quote the input."""
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError)):
        return True
    from mlflow.exceptions import MlflowException

    return isinstance(exc, MlflowException) and exc.error_code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


def suspects(frame: Any) -> str:
    """What in a refused input a model most often refuses, by column: missing or infinite numbers. Names only,
    never values (the message goes back to whoever sent the input, and into logs)."""
    found = []
    for name in frame.columns:
        values = frame[name]
        try:
            if values.dtype.kind == "f" and np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan)).any():
                found.append(f"{name} has infinite values")
            elif values.isna().any():
                found.append(f"{name} has missing values")
        except (TypeError, ValueError):  # a column of some other kind: no hint rather than no answer
            continue
    return "; ".join(found[:5])


def _feedback_item(item: Any) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("request_id"), (str, int)):
        return False
    if not isinstance(item.get("label"), (str, int, float, bool)):
        return False
    row = item.get("row", 0)
    return isinstance(row, int) and not isinstance(row, bool) and row >= 0


def openapi(model: ServedModel) -> dict[str, Any]:
    kinds = {"number": "number", "integer": "integer", "boolean": "boolean", "string": "string", "datetime": "string"}
    properties = {c.name: {"type": kinds.get(c.kind, "string")} for c in model.columns or []}
    record = {"type": "object", "properties": properties, "required": list(properties)} if properties else {"type": "object"}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{model.name} ({model.uri})", "version": model.version or "1"},
        "paths": {
            "/invocations": {
                "post": {
                    "summary": "Predict (MLflow scoring protocol)",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {
                                            "type": "object",
                                            "properties": {"dataframe_records": {"type": "array", "items": record}},
                                        },
                                        {
                                            "type": "object",
                                            "properties": {
                                                "dataframe_split": {
                                                    "type": "object",
                                                    "properties": {"columns": {"type": "array"}, "data": {"type": "array"}},
                                                }
                                            },
                                        },
                                        {"type": "object", "properties": {"instances": {"type": "array"}}},
                                        {"type": "object", "properties": {"inputs": {"type": "array"}}},
                                    ]
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        }
                    },
                    "responses": {"200": {"description": "{'predictions': [...]}"}, "422": {"description": "input does not fit"}},
                }
            },
            "/feedback": {"post": {"summary": "True labels by request id: {'request_id': ..., 'label': ..., 'row': 0}"}},
            "/ping": {"get": {"summary": "liveness"}},
            "/health": {"get": {"summary": "health"}},
            "/version": {"get": {"summary": "model and server version"}},
            "/metrics": {"get": {"summary": "Prometheus metrics"}},
        },
    }


def build_app(
    model: ServedModel,
    token: DigestFile | None,
    request_log: RequestLog,
    max_body: int = DEFAULT_MAX_BODY,
    metrics: SharedMetrics | None = None,
    body_timeout: float = BODY_TIMEOUT_S,
) -> Starlette:
    counts = metrics if metrics is not None else SharedMetrics(1)
    batcher = MicroBatcher(lambda frame: model.predict(frame), on_batch=counts.batch)
    started = time.time()

    def authorized(request: Request) -> bool:
        # ``token`` checks the bearer token against its digest: this process never holds the token itself. Only the
        # guarded routes ask (/ping, /health, /version, /docs and /openapi.json are open: they never call this).
        return token is None or token.accepts(request.headers.get("authorization", ""))

    def answer(error: RequestError, headers: dict[str, str] | None = None) -> Response:
        if isinstance(error, BodyRefused):  # the body was not (all) read: this connection is done
            headers = {**(headers or {}), "Connection": "close"}
        return _json(error.payload(), error.status, headers)

    def refuse(error: RequestError, request_id: str, began: float) -> Response:
        counts.request(error.status, time.perf_counter() - began)
        return answer(error, {"X-Request-Id": request_id})

    async def unauthorized(request: Request) -> RequestError:
        """A 401 said after the body is drained (up to the body limit: a caller without the token gets no more
        of the server's time than one with it): a client still sending it would otherwise see a reset."""
        closed = not await discard(request, budget=max_body)
        error = RequestError(401, "missing or wrong bearer token")
        return BodyRefused(401, error.message) if closed else error

    async def invocations(request: Request) -> Response:
        began = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            return await score(request, request_id, began)
        except RequestError as error:
            return refuse(error, request_id, began)
        except ClientGone:  # no one reads an answer; counted as nginx logs it (499), in the "other" series
            counts.request(499, time.perf_counter() - began)
            return Response(status_code=400)
        except Exception as exc:  # our own fault: counted, logged, and said in the one error shape
            log.exception("request %s: the scoring server failed", request_id)
            return refuse(RequestError(500, f"the scoring server failed ({type(exc).__name__})"), request_id, began)

    async def score(request: Request, request_id: str, began: float) -> Response:
        if not authorized(request):
            raise await unauthorized(request)
        body = await read_capped(request, max_body, body_timeout)
        try:
            frame = read(body, request.headers.get("content-type", ""), model.columns)
        except RequestError:
            raise
        except Exception as exc:  # a shape of input the checks above do not know yet: still the client's input
            log.warning("request %s: the input could not be read", request_id, exc_info=True)
            raise RequestError(400, f"the body cannot be read as a table ({type(exc).__name__})") from None
        try:
            predictions = await batcher.predict(frame)
        except Exception as exc:
            failed(request_id, frame, began, 422 if refused_input(exc) else 500)
            if refused_input(exc):  # the input passed the signature, but the model cannot take it (as with pyfunc)
                log.warning("request %s: the model refused the input: %s: %s", request_id, type(exc).__name__, exc)
                hint = suspects(frame)
                message = (
                    f"the model cannot predict this input ({type(exc).__name__}{': ' + hint if hint else ''}); "
                    f"its message is in `mlops deploy logs {model.name}`"
                )
                raise RequestError(422, message) from None
            log.exception("request %s: the model failed", request_id)
            raise RequestError(500, f"the model failed on this input ({type(exc).__name__})") from None
        elapsed = time.perf_counter() - began
        counts.request(200, elapsed, len(frame))
        try:
            request_log.record(request_id, frame, predictions, elapsed * 1000, 200)
        except Exception:  # the answer is right; a request it cannot log must not turn it into an error
            log.exception("request %s: not logged", request_id)
        return _json({"predictions": _jsonable(predictions)}, 200, {"X-Request-Id": request_id})

    def failed(request_id: str, frame: Any, began: float, status: int) -> None:
        """A request the model could not answer is logged too (its inputs, no prediction): the monitor's error
        rate and its drift see the traffic that failed, not only what was answered."""
        try:
            request_log.record(request_id, frame, np.full(len(frame), np.nan), (time.perf_counter() - began) * 1000, status)
        except Exception:
            log.exception("request %s: not logged", request_id)

    async def feedback(request: Request) -> Response:
        try:
            if not authorized(request):
                raise await unauthorized(request)
            body = await read_capped(request, max_body, body_timeout)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise RequestError(400, "malformed JSON") from None
            items = payload if isinstance(payload, list) else [payload]
            if not items or not all(_feedback_item(i) for i in items):
                message = (
                    "feedback is {'request_id': 'id', 'label': a number, string or boolean, 'row': 0 (optional, the row "
                    "of that request)} or a list of them"
                )
                raise RequestError(422, message)
        except RequestError as error:
            return answer(error)
        except ClientGone:
            return Response(status_code=400)
        request_log.record_feedback(items)
        return _json({"accepted": len(items)})

    async def ping(_request: Request) -> Response:
        return Response("\n", media_type="application/json")

    async def health(_request: Request) -> Response:
        return _json({"status": "healthy", "model": model.uri, "name": model.name, "uptime_s": round(time.time() - started, 1)})

    async def version(_request: Request) -> Response:
        import mlflow

        from mlops_magics.version import __version__

        return _json(
            {"model": model.uri, "model_version": model.version, "mlflow": mlflow.__version__, "mlops_magics": __version__}
        )

    async def metrics(request: Request) -> Response:
        if not authorized(request):
            return answer(RequestError(401, "missing or wrong bearer token"))
        return Response(counts.render(), media_type="text/plain; version=0.0.4")

    async def docs(_request: Request) -> Response:
        spec = openapi(model)
        columns = "".join(f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(c.kind)}</td></tr>" for c in model.columns or [])
        example = {"dataframe_records": [{c.name: 0 for c in model.columns or []}]}
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(model.name)}</title></head>"
            f"<body style='font-family:system-ui;max-width:900px;margin:24px auto'><h1>{html.escape(model.name)}</h1>"
            f"<p>Model <code>{html.escape(model.uri)}</code>. POST <code>/invocations</code> with one of "
            "<code>dataframe_split</code>, <code>dataframe_records</code>, <code>instances</code>, <code>inputs</code> "
            "(JSON) or <code>text/csv</code>.</p>"
            f"<h2>Input columns</h2><table>{columns or '<tr><td>(no signature)</td></tr>'}</table>"
            f"<h2>Example</h2><pre>curl -X POST -H 'Content-Type: application/json' "
            f"-d '{html.escape(orjson.dumps(example).decode())}' http://HOST:PORT/invocations</pre>"
            f"<h2>OpenAPI</h2><pre>{html.escape(orjson.dumps(spec, option=orjson.OPT_INDENT_2).decode())}</pre></body></html>"
        )
        return HTMLResponse(page)

    async def openapi_json(_request: Request) -> Response:
        return _json(openapi(model))

    routes = [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        batcher.close()
        request_log.close()  # the last rows reach their segment before the worker exits

    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error, Exception: _failed})


async def _http_error(request: Request, exc: Exception) -> Response:
    """The framework's own refusals (no such route, wrong method) in the one JSON error shape."""
    assert isinstance(exc, HTTPException)
    message = {404: f"no route {request.url.path}; see /docs", 405: f"{request.method} is not allowed here"}
    return _json(
        {"error_code": "not_found" if exc.status_code == 404 else "error", "message": message.get(exc.status_code, exc.detail)},
        exc.status_code,
        dict(exc.headers or {}),
    )


async def _failed(_request: Request, exc: Exception) -> Response:
    return _json({"error_code": "error", "message": f"the scoring server failed ({type(exc).__name__})"}, 500)
