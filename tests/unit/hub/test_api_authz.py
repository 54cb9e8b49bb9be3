"""An adversary's suite for the hub API: tokens with scopes, writes checked against the referral's state,
and the API's bounds. Intake is a recording fake at its seam, so "nothing changed" means nothing was
published; the case stores are real SQLite stores."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from jigsaw.bus.store import Store
from jigsaw.wire.framing import now_micros
from services.hub import store as hub_store
from services.hub.api import Broadcast, create_app
from services.hub.config import SCOPES, ApiToken, Scope, token_hash
from services.hub.metrics import HubMetrics

RID = "R-" + "a" * 32  # released to csc-mash, with one section held for review
OTHER = "R-" + "b" * 32  # known to the partner hub by its enquiry only: nothing released to it
NOWHERE = "R-" + "c" * 32
UNSOLICITED = "R-" + "e" * 32  # an agency's report released here before the referral it starts
HELD = "0190aa77-0000-7000-8000-00000000beef"
ROSTER = ["csc-mash", "police-mash", "health-mash", "partner-hub"]
ALL: frozenset[Scope] = frozenset(SCOPES)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


MASH, READER, PARTNER = bearer("mash-token"), bearer("reader-token"), bearer("partner-token")
SUBJECT = {"subject_ref": "S1", "role": "CHILD", "given_names": "A", "family_name": "B"}
REFERRAL: dict[str, Any] = {
    "subjects": [SUBJECT],
    "concerns": ["NEGLECT"],
    "source_type": "SCHOOL",
    "summary": "s",
}
WRITES: dict[str, dict[str, Any]] = {
    "rag": {"rag": "RED", "reason": "r"},
    "assignments": {"subscribers": ["partner-hub"], "assigned_by": "someone else"},
    "decision": {"outcome": "NO_FURTHER_ACTION", "reason": "r", "decided_by": "someone else"},
    "consent": {
        "kind": "SAFEGUARDING_OVERRIDE",
        "ground": "WOULD_PREJUDICE_PROTECTION",
        "decided_by": "someone else",
        "reason": "r",
    },
    "strategy-discussion": {"reason": "s47 grounds"},
    "confidential-address": {"subject_ref": "S1", "reason": "fled to a refuge"},
    "subjects": {
        "subject": {"subject_ref": "S9", "role": "HOUSEHOLD_MEMBER", "given_names": "C", "family_name": "D"},
        "reason": "a new partner",
    },
    "referrer-feedback": {"given": True, "method": "PHONE"},
    "reviews": {"source_msg_id": HELD, "category": "education_attendance", "approved": True, "reason": "r"},
}
# What only the front door may do: the MASH's decision makers open, rate, assign, decide and record.
FRONT_DOOR_WRITES = [p for p in WRITES if p != "reviews"]


class RecordingIntake:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.agencies = {"police": "police.devon", "health": "health.devon", "education": "education.devon"}

    async def _record(self, name: str, *args: Any, **kwargs: Any) -> str:
        self.calls.append((name, args + tuple(kwargs.items())))
        return "0190aa77-0000-7000-8000-000000000000"

    async def open_referral(self, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
        self.calls.append(("open_referral", tuple(kwargs.items())))
        return kwargs["referral_id"], []

    async def change_rag(self, *args: Any) -> str:
        return await self._record("change_rag", *args)

    async def assign(self, *args: Any) -> str:
        return await self._record("assign", *args)

    async def decide(self, *args: Any) -> str:
        return await self._record("decide", *args)

    async def approve_review(self, *args: Any) -> str:
        return await self._record("approve_review", *args)

    async def consent(self, *args: Any, **kwargs: Any) -> str:
        return await self._record("consent", *args, **kwargs)

    async def strategy_discussion(self, *args: Any) -> str:
        return await self._record("strategy_discussion", *args)

    async def confidential_address(self, *args: Any) -> str:
        return await self._record("confidential_address", *args)

    async def referrer_feedback(self, *args: Any) -> str:
        return await self._record("referrer_feedback", *args)

    async def add_subject(self, *args: Any, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
        return await self._record("add_subject", *args, **kwargs), []

    async def ask_for_stage(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        await self._record("ask_for_stage", *args, **kwargs)
        return []


def _store(path: Path, released: bool) -> sqlite3.Connection:
    s = Store(path, hub_store.SCHEMA)
    s.open()
    now = now_micros()
    with s.transaction() as tx:
        enquiry = {"enquiry_id": "E-1", "categories": ["identity"], "purpose": "SCREENING", "rag": "UNKNOWN"}
        hub_store.put_enquiry(tx, OTHER, "police", enquiry, now, now + 1)
        if released:
            meta = {"source_type": "SCHOOL", "concerns": ["NEGLECT"], "rag": "AMBER", "subject_refs": []}
            hub_store.put_referral(tx, RID, meta, now)
            hub_store.put_section(
                tx, RID, HELD, "education", now, "education_attendance", "S1", "REVIEW", None, "REVIEW", "R"
            )
            hub_store.touch_case(tx, RID)
            hub_store.put_section(
                tx,
                UNSOLICITED,
                HELD[:-4] + "cafe",
                "police",
                now,
                "police_incidents",
                "S1",
                "RELEASED",
                {},
                None,
                None,
            )
            hub_store.touch_case(tx, UNSOLICITED)
    s.close()
    return sqlite3.connect(path, check_same_thread=False)


class Hubs:
    def __init__(self, tmp: Path) -> None:
        self.intake = RecordingIntake()
        self.registry = CollectorRegistry()
        tokens = {
            "case-system": ApiToken(
                subscriber="csc-mash", sha256=token_hash("mash-token"), scopes=ALL, name="Jo"
            ),
            "dashboard": ApiToken(subscriber="csc-mash", sha256=token_hash("reader-token")),
            # Configured with every scope, as a careless deployment might: the front door's are still refused.
            "partner": ApiToken(subscriber="partner-hub", sha256=token_hash("partner-token"), scopes=ALL),
        }
        common: dict[str, Any] = {"tokens": tokens, "intake": self.intake, "subscribers": ROSTER}
        self.mash = _client(
            create_app(
                subscriber="csc-mash",
                db=_store(tmp / "csc.sqlite", True),
                broadcast=Broadcast(),
                metrics=HubMetrics(self.registry, "csc-mash"),
                **common,
            )
        )
        self.partner = _client(
            create_app(
                subscriber="partner-hub",
                db=_store(tmp / "partner.sqlite", False),
                broadcast=Broadcast(),
                **common,
            )
        )

    def refusals(self, route: str, status: int) -> float:
        labels = {"subscriber": "csc-mash", "route": route, "status": str(status)}
        return self.registry.get_sample_value("jigsaw_hub_api_refusals_total", labels) or 0.0


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hub")


@pytest.fixture
async def hubs(tmp_path: Path) -> AsyncIterator[Hubs]:
    h = Hubs(tmp_path)
    async with h.mash, h.partner:
        yield h


def _problem(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == status


async def test_the_partner_hubs_token_cannot_act_as_the_mash(hubs: Hubs) -> None:
    for rid in (RID, OTHER):
        for path in FRONT_DOOR_WRITES:
            _problem(await hubs.partner.post(f"/cases/{rid}/{path}", json=WRITES[path], headers=PARTNER), 403)
    _problem(await hubs.partner.post("/referrals", json=REFERRAL, headers=PARTNER), 403)
    # Nor through the MASH's own hub, which serves only csc-mash's tokens.
    _problem(
        await hubs.mash.post(f"/cases/{RID}/assignments", json=WRITES["assignments"], headers=PARTNER), 403
    )
    assert hubs.intake.calls == []


async def test_a_read_only_token_can_read_but_not_write(hubs: Hubs) -> None:
    assert (await hubs.mash.get("/cases", headers=READER)).status_code == 200
    assert (await hubs.mash.get(f"/cases/{RID}", headers=READER)).status_code == 200
    _problem(await hubs.mash.post("/referrals", json=REFERRAL, headers=READER), 403)
    for path, body in WRITES.items():
        _problem(await hubs.mash.post(f"/cases/{RID}/{path}", json=body, headers=READER), 403)
    assert hubs.intake.calls == []
    assert hubs.refusals("/cases/{referral_id}/rag", 403) == 1


async def test_a_referral_id_is_opened_once(hubs: Hubs) -> None:
    rid = "R-" + "d" * 32
    assert (
        await hubs.mash.post("/referrals", json={**REFERRAL, "referral_id": rid}, headers=MASH)
    ).status_code == 201
    _problem(await hubs.mash.post("/referrals", json={**REFERRAL, "referral_id": rid}, headers=MASH), 409)
    # One the case store holds already, opened before this process started, is refused the same way.
    _problem(await hubs.mash.post("/referrals", json={**REFERRAL, "referral_id": RID}, headers=MASH), 409)
    assert [name for name, _ in hubs.intake.calls] == ["open_referral"]
    assert hubs.refusals("/referrals", 409) == 2
    # An agency's unsolicited report is not the referral: the referral it starts opens under its id.
    joined = await hubs.mash.post("/referrals", json={**REFERRAL, "referral_id": UNSOLICITED}, headers=MASH)
    assert joined.status_code == 201, joined.text


async def test_a_write_on_a_referral_that_does_not_exist_is_404(hubs: Hubs) -> None:
    for path, body in WRITES.items():
        _problem(await hubs.mash.post(f"/cases/{NOWHERE}/{path}", json=body, headers=MASH), 404)
    assert hubs.intake.calls == []


async def test_a_review_needs_the_case_released_here_and_an_item_held_for_review(hubs: Hubs) -> None:
    review = {**WRITES["reviews"], "decided_by": "someone else"}
    _problem(await hubs.partner.post(f"/cases/{OTHER}/reviews", json=review, headers=PARTNER), 403)
    elsewhere = {**review, "category": "health_summary"}
    _problem(await hubs.mash.post(f"/cases/{RID}/reviews", json=elsewhere, headers=MASH), 409)
    assert hubs.intake.calls == []
    assert (await hubs.mash.post(f"/cases/{RID}/reviews", json=review, headers=MASH)).status_code == 202
    ((name, args),) = hubs.intake.calls
    assert (name, args[2], args[-1]) == ("approve_review", "csc-mash", "Jo")


async def test_duplicate_or_unknown_list_entries_are_refused(hubs: Hubs) -> None:
    for agencies in (["police"] * 5000, ["police", "police"], []):
        _problem(
            await hubs.mash.post("/referrals", json={**REFERRAL, "agencies": agencies}, headers=MASH), 422
        )
    twins = {**REFERRAL, "subjects": [SUBJECT, SUBJECT]}
    _problem(await hubs.mash.post("/referrals", json=twins, headers=MASH), 422)
    for subscribers in (["police-mash", "police-mash"], ["nobody"], ROSTER * 20):
        body = {"subscribers": subscribers}
        _problem(await hubs.mash.post(f"/cases/{RID}/assignments", json=body, headers=MASH), 422)
    assert hubs.intake.calls == []


async def test_an_oversized_body_is_413_before_it_is_parsed(hubs: Hubs) -> None:
    big = {**REFERRAL, "summary": "x" * 70_000}
    _problem(await hubs.mash.post("/referrals", json=big, headers=MASH), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds on what arrives
        yield b'{"summary": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    sent = await hubs.mash.post(
        "/referrals", content=chunks(), headers={**MASH, "Content-Type": "application/json"}
    )
    _problem(sent, 413)
    assert hubs.intake.calls == []
    assert hubs.refusals("/referrals", 413) == 2


async def test_a_bad_path_id_is_422(hubs: Hubs) -> None:
    for bad in ("R-1", "R-" + "A" * 32, "x" * 300, "R-" + "a" * 33):
        _problem(await hubs.mash.get(f"/cases/{bad}", headers=MASH), 422)
        _problem(await hubs.mash.post(f"/cases/{bad}/rag", json=WRITES["rag"], headers=MASH), 422)
    assert hubs.intake.calls == []


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer  mash-token",
        "Bearer mash-token extra",
        "Basic bWFzaC10b2tlbg==",
        "Bearer unknown-token",
        "Bearer " + "a" * 2000,
        b"Bearer mash-tok\xc3\xa9n",
    ],
)
async def test_a_missing_malformed_or_unknown_token_is_401(
    hubs: Hubs, authorization: str | bytes | None
) -> None:
    raw = authorization.encode() if isinstance(authorization, str) else authorization
    headers = {} if raw is None else {b"Authorization": raw}
    r = await hubs.mash.get("/cases", headers=headers)
    _problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    _problem(await hubs.mash.post(f"/cases/{RID}/rag", json=WRITES["rag"], headers=headers), 401)


async def test_a_non_ascii_bearer_token_is_401_not_500(hubs: Hubs) -> None:
    r = await hubs.mash.get("/cases", headers=[(b"Authorization", "Bearer caf\xe9".encode("latin-1"))])
    _problem(r, 401)


async def test_the_mash_token_does_each_step_and_is_recorded_as_the_actor(hubs: Hubs) -> None:
    opened = await hubs.mash.post("/referrals", json={**REFERRAL, "agencies": ["police"]}, headers=MASH)
    assert opened.status_code == 201, opened.text
    rid = opened.json()["referral_id"]
    # Straight after opening, before the consumer has read anything back, the referral can be worked on.
    for path, body in WRITES.items():
        if path != "reviews":
            r = await hubs.mash.post(f"/cases/{rid}/{path}", json=body, headers=MASH)
            assert r.status_code == 202, (path, r.text)
    calls = dict(hubs.intake.calls)
    assert dict(calls["open_referral"])["requested_by"] == "Jo"
    assert calls["assign"] == (rid, ["partner-hub"], "Jo")
    assert calls["change_rag"][-1] == "Jo"
    assert calls["decide"][3] == "Jo"
    assert dict(calls["consent"][3:])["decided_by"] == "Jo"


async def test_a_desk_cannot_record_consent_set_a_marker_or_add_a_subject(hubs: Hubs) -> None:
    """Only the front door's hub may send CONSENT (issue #15 contract), and only the MASH's decision
    makers change who a case is about or whose address is hidden: a desk's hub refuses them with 403 even
    for a token configured with every scope, for a case it holds or not, and publishes nothing."""
    for rid in (RID, OTHER, NOWHERE):
        for path in ("consent", "confidential-address", "subjects", "strategy-discussion"):
            r = await hubs.partner.post(f"/cases/{rid}/{path}", json=WRITES[path], headers=PARTNER)
            _problem(r, 403)
            assert "front door" in r.json()["detail"]
    assert hubs.intake.calls == []
