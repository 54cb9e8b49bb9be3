"""The agency types a referral may name are the deployment's (the intake has them from the roster), so
one not on it is refused with the same problem+json as any other invalid body."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx

from services.hub import store as hub_store
from services.hub.api import Broadcast, create_app
from services.hub.config import ApiToken, token_hash

TOKEN = {"Authorization": "Bearer t"}
REFERRAL: dict[str, Any] = {
    "subjects": [{"subject_ref": "S1", "role": "CHILD", "given_names": "A", "family_name": "B"}],
    "concerns": ["NEGLECT"],
    "source_type": "SCHOOL",
    "summary": "s",
}


class Intake:
    def __init__(self) -> None:
        self.agencies = {"police": "police.devon", "ferries": "ferries.devon"}
        self.asked: list[Any] = []

    async def open_referral(self, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
        self.asked.append(kwargs["agencies"])
        return "R-1", []


async def _refer(intake: Intake, agencies: list[str]) -> httpx.Response:
    db = sqlite3.connect(":memory:")
    db.executescript(hub_store.SCHEMA)
    tokens = {"mash": ApiToken(subscriber="s", sha256=token_hash("t"), scopes=frozenset({"intake"}))}
    app = create_app(
        subscriber="s",
        tokens=tokens,
        db=db,
        intake=intake,  # type: ignore[arg-type]
        broadcast=Broadcast(),
        subscribers=["s"],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hub") as client:
        response = await client.post("/referrals", json={**REFERRAL, "agencies": agencies}, headers=TOKEN)
    db.close()
    return response


async def test_an_agency_on_the_roster_is_accepted_even_one_the_code_never_named() -> None:
    intake = Intake()
    r = await _refer(intake, ["ferries", "police"])
    assert r.status_code == 201, r.text
    assert intake.asked == [["ferries", "police"]]


async def test_an_agency_not_on_the_roster_is_an_invalid_request() -> None:
    intake = Intake()
    r = await _refer(intake, ["police", "health"])
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "about:blank",
        "title": "invalid request",
        "status": 422,
        "detail": "body.agencies.1: Input should be 'ferries' or 'police'",
    }
    assert intake.asked == []
