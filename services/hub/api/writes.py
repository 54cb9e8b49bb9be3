"""Writing through the intake: open a referral, change its RAG, assign it, decide, convene a strategy
discussion, set or lift a confidential-address marker, add a subject, record referrer feedback, review,
record consent.

Each is checked first against the token's scope (see api.deps) and then against the referral's state: it
must exist (404), a new one must not (409), and a review must be of something held here for one. The actor
recorded is the token's named person or system, never a name in the body. Each is then published to Kafka
and answered once published (202, or 201 for a referral with its enquiries); the case view shows it once
the hub's consumer has read it back. A strategy discussion, and an unrated contact's first rating, also
send that stage's enquiries (services.hub.restage), answered with them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError

from jigsaw.ids import new_referral_id
from jigsaw.wire.categories import CATEGORIES
from jigsaw.wire.framing import now_micros
from services.hub import query, restage
from services.hub.api.deps import Consenter, Db, Hub, HubState, IntakeDep, Opener, Reviewer, Triager
from services.hub.api.models import (
    Added,
    AssignIn,
    ConsentIn,
    DecisionIn,
    FeedbackIn,
    MarkerIn,
    Opened,
    Published,
    RagIn,
    ReferralIn,
    ReferralPath,
    ReferralSubject,
    ReviewIn,
    StrategyIn,
    SubjectAddedIn,
)
from services.hub.intake import CaseGround, Intake, ReferralFacts
from services.hub.stage import RATED, purpose
from services.hub.subjects import SubjectIn

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


def subject_in(s: ReferralSubject) -> SubjectIn:
    fields = s.model_dump()
    fields["address_lines"] = tuple(fields["address_lines"])
    return SubjectIn(**fields)


def facts_of(body: ReferralIn) -> ReferralFacts:
    return ReferralFacts(
        referrer_type=body.kind_of_referrer(),
        referrer_anonymity_from_family=body.referrer_anonymity_from_family,
        immediate_risk=body.immediate_risk,
        parents_aware=body.parents_aware,
        child_voice=body.child_voice,
        incident_date=body.incident_date,
        actions_taken=body.actions_taken,
    )


def _subject_of_case(hub: HubState, referral_id: str, field: str, subject_ref: str | None) -> None:
    """Refuse, as invalid, a subject the case does not have (when this hub knows the case's subjects)."""
    known = query.case_subjects(hub.db, referral_id)
    if subject_ref is not None and known is not None and subject_ref not in known:
        listed = ", ".join(sorted(known)) or "none"
        error = {
            "type": "value_error",
            "loc": ("body", field),
            "msg": f"not a subject of the case ({listed})",
        }
        raise RequestValidationError([{**error, "input": subject_ref}])


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
            subjects=[subject_in(s) for s in body.subjects],
            concerns=body.concerns,
            source_type=body.source_type,
            rag=body.rag,
            summary=body.summary,
            referrer=body.referrer.model_dump() if body.referrer else None,
            agencies=body.agencies,
            requested_by=who.actor,
            referral_id=rid,
            facts=facts_of(body),
        )
    except BaseException:
        hub.opened.pop(rid, None)
        raise
    hub.remember(rid)
    return Opened(referral_id=rid, enquiries=sent)


async def _ask_for_stage(
    hub: HubState, intake: Intake, referral_id: str, rag: str | None, by: str, strategy: bool = False
) -> list[dict[str, Any]]:
    """Ask every agency again once the case has moved on to a strategy discussion or its first rating,
    for what it publishes beyond screening (services.hub.restage); nothing once an outcome is recorded."""
    _, outcome, convened = query.case_state(hub.db, referral_id)
    now = purpose(rag, outcome, strategy or convened)
    if now != ("STRATEGY_DISCUSSION" if strategy else "TRIAGE"):
        return []
    return await intake.ask_for_stage(
        referral_id,
        restage.case_people(hub.db, referral_id),
        rag=rag or "UNKNOWN",
        purpose=now,
        immediate_risk=restage.immediate_risk(hub.db, referral_id),
        ground=CaseGround(*query.case_ground(hub.db, referral_id)),
        by=by,
        recorded=restage.recorded_enquiries(hub.db, referral_id),
    )


