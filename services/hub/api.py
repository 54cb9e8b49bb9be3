"""The HTTP API for hub systems: list, get and follow cases; open referrals and post decisions.

Every request carries a bearer token from config; a token belongs to one subscriber, and this process
serves one subscriber's views, so a caller never sees another subscriber's. Errors are RFC 9457
``application/problem+json``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jigsaw.errors import JigsawError
from jigsaw.wire.framing import micros, now_micros
from services.hub.intake import Intake, SubjectIn
from services.hub.view import iso, render

Rag = Literal["RED", "AMBER", "GREEN"]
Outcome = Literal[
    "IMMEDIATE_PROTECTION", "STRATEGY_DISCUSSION_S47", "CSC_ASSESSMENT_S17", "EARLY_HELP", "NO_FURTHER_ACTION"
]
_STRICT = ConfigDict(extra="forbid")
_ISO = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)


def _only_text(value: Any) -> Any:
    # Lax pydantic would read a number as a date; in this API a date is written YYYY-MM-DD.
    if not isinstance(value, str | date):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_only_text)]


def _since(text: str) -> int:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"updated_since: {text!r} is not an ISO 8601 date or time") from None
    return micros(when if when.tzinfo else when.replace(tzinfo=UTC))


_Text = Annotated[str, Field(min_length=1, max_length=2000)]
_Name = Annotated[str, Field(min_length=1, max_length=100)]


class Subject(BaseModel):
    model_config = _STRICT
    subject_ref: Annotated[str, Field(pattern=r"^S[0-9]{1,3}$")]
    role: Literal["CHILD", "PARENT", "CARER", "SIBLING", "HOUSEHOLD_MEMBER", "ALLEGED_PERPETRATOR", "OTHER"]
    given_names: _Name
    family_name: _Name
    dob: IsoDate | None = None
    postcode: Annotated[str, Field(max_length=10)] | None = None
    nhs: Annotated[str, Field(pattern=r"^[0-9 ]{10,12}$")] | None = None
    upn: Annotated[str, Field(pattern=r"^[A-Z][0-9]{11}[0-9A-Z]$")] | None = None
    pnc: Annotated[str, Field(pattern=r"^[0-9]{2}/[0-9]{1,7}[A-Z]$")] | None = None


class Referrer(BaseModel):
    model_config = _STRICT
    name: _Name
    relationship_to_child: _Name
    is_professional: StrictBool
    organisation: str | None = None
    phone: str | None = None
    wishes_anonymity: StrictBool = False


class ReferralIn(BaseModel):
    model_config = _STRICT
    subjects: Annotated[list[Subject], Field(min_length=1, max_length=12)]
    concerns: Annotated[
        list[
            Literal[
                "NEGLECT",
                "PHYSICAL_ABUSE",
                "SEXUAL_ABUSE",
                "EMOTIONAL_ABUSE",
                "DOMESTIC_ABUSE",
                "CRIMINAL_EXPLOITATION",
                "SEXUAL_EXPLOITATION",
                "MISSING",
                "SUBSTANCE_MISUSE",
                "PARENTAL_MENTAL_HEALTH",
                "OTHER",
            ]
        ],
        Field(min_length=1),
    ]
    source_type: Literal[
        "POLICE",
        "SCHOOL",
        "HEALTH",
        "GP",
        "PUBLIC",
        "ANONYMOUS",
        "HOUSING",
        "PROBATION",
        "OTHER_PROFESSIONAL",
        "FAMILY_MEMBER",
        "SELF",
    ]
    rag: Rag | Literal["UNKNOWN"] = "UNKNOWN"
    summary: _Text
    referrer: Referrer | None = None
    referral_id: Annotated[str, Field(pattern=r"^R-[0-9a-f]{32}$")] | None = None
    agencies: (
        list[Literal["police", "health", "education", "socialcare", "probation", "youthjustice", "housing"]]
        | None
    ) = None


class RagIn(BaseModel):
    model_config = _STRICT
    rag: Rag
    reason: _Text
    decided_by: _Name


class AssignIn(BaseModel):
    model_config = _STRICT
    subscribers: Annotated[list[_Name], Field(min_length=1)]
    assigned_by: _Name


class Feedback(BaseModel):
    model_config = _STRICT
    given: StrictBool
    method: Literal["PHONE", "EMAIL", "LETTER", "SECURE_PORTAL", "IN_PERSON", "OTHER"] | None = None


class DecisionIn(BaseModel):
    model_config = _STRICT
    outcome: Outcome
    reason: _Text
    decided_by: _Name
    referrer_feedback: Feedback | None = None


class ConsentIn(BaseModel):
    model_config = _STRICT
    kind: Literal[
        "CONSENT_GIVEN",
        "CONSENT_REFUSED",
        "CONSENT_WITHDRAWN",
        "NOT_SOUGHT_RISK_OF_HARM",
        "SAFEGUARDING_OVERRIDE",
    ]
    scope: Literal["DATA_SHARING", "EARLY_HELP_SERVICE"] = "EARLY_HELP_SERVICE"
    family_informed: StrictBool | None = None
    not_informed_reason: str | None = None
    decided_by: str | None = None
    reason: str | None = None


class ReviewIn(BaseModel):
    """A reviewer's decision on an uncertain subject match held for REVIEW (see the case's withheld list)."""

    model_config = _STRICT
    source_msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    category: _Name
    subject_ref: Annotated[str, Field(max_length=8)] = ""
    approved: StrictBool
    reason: _Text
    decided_by: _Name


class Published(BaseModel):
    msg_id: str


class Opened(BaseModel):
    referral_id: str
    enquiries: list[dict[str, Any]]


class CaseSummary(BaseModel):
    referral_id: str
    rag: str | None
    outcome: str | None
    updated_at: str
    breached: bool


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


_PROBLEM = {"application/problem+json": {"schema": Problem.model_json_schema()}}
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


class Broadcast:
    """Fan-out of case updates to live-stream clients; a slow client loses old events, never blocks."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str]] = set()

    def publish(self, referral_id: str) -> None:
        for q in self._queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(referral_id)

    async def follow(self) -> AsyncIterator[str]:
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._queues.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.discard(q)


