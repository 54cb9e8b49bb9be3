"""What a return holds, category by category, as the broker receives it: each identifier scheme in its own
section, addresses in their own, the victim's safe contact never inside domestic abuse, a screening answer
whose team names another category's fact in that category's scoped contact, and the confidential-address
markers in the body. Each test names the rule it checks and where the rule comes from."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry

from connectors.police import PoliceConnector
from connectors.sdk.adapters import SourceAdapter
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.config import load_config
from connectors.sdk.contacts import ContactRouting
from connectors.sdk.identifiers import pnc_check_char
from connectors.sdk.matching import Matcher
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.records import MARKERS, ConfidentialAddress, Contact, LocalId, Name
from connectors.sdk.runtime import ConnectorRuntime
from devkit.testkit.wire import World, make_world
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.loop import call_handler
from jigsaw.bus.records import COMMIT, Record
from jigsaw.bus.store import Store
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Opened, OpenedSection, SectionInput
from jigsaw.wire.framing import now_micros

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "connectors"
PNC = f"09/0012345{pnc_check_char(9, 12345)}"
ON = "2020-01-06"
DEAN = {
    "source_id": "P-200",
    "given_names": "Dean",
    "family_name": "Hartley",
    "dob": date(1988, 7, 19),
    "pnc": "20" + PNC,
}


def _contact(team: str, **more: Any) -> dict[str, Any]:
    return {"source_id": "P-200", "agency": "police", "contact_team": team, "recorded_on": ON, **more}


ROWS: dict[str, list[dict[str, Any]]] = {
    "identity.names": [
        {"source_id": "P-200", "given_names": "Dean", "family_name": "Hartley", "recorded_on": ON}
    ],
    "identity.details": [{"source_id": "P-200", "dob": "1988-07-19", "gender": "M", "recorded_on": ON}],
    # As the force prints it, with a four-digit year: it travels normalised.
    "identifier_pnc": [
        {"source_id": "P-200", "value": "20" + PNC, "verified": True, "valid_from": ON, "recorded_on": ON}
    ],
    "address": [
        {
            "source_id": "P-200",
            "lines": '["1 Quay Lane"]',
            "town": "Exeter",
            "postcode": "EX2 4AN",
            "recorded_on": ON,
        }
    ],
    "contact": [
        _contact("MASH police desk", currently_open=True),
        _contact("Exeter MOSOVO team", contact_email="exeter-mosovo-team@police.devon.example"),
    ],
    "police_convictions.disposals": [
        {
            "source_id": "P-200",
            "disposal_type": "CONVICTION",
            "offence": "Sexual activity with a child",
            "offence_category": "SEXUAL",
            "disposal_date": "2012-03-01",
            "outcome": "Imprisonment, 5 years; notification indefinitely",
            "recorded_on": "2012-03-01",
        }
    ],
    # A source that still stores the safe contact with the case (as DomesticAbuse v1 allowed).
    "domestic_abuse.cases": [
        {
            "source_id": "P-200",
            "subject_role": "PERPETRATOR",
            "dash_risk_level": "HIGH",
            "incident_count": 3,
            "marac_referred": True,
            "victim_safe_contact": '{"phone": "07700 900461"}',
            "recorded_on": ON,
        }
    ],
    "victim_safe_contact": [{"source_id": "P-200", "phone": "07700 900461", "recorded_on": ON}],
}


class Source(SourceAdapter):
    name = "fake source"

    def __init__(self, rows: Mapping[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self.rows = rows

    async def _start(self) -> None: ...

    async def _stop(self) -> None: ...

    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dict(DEAN)]

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows.get(category, []) if r["source_id"] in source_ids]


class _Outbox:
    def notify(self) -> None:
        pass


@dataclass
class Answer:
    """An enquiry's answer as the broker receives it: the main return, then one per scoped contact held."""

    messages: list[Opened]

    @property
    def main(self) -> Opened:
        return self.messages[0]

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.main.body)

    @property
    def sections(self) -> list[OpenedSection]:
        return [s for m in self.messages for s in m.sections]

    def section(self, category: str, subject_ref: str) -> OpenedSection | None:
        found = (m.section(category, subject_ref) for m in self.messages)
        return next((s for s in found if s is not None), None)


