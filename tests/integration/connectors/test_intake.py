"""An unsolicited report opens its referral at the hub's intake, under the report's own referral id, even
when the hub is unreachable at the time of the report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.police import Incident
from connectors.sdk.intake import IntakeSettings
from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings
from jigsaw.serving import free_port, serve
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.connectors.connkit import ConnectorRig
from tests.integration.kafkautil import eventually

REFERRAL = {
    "subjects": [{"subject_ref": "S1", "role": "CHILD", "given_names": "Callum", "family_name": "Hartley"}],
    "concerns": ["NEGLECT"],
    "source_type": "POLICE",
    "summary": "Child found alone late at night",
}


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[ConnectorRig]:
    r = await ConnectorRig.create(kafka, topics, registry, tmp_path)
    yield r
    await r.close()


async def test_an_unsolicited_report_opens_its_referral_at_intake(rig: ConnectorRig) -> None:
    port = free_port()
    rig.config = rig.config.model_copy(
        update={
            "intake": IntakeSettings(
                url=f"http://127.0.0.1:{port}", token=SecretStr("intake-token"), retry_s=0.1
            )
        }
    )
    await rig.start()
    assert rig.runtime is not None
    incident = Incident(
        source_id="P-100",
        recorded_on=date(2026, 11, 1),
        incident_ref="CTN-1",
        incident_date=date(2026, 11, 1),
        incident_type="Coming to notice",
        subject_role="PRESENT",
        summary="Child found alone late at night",
    )
    rid, _ = rig.runtime.report(
        subject_ref="S1", category="police_incidents", records=[incident], referral=REFERRAL
    )

    async def returned() -> bool:
        return [r.key for r in await read_to_end(rig.kafka, rig.topics.intel("police"))] == [rid.encode()]

    await eventually(returned, what="the report on the police intel topic")

    received: list[tuple[str | None, dict[str, Any]]] = []

    async def referrals(request: Request) -> JSONResponse:
        received.append((request.headers.get("authorization"), await request.json()))
        return JSONResponse({"referral_id": rid, "enquiries": []}, status_code=201)

    hub = Starlette(routes=[Route("/referrals", referrals, methods=["POST"])])
    async with serve(hub, "127.0.0.1", port):  # the hub comes up only after the report
        await eventually(lambda: bool(received), what="the referral opened at intake")
    ((auth, body),) = received
    assert auth == "Bearer intake-token"
    assert body["referral_id"] == rid
    assert body["subjects"][0]["family_name"] == "Hartley"
