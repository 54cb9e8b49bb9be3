"""Every error the API returns is RFC 9457 ``application/problem+json``, whatever raised it, and each is
counted by route template and status; so is every request, refused or not (``Counted``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        (401, "No valid bearer token, or a malformed Authorization header"),
        (403, "Another subscriber's token, a missing scope, or not the front door / not assigned"),
        (404, "No such referral or case for this subscriber"),
        (409, "The referral's state forbids it (it exists already; nothing is held for that review)"),
        (413, "The request body is over the size limit"),
        (422, "Invalid request"),
        (429, "Too many live streams for this token"),
        (503, "Kafka or intake unavailable"),
    )
}


class Templates:
    """The API's route templates, to name a request by the one it is for (or "other"), so a metric's labels
    stay as few as the routes whatever paths are requested; also before routing, as for a 413."""

    def __init__(self, templates: Sequence[str]) -> None:
        self._compiled = [(compile_path(t)[0], t) for t in templates]

    def __call__(self, path: str) -> str:
        return next((t for regex, t in self._compiled if regex.match(path)), "other")


def route_of(app: Any, scope: Scope) -> str:
    templates: Templates = app.state.templates
    return templates(scope.get("path", ""))


def count(app: Any, scope: Scope, status: int) -> None:
    metrics = app.state.hub.metrics
    if metrics is not None:
        metrics.refused(route_of(app, scope), status)


class Counted:
    """Counts every request by route template and status, once its response starts (a live stream's
    when it opens); one that fails before any response as the 500 the server then sends. Outermost of
    the app's own middleware, so a body refused before routing (413) is counted too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = scope["app"].state.hub.metrics if scope["type"] == "http" else None
        if metrics is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def counting(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                metrics.request(route_of(scope["app"], scope), int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        except BaseException:
            if not started:
                metrics.request(route_of(scope["app"], scope), 500)
            raise


def problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    count(request.app, request.scope, exc.status_code)
    title = "request refused" if exc.status_code < 500 else "unavailable"
    return problem(exc.status_code, title, str(exc.detail), exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    count(request.app, request.scope, 422)
    where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()[:10])
    return problem(422, "invalid request", where)


async def _jigsaw(request: Request, exc: JigsawError) -> JSONResponse:
    # A retriable error is Kafka or the intake being away for now; any other is the request's fault.
    status = 503 if exc.retriable else 400
    count(request.app, request.scope, status)
    return problem(status, type(exc).__name__, str(exc))


def install(app: FastAPI) -> None:
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(JigsawError)(_jigsaw)
