"""What the API's new bodies mean and refuse: the referrer's type, unborn subjects, per-person consent
with its ground, subjects added with the case's own ground, markers about the case's own subjects."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from jigsaw.wire.framing import now_micros
from services.hub import store as hub_store
from services.hub.api import Broadcast, create_app
from services.hub.api.models import ConsentIn, ReferralIn
from services.hub.config import SCOPES, ApiToken, token_hash
from tests.unit.hub.kit import open_store
from tests.unit.hub.test_api_authz import RecordingIntake

RID = "R-" + "a" * 32
MASH = {"Authorization": "Bearer t"}
CHILD = {"subject_ref": "S1", "role": "CHILD", "given_names": "A", "family_name": "B"}
MOTHER = {"subject_ref": "S2", "role": "PARENT", "given_names": "C", "family_name": "B"}
UNBORN = {"subject_ref": "S3", "role": "CHILD", "unborn": True, "expected_date_of_delivery": "2027-02-01",
          "mother_subject_ref": "S2"}  # fmt: skip
REFERRAL: dict[str, Any] = {
    "subjects": [CHILD, MOTHER, UNBORN],
    "concerns": ["DOMESTIC_ABUSE", "FGM"],
    "source_type": "HEALTH_VISITOR",
    "summary": "s",
}


def _referral(**changes: Any) -> ReferralIn:
    return ReferralIn.model_validate({**REFERRAL, **changes})


def test_an_unborn_child_needs_its_due_date_and_mother_and_has_no_name_or_nhs_number() -> None:
    """Unborn subjects: expected date of delivery, no name or NHS number, matched through the mother."""
    assert _referral().subjects[2].unborn
    for bad in (
        {k: v for k, v in UNBORN.items() if k != "expected_date_of_delivery"},
        {**UNBORN, "nhs": "9434765919"},
        {**UNBORN, "mother_subject_ref": "S9"},
        {**UNBORN, "role": "PARENT"},
        {**CHILD, "expected_date_of_delivery": "2027-02-01"},
        {k: v for k, v in CHILD.items() if k != "family_name"},
    ):
        with pytest.raises(ValidationError):
            _referral(subjects=[CHILD, MOTHER, bad])


def test_a_professional_cannot_refer_anonymously_and_a_public_referrer_is_protected_by_default() -> None:
    """Professionals cannot refer anonymously; a member of the public's identity is protected
    (DOMAIN.md, "Professional and public referrers")."""
    assert _referral().kind_of_referrer() == "PROFESSIONAL"
    assert _referral(source_type="PUBLIC").kind_of_referrer() == "PUBLIC"
    assert _referral(source_type="OTHER").kind_of_referrer() == "PUBLIC", "unclear is protected"
    public = {"name": "N", "relationship_to_child": "neighbour", "is_professional": False}
    assert _referral(source_type="OTHER", referrer=public).kind_of_referrer() == "PUBLIC"
    for bad in (
        {"referrer_type": "PROFESSIONAL", "source_type": "ANONYMOUS"},
        {"referrer_type": "PUBLIC", "source_type": "POLICE"},
        {"referrer_type": "PROFESSIONAL", "source_type": "OTHER", "referrer": public},
    ):
        with pytest.raises(ValidationError):
            _referral(**bad)


def test_sharing_without_consent_names_its_ground_and_a_family_not_told_says_why() -> None:
    """Each share without consent records which ground of DPA 2018 Sch 1 para 18(2) applies, whether
    the family was told, and if not why not (DOMAIN.md, "Without consent"); a Gillick-competent young
    person decides for themselves; categories and services narrow a data-sharing permission only."""
    ok = {"kind": "SAFEGUARDING_OVERRIDE", "ground": "WOULD_PREJUDICE_PROTECTION"}
    assert ConsentIn.model_validate(ok).ground == "WOULD_PREJUDICE_PROTECTION"
    for bad in (
        {"kind": "SAFEGUARDING_OVERRIDE"},
        {"kind": "NOT_SOUGHT_RISK_OF_HARM"},
        {"kind": "CONSENT_GIVEN", "ground": "CONSENT_CANNOT_BE_GIVEN"},
        {**ok, "family_informed": False},
        {**ok, "family_informed": True, "not_informed_reason": "UNJUSTIFIED_DELAY"},
        {"kind": "CONSENT_GIVEN", "categories": ["health_summary"]},
        {"kind": "CONSENT_GIVEN", "subject_ref": "S1", "party": "PARENT_WITH_PR", "gillick_competent": True},
        {"kind": "CONSENT_GIVEN", "party": "YOUNG_PERSON"},
    ):
        with pytest.raises(ValidationError):
            ConsentIn.model_validate(bad)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, RecordingIntake, sqlite3.Connection]]:
    s = open_store(tmp_path / "hub.sqlite")
    with s.transaction() as tx:
        meta = {"source_type": "SCHOOL", "concerns": ["NEGLECT"], "rag": "RED",
                "subject_refs": [{"subject_ref": "S1", "role": "CHILD"}]}  # fmt: skip
        hub_store.put_referral(tx, RID, meta, now_micros())
        consent = {"consent_id": "C-1", "kind": "NOT_SOUGHT_RISK_OF_HARM", "scope": "DATA_SHARING",
                   "ground": "WOULD_PREJUDICE_PROTECTION", "family_informed": False,
                   "not_informed_reason": "INCREASED_RISK_TO_CHILD", "recorded_at": now_micros()}  # fmt: skip
        hub_store.put_consent(tx, RID, consent, {})
        hub_store.touch_case(tx, RID)
    s.close()
    db = sqlite3.connect(tmp_path / "hub.sqlite", check_same_thread=False)
    intake = RecordingIntake()
    tokens = {
        "mash": ApiToken(subscriber="csc-mash", sha256=token_hash("t"), scopes=frozenset(SCOPES), name="Jo")
    }
    app = create_app(
        subscriber="csc-mash",
        tokens=tokens,
        db=db,
        intake=intake,  # type: ignore[arg-type]
        broadcast=Broadcast(),
        subscribers=["csc-mash", "partner-hub"],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hub") as client:
        yield client, intake, db
    db.close()


async def test_a_referral_posts_its_facts_and_subjects_to_the_intake(api: Any) -> None:
    client, intake, _ = api
    body = {**REFERRAL, "immediate_risk": True, "parents_aware": False, "child_voice": "scared",
            "referrer_anonymity_from_family": True}  # fmt: skip
    assert (await client.post("/referrals", json=body, headers=MASH)).status_code == 201
    ((_, args),) = intake.calls
    kwargs = dict(args)
    facts = kwargs["facts"]
    assert (facts.referrer_type, facts.immediate_risk, facts.parents_aware) == ("PROFESSIONAL", True, False)
    assert facts.child_voice == "scared"
    assert facts.referrer_anonymity_from_family
    unborn = kwargs["subjects"][2]
    assert (unborn.unborn, unborn.mother_subject_ref, unborn.given_names) == (True, "S2", None)


async def test_a_subject_added_is_asked_about_under_the_cases_stage_and_ground(api: Any) -> None:
    """An enquiry carries the case's own ground and whether the family was told (issue #15)."""
    client, intake, _ = api
    body = {"subject": {**MOTHER, "subject_ref": "S4"}, "reason": "mother joins", "agencies": ["police"]}
    r = await client.post(f"/cases/{RID}/subjects", json=body, headers=MASH)
    assert r.status_code == 202, r.text
    ((name, args),) = intake.calls
    kwargs = dict(args[4:])
    assert name == "add_subject"
    assert args[0] == RID
    assert args[3] == "Jo"
    assert (kwargs["purpose"], kwargs["rag"], kwargs["agencies"]) == ("TRIAGE", "RED", ["police"])
    ground = kwargs["ground"]
    assert (ground.ground, ground.family_informed) == ("WOULD_PREJUDICE_PROTECTION", False)
    assert ground.not_informed_reason == "INCREASED_RISK_TO_CHILD"


