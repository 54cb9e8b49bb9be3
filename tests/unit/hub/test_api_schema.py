"""The hub API tested against its own OpenAPI document with schemathesis: no request, however odd, gets a
server error, and every response matches the document. Intake is a recording fake at its seam; the
case store is a real SQLite store holding one case."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jigsaw.bus.store import Store
from jigsaw.wire.framing import now_micros
from services.hub import store as hub_store
from services.hub.api import Broadcast, create_app
from services.hub.config import SCOPES, ApiToken, token_hash

TOKEN = {"Authorization": "Bearer test-token"}
RID = "R-11111111111111111111111111111111"


class RecordingIntake:
    """Stands in for Kafka publishing; the real intake is exercised in tests/e2e/test_hub.py."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        # The deployment's agency types, as the real intake has them from the roster.
        self.agencies = {"police": "police.devon", "health": "health.devon", "education": "education.devon"}

    async def _record(self, name: str, *args: Any, **kwargs: Any) -> str:
        self.calls.append((name, args))
        return "0190aa77-0000-7000-8000-000000000000"

    async def open_referral(self, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
        self.calls.append(("open_referral", kwargs))
        return "R-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", [
            {"enquiry_id": "E-1", "agency": "police", "categories": ["identity"], "deadline_us": 1}
        ]

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


def _store() -> sqlite3.Connection:
    path = Path(tempfile.mkdtemp()) / "hub.sqlite"
    s = Store(path, hub_store.SCHEMA)
    s.open()
    with s.transaction() as tx:
        hub_store.put_referral(
            tx,
            RID,
            {
                "source_type": "SCHOOL",
                "concerns": ["NEGLECT"],
                "rag": "AMBER",
                "subject_refs": [{"subject_ref": "S1", "role": "CHILD"}],
            },
            now_micros(),
        )
        hub_store.put_section(
            tx,
            RID,
            "m-1",
            "education",
            now_micros(),
            "education_attendance",
            "S1",
            "RELEASED",
            {"subject_ref": "S1", "attendance": []},
            None,
            None,
        )
        hub_store.touch_case(tx, RID)
    s.close()
    return sqlite3.connect(path, check_same_thread=False)


INTAKE = RecordingIntake()
APP = create_app(
    subscriber="csc-mash",
    tokens={
        "case-system": ApiToken(
            subscriber="csc-mash", sha256=token_hash("test-token"), scopes=frozenset(SCOPES)
        )
    },
    db=_store(),
    intake=INTAKE,  # type: ignore[arg-type]
    broadcast=Broadcast(),
    subscribers=["csc-mash", "police-mash"],
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/cases/stream")


@schema.parametrize()
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    # A pattern cannot say which dates exist (2026-02-30), so a schema-valid but impossible date is
    # rightly refused with 422; every other check, server errors first, stays on.
    case.call_and_validate(headers=TOKEN, excluded_checks=[positive_data_acceptance])


def test_the_document_covers_every_endpoint() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {
        "/cases",
        "/cases/{referral_id}",
        "/cases/{referral_id}/timeline",
        "/cases/stream",
        "/referrals",
        "/cases/{referral_id}/rag",
        "/cases/{referral_id}/assignments",
        "/cases/{referral_id}/decision",
    } <= paths
