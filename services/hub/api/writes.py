"""Writing through the intake: open a referral, change its RAG, assign it, decide, review, record consent.

Each is published to Kafka and answered once published (202, or 201 for a referral with its enquiries);
the case view shows it once the hub's consumer has read it back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError

from jigsaw.wire.framing import now_micros
from services.hub import query
from services.hub.api.deps import Db, Hub, IntakeDep
from services.hub.api.models import (
    AssignIn,
    ConsentIn,
    DecisionIn,
    Opened,
    Published,
    RagIn,
    ReferralIn,
    ReviewIn,
)
from services.hub.intake import SubjectIn

router = APIRouter()


def _known_agencies(requested: Sequence[str] | None, known: Collection[str]) -> None:
    """Refuse, as the body's own validation would, an agency type the deployment's roster does not have."""
    names = [repr(a) for a in sorted(known)] or ["none"]
    listed = " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]
    errors = [
        {
            "type": "literal_error",
            "loc": ("body", "agencies", i),
            "msg": f"Input should be {listed}",
            "input": a,
        }
        for i, a in enumerate(requested or ())
        if a not in known
    ]
    if errors:
        raise RequestValidationError(errors)


@router.post("/referrals", status_code=201, response_model=Opened)
async def open_referral(body: ReferralIn, intake: IntakeDep) -> Opened:
    _known_agencies(body.agencies, intake.agencies)
    rid, sent = await intake.open_referral(
        subjects=[SubjectIn(**s.model_dump()) for s in body.subjects],
        concerns=body.concerns,
        source_type=body.source_type,
        rag=body.rag,
        summary=body.summary,
        referrer=body.referrer.model_dump() if body.referrer else None,
        agencies=body.agencies,
        referral_id=body.referral_id,
    )
    return Opened(referral_id=rid, enquiries=sent)


@router.post("/cases/{referral_id}/rag", status_code=202, response_model=Published)
async def change_rag(referral_id: str, body: RagIn, db: Db, intake: IntakeDep) -> Published:
    was = query.current_rag(db, referral_id)
    return Published(msg_id=await intake.change_rag(referral_id, was, body.rag, body.reason, body.decided_by))


@router.post("/cases/{referral_id}/assignments", status_code=202, response_model=Published)
async def assign(referral_id: str, body: AssignIn, intake: IntakeDep) -> Published:
    return Published(msg_id=await intake.assign(referral_id, body.subscribers, body.assigned_by))


@router.post("/cases/{referral_id}/decision", status_code=202, response_model=Published)
async def decide(referral_id: str, body: DecisionIn, intake: IntakeDep) -> Published:
    feedback = None
    if body.referrer_feedback is not None:
        given = body.referrer_feedback.given
        feedback = {**body.referrer_feedback.model_dump(), "given_at": now_micros() if given else None}
    msg = await intake.decide(referral_id, body.outcome, body.reason, body.decided_by, feedback)
    return Published(msg_id=msg)


@router.post("/cases/{referral_id}/reviews", status_code=202, response_model=Published)
async def review(referral_id: str, body: ReviewIn, hub: Hub, intake: IntakeDep) -> Published:
    msg = await intake.approve_review(
        referral_id,
        body.source_msg_id,
        hub.subscriber,
        body.category,
        body.subject_ref,
        body.approved,
        body.reason,
        body.decided_by,
    )
    return Published(msg_id=msg)


@router.post("/cases/{referral_id}/consent", status_code=202, response_model=Published)
async def consent(referral_id: str, body: ConsentIn, intake: IntakeDep) -> Published:
    d = body.model_dump()
    return Published(msg_id=await intake.consent(referral_id, d.pop("kind"), d.pop("scope"), **d))