async def test_a_write_about_a_person_the_case_does_not_have_is_refused(api: Any) -> None:
    client, intake, _ = api
    marker = {"subject_ref": "S7", "reason": "refuge"}
    assert (
        await client.post(f"/cases/{RID}/confidential-address", json=marker, headers=MASH)
    ).status_code == 422
    consent = {"kind": "CONSENT_GIVEN", "subject_ref": "S7", "party": "ADULT_SUBJECT"}
    assert (await client.post(f"/cases/{RID}/consent", json=consent, headers=MASH)).status_code == 422
    again = {"subject": CHILD, "reason": "twice"}
    assert (await client.post(f"/cases/{RID}/subjects", json=again, headers=MASH)).status_code == 409
    narrowed = {"kind": "CONSENT_GIVEN", "scope": "DATA_SHARING", "services": ["ferries"]}
    assert (await client.post(f"/cases/{RID}/consent", json=narrowed, headers=MASH)).status_code == 422
    unknown = {"kind": "CONSENT_GIVEN", "scope": "DATA_SHARING", "categories": ["horoscope"]}
    assert (await client.post(f"/cases/{RID}/consent", json=unknown, headers=MASH)).status_code == 422
    assert intake.calls == []


async def test_per_person_consent_and_referrer_feedback_reach_the_intake(api: Any) -> None:
    client, intake, _ = api
    consent = {
        "kind": "CONSENT_REFUSED",
        "scope": "EARLY_HELP_SERVICE",
        "subject_ref": "S1",
        "party": "YOUNG_PERSON",
        "gillick_competent": True,
        "ground": "CONSENT_CANNOT_BE_GIVEN",
    }
    assert (await client.post(f"/cases/{RID}/consent", json=consent, headers=MASH)).status_code == 202
    feedback = {"given": True, "method": "EMAIL"}
    assert (
        await client.post(f"/cases/{RID}/referrer-feedback", json=feedback, headers=MASH)
    ).status_code == 202
    (_, consent_args), (_, feedback_args) = intake.calls
    sent = dict(consent_args[3:])
    assert (sent["subject_ref"], sent["party"], sent["gillick_competent"]) == ("S1", "YOUNG_PERSON", True)
    assert sent["decided_by"] == "Jo"
    assert feedback_args[1]["given"] is True
    assert feedback_args[1]["method"] == "EMAIL"
