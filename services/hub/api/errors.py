"""Every error the API returns is RFC 9457 ``application/problem+json``, whatever raised it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from jigsaw.errors import JigsawError


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


_PROBLEM = {"application/problem+json": {"schema": ProblemDetails.model_json_schema()}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": _PROBLEM}
    for code, text in (
        (400, "Bad request"),
        (401, "No valid bearer token"),
        (403, "Another subscriber's token"),
        (404, "No such case for this subscriber"),
        (422, "Invalid request"),
        (503, "Kafka or intake unavailable"),
    )
}


def problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    title = "request refused" if exc.status_code < 500 else "unavailable"
    return problem(exc.status_code, title, str(exc.detail), exc.headers)


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()[:10])
    return problem(422, "invalid request", where)


async def _jigsaw(_: Request, exc: JigsawError) -> JSONResponse:
    # A retriable error is Kafka or the intake being away for now; any other is the request's fault.
    return problem(503 if exc.retriable else 400, type(exc).__name__, str(exc))


def install(app: FastAPI) -> None:
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(JigsawError)(_jigsaw)
