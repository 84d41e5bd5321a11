"""The one place where errors become HTTP: RFC 9457 problem details with a stable `code`."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paydesk.core.errors import DomainError
from paydesk.web.headers import secure

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://paydesk.dev/problems/"

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    429: "too_many_requests",
}


def problem(status: int, code: str, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code.replace("_", "-"), "title": title, "status": status, "detail": detail,
        "code": code, "instance": instance, **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. `code` is stable: branch on it, not on `title` or `detail`.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["invalid_request", "insufficient_funds", "not_authenticated"]},
        "instance": {"type": "string", "description": "the path asked for"},
        "errors": {"type": "array", "description": "with `invalid_request`: what is wrong with which field",
                   "items": {"type": "object", "properties": {"field": {"type": "string"},
                                                              "message": {"type": "string"},
                                                              "type": {"type": "string"}}}},
    },
    "additionalProperties": True,
}


def document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what errors look like: every operation's 422 and its other errors
    (`default`) are problem+json (PROBLEM_SCHEMA), not FastAPI's own validation body, which no route sends."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "The request is not valid (`invalid_request` lists the "
                                                       "fields; a rule of the operation may answer 422 too)",
                                        "content": content}
                responses["default"] = {"description": "An error, with a stable `code`", "content": content}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.title, exc.detail, request.url.path, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", ""),
             "type": e.get("type", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] or "body" for e in errors)
        return problem(422, "invalid_request", "The request is not valid", f"Check these fields: {fields}",
                       request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        title = code.replace("_", " ").capitalize()
        return problem(exc.status_code, code, title, str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
        response = problem(500, "internal_error", "Something went wrong on our side",
                           "The error was logged. Check what the request may have done before you try it again.",
                           request.url.path)
        secure(response.headers)  # (sent from outside the middleware that adds them to every other response)
        return response
