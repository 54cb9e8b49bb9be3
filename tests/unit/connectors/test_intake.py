"""An unsolicited report with a referral: the return and a REPORT for the MASH front door, queued in one
transaction under one referral id, the REPORT's identities and narrative sealed to the front door alone,
and nothing queued at all for a referral that does not fit its schemas."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.police import Incident
from connectors.sdk.config import ConnectorConfig
from jigsaw.bus.records import HEADER_KIND, HEADER_MSG_ID
from jigsaw.errors import NotARecipient, PayloadInvalid
from jigsaw.ids import derived_id
from jigsaw.wire.categories import REPORT_CATEGORIES
from jigsaw.wire.codec import SchemaRegistry
from tests.unit.connectors.test_runtime import Rig

REFERRAL: dict[str, Any] = {
    "subjects": [
        {
            "subject_ref": "S1",
            "role": "CHILD",
            "given_names": "Callum",
            "family_name": "Hartley",
            "dob": "2014-03-02",
            "postcode": "EX4 1AA",
            "pnc": "14/123456Z",
        }
    ],
    "concerns": ["NEGLECT"],
    "source_type": "POLICE",
    "summary": "Child found alone late at night",
    "referrer": {"name": "PC 1234 Ward", "relationship_to_child": "attending officer"},
}
INCIDENT = Incident(
    source_id="P-100",
    recorded_on=date(2026, 11, 1),
    incident_ref="CTN-1",
    incident_date=date(2026, 11, 1),
    incident_type="Coming to notice",
    subject_role="PRESENT",
    summary="Child found alone late at night",
)


@pytest.fixture
def rig(registry: SchemaRegistry, tmp_path: Path) -> Rig:
    return Rig(registry, tmp_path)


def _report(rig: Rig, referral: dict[str, Any] | None = REFERRAL) -> tuple[str, str]:
    return rig.runtime.report(
        subject_ref="S1", category="police_incidents", records=[INCIDENT], referral=referral
    )


def test_the_return_and_its_report_are_queued_together_under_one_referral_id(rig: Rig) -> None:
    rid, msg_id = _report(rig)
    rows = rig.store.outbox_batch(10)
    assert [r.topic for r in rows] == [rig.topics.intel("police")] * 2
    assert [r.key for r in rows] == [rid.encode()] * 2
    headers = [dict(r.headers) for r in rows]
    assert [h[HEADER_KIND] for h in headers] == [b"INTEL", b"REPORT"]
    report_id = derived_id("report", msg_id, "police.devon")
    assert [h[HEADER_MSG_ID] for h in headers] == [msg_id.encode(), report_id.encode()]
    hub = rig.world.party("hub.devon")
    opened = hub.open(rows[1].value, rid.encode())
    assert (opened.kind, opened.msg_id, opened.referral_id) == ("REPORT", report_id, rid)
    assert opened.body["agency"] == "police"
    assert opened.body["return_msg_id"] == msg_id
    assert opened.body["subject_refs"] == [{"subject_ref": "S1", "role": "CHILD"}]
    identity = opened.section("identity", "S1")
    assert identity is not None
    assert identity.payload is not None
    # Identity v2 holds names and details only: each identifier scheme and the address travel in their own
    # sections, as far as a REPORT may carry them (REPORT_CATEGORIES, the front door intake's categories).
    assert "identifiers" not in identity.payload
    assert identity.payload["names"][0]["family_name"] == "Hartley"
    split = {"identifier_pnc", "address"} & REPORT_CATEGORIES
    assert {s.category for s in opened.sections} == {
        "identity",
        "referral_details",
        "referrer_identity",
    } | split
    if "identifier_pnc" in split:
        pnc = opened.section("identifier_pnc", "S1")
        assert pnc is not None
        assert pnc.payload is not None
        assert pnc.payload["identifiers"][0]["value"] == "14/123456Z"
    assert rig.prom.get_sample_value("jigsaw_connector_reports_total") == 1


def test_the_report_is_sealed_to_the_front_door_alone_and_its_clear_parts_name_no_one(rig: Rig) -> None:
    rid, _ = _report(rig)
    report = rig.store.outbox_batch(10)[1].value
    with pytest.raises(NotARecipient):
        rig.world.party("broker").open(report, rid.encode())
    with pytest.raises(NotARecipient):
        rig.world.party("csc-mash").open(report, rid.encode())
    for plain in ("Callum", "Hartley", "EX4 1AA", "14/123456Z", "found alone", "Ward"):
        assert plain.encode() not in report, f"{plain!r} in the clear"


def test_without_a_referral_only_the_return_is_queued(rig: Rig) -> None:
    _report(rig, referral=None)
    assert [dict(r.headers)[HEADER_KIND] for r in rig.store.outbox_batch(10)] == [b"INTEL"]


def test_a_referral_that_does_not_fit_raises_and_queues_nothing(rig: Rig) -> None:
    with pytest.raises(PayloadInvalid):
        _report(rig, {**REFERRAL, "concerns": ["SHOUTING"]})
    with pytest.raises(ValidationError):
        _report(rig, {k: v for k, v in REFERRAL.items() if k != "summary"})
    assert rig.store.outbox_batch(10) == []


def test_a_connector_config_has_no_hub_credential_to_hold() -> None:
    base = {
        "participant_id": "police.devon",
        "agency": "police",
        "connector": "connectors.police:PoliceConnector",
        "source": {"kind": "csv", "folder": "x", "category_files": {}, "persons_file": "p.csv"},
    }
    with pytest.raises(ValidationError, match="intake"):
        ConnectorConfig.model_validate({**base, "intake": {"url": "http://hub", "token": "t"}})
