"""``api/openapi.yaml``, written from the route table and the models it names (``make api``).

The file is committed: the panel's TypeScript types are generated from it (``jlpm build:api``), the REST
harness fuzzes every operation in it, and a test fails when it differs from what this module writes now.

    python -m mlops_magics.api.openapi api/openapi.yaml
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from mlops_magics.api.routes import PUBLIC_OPERATIONS, Auth, Operation
from mlops_magics.api.system import Error
from mlops_magics.version import __version__

PREFIX = "/mlops/api"
METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE")  # the order a 405's Allow header lists them in
REF = "#/components/schemas/{model}"
DESCRIPTION = """\
The REST face of mlops-magics, served by its jupyter-server extension under the server's base URL. Written from
mlops_magics/api/routes.py by `make api`; do not edit by hand. Every route requires Jupyter's authentication
(token or cookie + XSRF); every error answers with the same JSON shape `Error`, including unknown paths under
/mlops/api/ (404) and methods a path does not accept (405, with an `Allow` header). Names and ids in paths are
checked against their patterns (400 otherwise); bodies are checked strictly: a boolean is not an integer, a string
is not a number, NaN and infinities are refused, unknown fields are refused; the message names the field.
"""
TOKEN = "`token <jupyter server token>`"
JOB_TOKEN = "a job's trigger token (`mlops job token NAME`): opens POST /mlops/api/jobs/{name}/trigger and nothing else"
ERROR_TEXT = {400: "A name, an id or a body that is not accepted", 401: "Missing or wrong job trigger token",
              403: "Outside what this route may reach", 404: "Nothing by that name", 409: "Not now: "
              "the resource's state does not allow it", 503: "The controller could not be started or reached"}  # fmt: skip


class _Untitled(GenerateJsonSchema):
    """Field titles ("Scheduler Address") say nothing the field's name does not: left out."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _model(kind: Any) -> type[BaseModel] | None:
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _schema(kind: Any) -> dict[str, Any]:
    """The schema of a body or an answer: a model by reference, a list of models, or text."""
    if typing.get_origin(kind) is list:
        return {"type": "array", "items": _schema(typing.get_args(kind)[0])}
    model = _model(kind)
    if model is not None:
        return {"$ref": REF.format(model=model.__name__)}
    if kind is str:
        return {"type": "string"}
    raise TypeError(f"no schema for {kind!r}")


def _models(kind: Any) -> list[type[BaseModel]]:
    if typing.get_origin(kind) is list:
        return _models(typing.get_args(kind)[0])
    model = _model(kind)
    return [model] if model is not None else []


def _operation(op: Operation) -> dict[str, Any]:
    item: dict[str, Any] = {"summary": op.summary, "operationId": op.operation_id}
    if op.auth is Auth.JOB_TOKEN:
        item["security"] = [{"jobToken": []}]
    if op.query:
        item["parameters"] = [
            {"name": q.name, "in": "query", "required": False, "schema": {**q.schema, "default": q.default}} for q in op.query
        ]
    if op.body is not None:
        item["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema(op.body)}}}
    answer: dict[str, Any] = {"description": op.summary, "content": {op.media_type: {"schema": _schema(op.response)}}}
    if op.links:
        ids = {other.name: other.operation_id for other in PUBLIC_OPERATIONS}
        answer["links"] = {
            ids[link.operation]: {"operationId": ids[link.operation], "parameters": {link.param: link.source}}
            for link in op.links
        }
    refused = {"401": {"$ref": "#/components/responses/Error401"}} if op.auth is Auth.JOB_TOKEN else {}
    refused = refused or {"403": {"$ref": "#/components/responses/Forbidden"}}
    responses: dict[str, Any] = {"200": answer, **refused}
    for status in sorted({400, *op.errors} if op.params or op.body or op.query else set(op.errors)):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    item["responses"] = dict(sorted(responses.items()))
    return item


def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in sorted(PUBLIC_OPERATIONS, key=lambda op: (op.path, METHODS.index(op.method))):
        path = paths.setdefault(PREFIX + op.path, {})
        if op.params and "parameters" not in path:
            path["parameters"] = [
                {"name": p.name, "in": "path", "required": True, "description": p.description,
                 "schema": {"type": "string", "pattern": f"^{p.pattern.pattern}$"}}
                for p in op.params
            ]  # fmt: skip
        path[op.method.lower()] = _operation(op)
    models = {Error} | {m for op in PUBLIC_OPERATIONS for kind in (op.body, op.response) for m in _models(kind)}
    _, schemas = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF)
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
    responses = {"Forbidden": {"description": "Missing or wrong authentication", **error}}
    responses |= {f"Error{status}": {"description": text, **error} for status, text in ERROR_TEXT.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "mlops-magics REST API", "version": __version__, "description": " ".join(DESCRIPTION.split())},
        "servers": [{"url": "/"}],
        "security": [{"jupyterToken": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "jupyterToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <jupyter server token>`",
                },
                "jobToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a job's trigger token (`mlops job token NAME`), sent as `Bearer <token>`",
                },
            },
            "responses": responses,
            "schemas": dict(sorted(schemas.get("$defs", {}).items())),
        },
    }


def text() -> str:
    header = "# Written by `make api` (python -m mlops_magics.api.openapi) from mlops_magics/api/routes.py: do not edit.\n"
    return header + yaml.safe_dump(spec(), sort_keys=False, width=118, allow_unicode=True)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m mlops_magics.api.openapi PATH  (writes the spec there; - for stdout)")
    if argv[0] == "-":
        sys.stdout.write(text())
    else:
        Path(argv[0]).write_text(text())


if __name__ == "__main__":
    main(sys.argv[1:])