@router.post("/cases/{referral_id}/rag", status_code=202, response_model=Added)
async def change_rag(
    referral_id: ReferralPath, body: RagIn, hub: Hub, who: Triager, db: Db, intake: IntakeDep
) -> Added:
    """A RAG change; an unrated contact's first rating also sends its triage enquiries."""
    _exists(hub, referral_id)
    was = query.current_rag(db, referral_id) or query.case_state(db, referral_id)[0]
    msg = await intake.change_rag(referral_id, was, body.rag, body.reason, who.actor)
    sent = []
    if was not in RATED and body.rag in RATED:
        sent = await _ask_for_stage(hub, intake, referral_id, body.rag, who.actor)
    return Added(msg_id=msg, enquiries=sent)


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


@router.post("/cases/{referral_id}/strategy-discussion", status_code=202, response_model=Added)
async def strategy_discussion(
    referral_id: ReferralPath, body: StrategyIn, hub: Hub, who: Triager, intake: IntakeDep
) -> Added:
    """A strategy discussion convened, and its enquiries: every agency asked for the s47 picture."""
    _exists(hub, referral_id)
    msg = await intake.strategy_discussion(referral_id, body.reason, who.actor)
    rag = query.current_rag(hub.db, referral_id) or query.case_state(hub.db, referral_id)[0]
    sent = await _ask_for_stage(hub, intake, referral_id, rag, who.actor, strategy=True)
    return Added(msg_id=msg, enquiries=sent)


@router.post("/cases/{referral_id}/confidential-address", status_code=202, response_model=Published)
async def confidential_address(
    referral_id: ReferralPath, body: MarkerIn, hub: Hub, who: Triager, intake: IntakeDep
) -> Published:
    _exists(hub, referral_id)
    _subject_of_case(hub, referral_id, "subject_ref", body.subject_ref)
    msg = await intake.confidential_address(
        referral_id, body.subject_ref, body.marker_lifted, body.reason, who.actor
    )
    return Published(msg_id=msg)


@router.post("/cases/{referral_id}/subjects", status_code=202, response_model=Added)
async def add_subject(
    referral_id: ReferralPath, body: SubjectAddedIn, hub: Hub, who: Triager, intake: IntakeDep
) -> Added:
    _on_roster("agencies", body.agencies, intake.agencies)
    _exists(hub, referral_id)
    known = query.case_subjects(hub.db, referral_id)
    if known is not None and body.subject.subject_ref in known:
        raise HTTPException(409, f"{body.subject.subject_ref} is a subject of {referral_id} already")
    _subject_of_case(hub, referral_id, "subject.mother_subject_ref", body.subject.mother_subject_ref)
    rag, outcome, strategy = query.case_state(hub.db, referral_id)
    msg, sent = await intake.add_subject(
        referral_id,
        subject_in(body.subject),
        body.reason,
        who.actor,
        agencies=body.agencies or sorted(intake.agencies),
        rag=rag or "UNKNOWN",
        purpose=purpose(rag, outcome, strategy),
        ground=CaseGround(*query.case_ground(hub.db, referral_id)),
    )
    return Added(msg_id=msg, enquiries=sent)


@router.post("/cases/{referral_id}/referrer-feedback", status_code=202, response_model=Published)
async def referrer_feedback(
    referral_id: ReferralPath, body: FeedbackIn, hub: Hub, who: Triager, intake: IntakeDep
) -> Published:
    _exists(hub, referral_id)
    feedback = {"given": body.given, "given_at": now_micros() if body.given else None, "method": body.method}
    reason = body.reason or ("referrer told the outcome" if body.given else "referrer not yet told")
    return Published(msg_id=await intake.referrer_feedback(referral_id, feedback, reason, who.actor))


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
    _on_roster("services", body.services, hub.subscribers)
    _on_roster("categories", body.categories, CATEGORIES)
    _exists(hub, referral_id)
    _subject_of_case(hub, referral_id, "subject_ref", body.subject_ref)
    msg = await intake.consent(
        referral_id,
        body.kind,
        body.scope,
        family_informed=body.family_informed,
        not_informed_reason=body.not_informed_reason,
        decided_by=who.actor,
        reason=body.reason,
        subject_ref=body.subject_ref,
        party=body.party or "UNKNOWN",
        gillick_competent=body.gillick_competent,
        categories=body.categories,
        services=body.services,
        ground=body.ground,
        not_informed_note=body.not_informed_note,
    )
    return Published(msg_id=msg)