class Rig:
    def __init__(
        self,
        registry: SchemaRegistry,
        tmp: Path,
        connector: type[Connector],
        rows: Mapping[str, list[dict[str, Any]]],
        contacts: ContactRouting,
    ) -> None:
        self.world: World = make_world(registry)
        self.world.add("hub.devon", "HUB")
        self.topics = Topics()
        self.store = Store(tmp / "connector.sqlite")
        self.store.open()
        self.prom = CollectorRegistry()
        source = Source(rows)
        self.runtime = ConnectorRuntime(
            participant_id="police.devon",
            agency="police",
            connector=connector(source),
            adapter=source,
            envelopes=self.world.party("police.devon"),
            store=self.store,
            outbox=_Outbox(),  # type: ignore[arg-type]
            topics=self.topics,
            metrics=ConnectorMetrics(self.prom),
            kernel_metrics=KernelMetrics(self.prom, "connector-police"),
            dead_letters=DeadLetterCodec(registry, "connector-police"),
            matcher=Matcher(),
            contacts=contacts,
        )
        self.offset = 0

    async def ask(
        self, categories: Sequence[str], *, pnc: str | None = PNC, record: list[Record] | None = None
    ) -> Answer:
        """Send an enquiry about Dean Hartley (S1), with his PNC ID in its own section; the answer (the
        enquiry's record is appended to ``record``)."""
        rid = f"R-{uuid.uuid4().hex[:8]}"
        body = {
            "enquiry_id": str(uuid.uuid4()),
            "addressed_agencies": ["police.devon"],
            "subject_refs": ["S1"],
            "categories": list(categories),
            "purpose": "TRIAGE",
            "lawful_basis": "DPA 2018 Sch 1 para 18",
            "legal_reason": "Children Act 1989 s47",
            "isa_ref": "ISA",
            "rag": "RED",
            "deadline": now_micros(),
            "requested_by": "mash",
        }
        fact = {"kind": "FACT", "source": "mash", "recorded_on": date(2026, 11, 1)}
        identity = {
            "subject_ref": "S1",
            "names": [{**fact, "name_type": "LEGAL", "given_names": "Dean", "family_name": "Hartly"}],
            "details": [
                {**fact, "date_of_birth": date(1988, 7, 19), "dob_estimated": False, "unborn": False,
                 "gender": "MALE"}
            ],
        }  # fmt: skip
        sections = [SectionInput("identity", identity)]
        if pnc is not None:
            ident = {**fact, "scheme": "PNC", "value": pnc, "verified": True, "valid_from": date(2009, 1, 1)}
            sections.append(SectionInput("identifier_pnc", {"subject_ref": "S1", "identifiers": [ident]}))
        value = self.world.party("hub.devon").seal(
            kind="ENQUIRY", referral_id=rid, body=body, sections=sections, recipients=["police.devon"]
        )
        self.offset += 1
        enquiry = Record(self.topics.enquiries, 0, self.offset, rid.encode(), value)
        if record is not None:
            record.append(enquiry)
        assert await call_handler(self.runtime, enquiry) == COMMIT
        return self.answer(rid)

    def answer(self, rid: str) -> Answer:
        """The returns queued for referral ``rid``, in the order queued, opened as the broker."""
        rows = [
            r for r in self.store.outbox_batch(100) if r.key == rid.encode() and r.topic != self.topics.dlq
        ]
        return Answer([self.world.party("broker").open(r.value, r.key) for r in rows])

    def dead_letters(self) -> list[dict[str, Any]]:
        codec = DeadLetterCodec(self.world.registry, "t")
        return [codec.decode(r.value) for r in self.store.outbox_batch(100) if r.topic == self.topics.dlq]


def _police_contacts() -> ContactRouting:
    return load_config(DEPLOY / "police.yaml").contacts


@pytest.fixture
def rig(registry: SchemaRegistry, tmp_path: Path) -> Rig:
    return Rig(registry, tmp_path, PoliceConnector, ROWS, _police_contacts())