def create_app(
    *,
    subscriber: str,
    tokens: dict[str, str],
    db: sqlite3.Connection,
    intake: Intake | None,
    broadcast: Broadcast,
) -> FastAPI:
    """``tokens`` maps each bearer token to its subscriber. ``db`` is a read connection to the case store."""
    app = FastAPI(title="Jigsaw hub API", version="1", summary=f"Case views for subscriber {subscriber}")

    def caller(authorization: Annotated[str | None, Header()] = None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        owner = next((s for t, s in tokens.items() if secrets.compare_digest(t, token)), None)
        if scheme.lower() != "bearer" or owner is None:
            raise HTTPException(401, "a valid bearer token is required")
        if owner != subscriber:
            raise HTTPException(403, "this token belongs to another subscriber")
        return owner

    api = APIRouter(dependencies=[Depends(caller)], responses=PROBLEMS)

    def need_intake() -> Intake:
        if intake is None:
            raise HTTPException(503, "intake is not configured on this hub")
        return intake

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = "request refused" if exc.status_code < 500 else "unavailable"
        return problem(exc.status_code, title, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()[:10])
        return problem(422, "invalid request", where)

    @app.exception_handler(JigsawError)
    async def _jigsaw(_: Request, exc: JigsawError) -> JSONResponse:
        status = 503 if exc.retriable else 400
        return problem(status, type(exc).__name__, str(exc))

    def view(referral_id: str) -> dict[str, Any]:
        doc = render(db, referral_id, now_micros())
        if doc is None:
            raise HTTPException(404, f"no case {referral_id} for {subscriber}")
        return doc

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "subscriber": subscriber}

    @api.get("/cases", response_model=list[CaseSummary])
    async def list_cases(
        rag: Rag | None = None,
        outcome: Outcome | None = None,
        breached: bool | None = None,
        updated_since: Annotated[str | None, Query(pattern=_ISO, description="ISO 8601 date or time")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[CaseSummary]:
        sql = "SELECT referral_id, rag, outcome, updated_at FROM cases WHERE 1=1"
        args: list[Any] = []
        for column, value in (("rag", rag), ("outcome", outcome)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if updated_since is not None:
            sql += " AND updated_at >= ?"
            args.append(_since(updated_since))
        now = now_micros()
        out = []
        for rid, r, o, at in db.execute(sql + " ORDER BY updated_at DESC, referral_id", args):
            late = (
                db.execute(
                    "SELECT 1 FROM enquiries e WHERE e.referral_id = ? AND e.deadline < ? AND NOT EXISTS"
                    " (SELECT 1 FROM answers a WHERE a.enquiry_id = e.enquiry_id"
                    " AND a.answered_at <= e.deadline)",
                    (rid, now),
                ).fetchone()
                is not None
            )
            if breached is None or late == breached:
                out.append(CaseSummary(referral_id=rid, rag=r, outcome=o, updated_at=iso(at), breached=late))
            if len(out) >= limit:
                break
        return out

    @api.get("/cases/stream")
    async def stream() -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            yield ": following case updates\n\n"
            async for rid in broadcast.follow():
                yield f"event: case\ndata: {json.dumps({'referral_id': rid})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @api.get("/cases/{referral_id}")
    async def get_case(referral_id: str) -> dict[str, Any]:
        return view(referral_id)

    @api.get("/cases/{referral_id}/timeline")
    async def get_timeline(referral_id: str) -> list[dict[str, Any]]:
        timeline: list[dict[str, Any]] = view(referral_id)["timeline"]
        return timeline

    @api.post("/referrals", status_code=201, response_model=Opened)
    async def open_referral(body: ReferralIn) -> Opened:
        subjects = [SubjectIn(**s.model_dump()) for s in body.subjects]
        referrer = body.referrer.model_dump() if body.referrer else None
        rid, sent = await need_intake().open_referral(
            subjects=subjects,
            concerns=body.concerns,
            source_type=body.source_type,
            rag=body.rag,
            summary=body.summary,
            referrer=referrer,
            agencies=body.agencies,
            referral_id=body.referral_id,
        )
        return Opened(referral_id=rid, enquiries=sent)

    @api.post("/cases/{referral_id}/rag", status_code=202, response_model=Published)
    async def change_rag(referral_id: str, body: RagIn) -> Published:
        row = db.execute("SELECT rag FROM cases WHERE referral_id = ?", (referral_id,)).fetchone()
        msg = await need_intake().change_rag(
            referral_id, row[0] if row else None, body.rag, body.reason, body.decided_by
        )
        return Published(msg_id=msg)

    @api.post("/cases/{referral_id}/assignments", status_code=202, response_model=Published)
    async def assign(referral_id: str, body: AssignIn) -> Published:
        return Published(msg_id=await need_intake().assign(referral_id, body.subscribers, body.assigned_by))

    @api.post("/cases/{referral_id}/decision", status_code=202, response_model=Published)
    async def decide(referral_id: str, body: DecisionIn) -> Published:
        feedback = None
        if body.referrer_feedback is not None:
            feedback = {
                **body.referrer_feedback.model_dump(),
                "given_at": now_micros() if body.referrer_feedback.given else None,
            }
        msg = await need_intake().decide(referral_id, body.outcome, body.reason, body.decided_by, feedback)
        return Published(msg_id=msg)

    @api.post("/cases/{referral_id}/reviews", status_code=202, response_model=Published)
    async def review(referral_id: str, body: ReviewIn) -> Published:
        msg = await need_intake().approve_review(
            referral_id,
            body.source_msg_id,
            subscriber,
            body.category,
            body.subject_ref,
            body.approved,
            body.reason,
            body.decided_by,
        )
        return Published(msg_id=msg)

    @api.post("/cases/{referral_id}/consent", status_code=202, response_model=Published)
    async def consent(referral_id: str, body: ConsentIn) -> Published:
        d = body.model_dump()
        msg = await need_intake().consent(referral_id, d.pop("kind"), d.pop("scope"), **d)
        return Published(msg_id=msg)

    app.include_router(api)
    return app
