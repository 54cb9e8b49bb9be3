"""Writing through the intake: open a referral, change its RAG, assign it, decide, review, record consent.

Each is checked first against the token's scope (see api.deps) and then against the referral's state: it
must exist (404), a new one must not (409), and a review must be of something held here for one. The actor
recorded is the token's named person or system, never a name in the body. Each is then published to Kafka
and answered once published (202, or 201 for a referral with its enquiries); the case view shows it once
the hub's consumer has read it back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError

from jigsaw.ids import new_referral_id
from jigsaw.wire.framing import now_micros
from services.hub import query
from services.hub.api.deps import Consenter, Db, Hub, HubState, IntakeDep, Opener, Reviewer, Triager
from services.hub.api.models import (
    AssignIn,
    ConsentIn,
    DecisionIn,
    Opened,
    Published,
    RagIn,
    ReferralIn,
    ReferralPath,
    ReviewIn,
)
from services.hub.intake import SubjectIn

router = APIRouter()


def _on_roster(field: str, requested: Sequence[str] | None, known: Collection[str]) -> None:
    """Refuse, as the body's own validation would, a name the deployment's roster does not have."""
    names = [repr(a) for a in sorted(known)] or ["none"]
    listed = " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]
    errors = [
        {"type": "literal_error", "loc": ("body", field, i), "msg": f"Input should be {listed}", "input": a}
        for i, a in enumerate(requested or ())
        if a not in known
    ]
    if errors:
        raise RequestValidationError(errors)


def _exists(hub: HubState, referral_id: str) -> None:
    if referral_id not in hub.opened and not query.referral_known(hub.db, referral_id):
        raise HTTPException(404, f"no referral {referral_id}")


@router.post("/referrals", status_code=201, response_model=Opened)
async def open_referral(body: ReferralIn, hub: Hub, who: Opener, intake: IntakeDep) -> Opened:
    _on_roster("agencies", body.agencies, intake.agencies)
    # Reopening an id would rewrite that referral's metadata in every hub: an id is opened once.
    rid = body.referral_id or new_referral_id()
    if rid in hub.opened or query.referral_opened(hub.db, rid):
        raise HTTPException(409, f"referral {rid} exists already")
    hub.remember(rid)  # before the first await, so a concurrent request with the same id sees it
    try:
        rid, sent = await intake.open_referral(
            subjects=[SubjectIn(**s.model_dump()) for s in body.subjects],
            concerns=body.concerns,
            source_type=body.source_type,
            rag=body.rag,
            summary=body.summary,
            referrer=body.referrer.model_dump() if body.referrer else None,
            agencies=body.agencies,
            requested_by=who.actor,
            referral_id=rid,
        )
    except BaseException:
        hub.opened.pop(rid, None)
        raise
    hub.remember(rid)
    return Opened(referral_id=rid, enquiries=sent)


@router.post("/cases/{referral_id}/rag", status_code=202, response_model=Published)
async def change_rag(
    referral_id: ReferralPath, body: RagIn, hub: Hub, who: Triager, db: Db, intake: IntakeDep
) -> Published:
    _exists(hub, referral_id)
    was = query.current_rag(db, referral_id)
    return Published(msg_id=await intake.change_rag(referral_id, was, body.rag, body.reason, who.actor))


@router.post("/cases/{referral_id}/assignments", status_code=202, response_model=Published)
async def assign(
    referral_id: ReferralPath, body: AssignIn, hub: Hub, who: Triager, intake: IntakeDep
) -> Published:
    _on_roster("subscribers", body.subscribers, hub.subscribers)
    _exists(hub, referral_id)
    return Published(msg_id=await intake.assign(referral_id, body.subscribers, who.actor))


@router.post("/cases/{referral_id}/decision", status_code=202, response_model=Published)
async def decide(
    referral_id: ReferralPath, body: DecisionIn, hub: Hub, who: Triager, intake: IntakeDep
) -> Published:
    _exists(hub, referral_id)
    feedback = None
    if body.referrer_feedback is not None:
        given = body.referrer_feedback.given
        feedback = {**body.referrer_feedback.model_dump(), "given_at": now_micros() if given else None}
    msg = await intake.decide(referral_id, body.outcome, body.reason, who.actor, feedback)
    return Published(msg_id=msg)


@router.post("/cases/{referral_id}/reviews", status_code=202, response_model=Published)
async def review(
    referral_id: ReferralPath, body: ReviewIn, hub: Hub, who: Reviewer, intake: IntakeDep
) -> Published:
    _exists(hub, referral_id)
    if not query.has_case(hub.db, referral_id):
        raise HTTPException(
            403, f"{hub.subscriber} is not assigned to {referral_id}: nothing was released to it"
        )
    if not query.held_for_review(hub.db, referral_id, body.source_msg_id, body.category, body.subject_ref):
        raise HTTPException(409, f"nothing of {referral_id} matching that is held here for review")
    msg = await intake.approve_review(
        referral_id,
        body.source_msg_id,
        hub.subscriber,
        body.category,
        body.subject_ref,
        body.approved,
        body.reason,
        who.actor,
    )
    return Published(msg_id=msg)


@router.post("/cases/{referral_id}/consent", status_code=202, response_model=Published)
async def consent(
    referral_id: ReferralPath, body: ConsentIn, hub: Hub, who: Consenter, intake: IntakeDep
) -> Published:
    _exists(hub, referral_id)
    d = body.model_dump()
    d["decided_by"] = who.actor
    return Published(msg_id=await intake.consent(referral_id, d.pop("kind"), d.pop("scope"), **d))