def _payload(opened: Answer, category: str) -> dict[str, Any]:
    section = opened.section(category, "S1")
    assert section is not None, f"no {category} section"
    assert section.payload is not None
    return section.payload


ASKED = [
    "identity",
    "identifier_pnc",
    "address",
    "contact",
    "police_convictions",
    "domestic_abuse",
    "victim_safe_contact",
]


async def test_the_identity_carries_names_and_details_and_each_identifier_scheme_travels_alone(
    rig: Rig,
) -> None:
    # DOMAIN.md "Identifiers by scheme": the PNC ID is for police and probation, the NHS number for health
    # and care, the UPN for education use only (DfE UPN guidance). The broker releases by category, never
    # reading a payload, so each scheme is its own category and Identity v2 holds none of them.
    opened = await rig.ask(ASKED)
    assert opened.body["matches"][0]["method"] == "EXACT_PNC", "the enquiry's identifier section is used"
    identity = _payload(opened, "identity")
    assert set(identity) == {"subject_ref", "names", "details", "relationships"}
    assert identity["names"][0]["family_name"] == "Hartley", "the agency's own spelling"
    (pnc,) = _payload(opened, "identifier_pnc")["identifiers"]
    assert (pnc["scheme"], pnc["value"], pnc["verified"]) == ("PNC", PNC, True), "normalised, check verified"
    categories = {s.category for s in opened.sections}
    assert not categories & {"identifier_nhs", "identifier_upn", "identifier_local"}


async def test_addresses_travel_in_their_own_section(rig: Rig) -> None:
    # DOMAIN.md "Victims who have fled": under a confidential-address marker the locating details are
    # withheld; the broker can withhold only a whole section, so addresses are a category of their own.
    opened = await rig.ask(ASKED)
    (address,) = _payload(opened, "address")["addresses"]
    assert (address["postcode"], address["lines"]) == ("EX2 4AN", ["1 Quay Lane"])
    assert "addresses" not in _payload(opened, "identity")


async def test_no_safe_contact_inside_domestic_abuse_only_in_its_own_category(rig: Rig) -> None:
    # MARAC and IDVA practice: a victim's safe contact details are never released. DomesticAbuse v2 has no
    # field for them: they travel only as victim_safe_contact, which the policy redacts whole.
    opened = await rig.ask(ASKED)
    (case,) = _payload(opened, "domestic_abuse")["cases"]
    assert "victim_safe_contact" not in case, "a source column of it is dropped, not sent"
    (safe,) = _payload(opened, "victim_safe_contact")["safe_contacts"]
    assert safe["phone"] == "07700 900461"


async def test_a_sex_offender_team_s_name_travels_as_the_police_intelligence_contact(rig: Rig) -> None:
    # DOMAIN.md "Who a screening answer may tell what": "known + contact" is itself a disclosure; a sex
    # offender management team's name tells what police intelligence holds. deploy/connectors/police.yaml
    # routes it to contact_police_intelligence, which the broker releases only to a desk that may know
    # police intelligence; the plain contact names the MASH desk alone.
    opened = await rig.ask(ASKED)
    (plain,) = _payload(opened, "contact")["contacts"]
    assert (plain["contact_team"], plain["known"]) == ("MASH police desk", True)
    (scoped,) = _payload(opened, "contact_police_intelligence")["contacts"]
    assert scoped["contact_team"] == "Exeter MOSOVO team"
    assert "contact" not in opened.body["nothing_held_categories"]


async def test_a_person_known_only_through_a_scoped_team_still_gets_the_plain_answer(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    # "Known to the police" is no secret from a MASH partner (R-KNOWN-CONTACT, R-CSC-KNOWN-CONTACT); only the
    # team's name is.
    # When every contact is scoped, the configured plain route answers, and says nothing more: whether the
    # scoped service is open, and when it last saw the person, are the scoped facts.
    rows = {**ROWS, "contact": [_contact("Exeter MOSOVO team", currently_open=True, last_involvement=ON)]}
    rig = Rig(registry, tmp_path, PoliceConnector, rows, _police_contacts())
    opened = await rig.ask(["identity", "contact"])
    (plain,) = _payload(opened, "contact")["contacts"]
    assert plain["contact_team"] == "Police MASH liaison"
    assert (plain["known"], plain["agency"], plain["currently_open"], plain["last_involvement"]) == (
        True,
        "police",
        None,
        None,
    )
    assert _payload(opened, "contact_police_intelligence")["contacts"][0]["currently_open"] is True


async def test_a_scoped_contact_asked_for_alone_comes_alone(rig: Rig) -> None:
    # A return answers what was asked: a scoped contact is answered from the contacts, nothing else goes.
    # It travels in a return of its own; the main return answers the enquiry with its matches alone.
    opened = await rig.ask(["contact_police_intelligence"])
    main, part = opened.messages
    assert not main.sections
    assert {s.category for s in part.sections} == {"contact_police_intelligence"}
    assert opened.body["nothing_held_categories"] == []


async def test_identifiers_and_addresses_go_only_when_asked_for_and_nothing_held_names_only_what_was(
    rig: Rig,
) -> None:
    # Caldicott: the minimum necessary. At screening a MASH asks for identity and contact alone, so the
    # identifiers and the address stay with the agency; a category not asked for is never reported as
    # nothing held, and one asked for and not held is.
    opened = await rig.ask(["identity", "police_incidents"])
    assert {s.category for s in opened.sections} == {"identity"}
    assert opened.body["nothing_held_categories"] == ["police_incidents"]
    opened = await rig.ask(["identity", "identifier_pnc", "identifier_nhs", "address"])
    assert {s.category for s in opened.sections} == {"identity", "identifier_pnc", "address"}
    assert opened.body["nothing_held_categories"] == ["identifier_nhs"]


class _Marked(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        "identity.names": Name,
        "contact": Contact,
        "identifier_local": LocalId,
        MARKERS: ConfidentialAddress,
    }


MARKED: dict[str, list[dict[str, Any]]] = {
    "identity.names": ROWS["identity.names"],
    "contact": [_contact("Safeguarding adults team")],
    MARKERS: [
        {"source_id": "P-200", "scope": "PERSON", "recorded_on": ON},
        {"source_id": "P-999", "scope": "PERSON", "recorded_on": ON},  # nobody asked about
    ],
    # An NHS number where a local id belongs: refused, never sent as identifier_local.
    "identifier_local": [
        {"source_id": "P-200", "scheme": "NHS", "value": "9434765919", "valid_from": ON, "recorded_on": ON}
    ],
}


async def test_a_source_s_confidential_address_marker_is_set_on_the_return_for_the_matched_subject(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    # DOMAIN.md "Victims who have fled": health records use a "confidential address" marker, and a person
    # or an address can carry it. The connector whose source holds it sets IntelReturn.v3
    # confidential_addresses for the matched subject (whatever the enquiry asked for), so that the broker
    # withholds the locating details of every agency's return about them.
    rig = Rig(registry, tmp_path, _Marked, MARKED, ContactRouting())
    opened = await rig.ask(["contact"])
    assert opened.body["confidential_addresses"] == [{"subject_ref": "S1", "scope": "PERSON"}]
    assert rig.prom.get_sample_value("jigsaw_connector_markers_total", {"scope": "PERSON"}) == 1
    assert "P-999" not in str(opened.body), "no one else's marker"


async def test_an_identifier_of_another_scheme_is_refused_rather_than_sent_as_a_local_id(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    # The NHS number is for health and care: released by role as identifier_nhs. A source row that puts
    # one under identifier_local fails validation and is dead-lettered by field, never sent under the
    # wider category.
    rig = Rig(registry, tmp_path, _Marked, MARKED, ContactRouting())
    opened = await rig.ask(["identity", "identifier_local"])
    assert opened.section("identifier_local", "S1") is None
    (letter,) = rig.dead_letters()
    assert letter["reason"] == "SOURCE_RECORD_INVALID"
    assert "identifier_local" in letter["detail"]
    assert "scheme" in letter["detail"]
    assert "9434765919" not in letter["detail"], "the value is never quoted"
