"""Participants, a key directory and sample payloads for tests of the wire contract."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory, issue_key_record
from jigsaw.wire.envelope import Envelopes
from jigsaw.wire.keys import ParticipantKeys

PARTIES = {
    "police.devon": ("AGENCY_CONNECTOR", "police"),
    "health.devon": ("AGENCY_CONNECTOR", "health"),
    "broker": ("BROKER", None),
    "csc-mash": ("SUBSCRIBER", None),
    "police-mash": ("SUBSCRIBER", None),
}


@dataclass
class World:
    registry: SchemaRegistry
    root: ParticipantKeys
    directory: KeyDirectory
    keys: dict[str, ParticipantKeys] = field(default_factory=dict)
    records: list[tuple[bytes, bytes]] = field(default_factory=list)

    def publish(
        self,
        pid: str,
        *,
        revoked: bool = False,
        reason: str | None = None,
        epochs: Iterable[int] | None = None,
        not_after: int | None = None,
    ) -> None:
        """Issue and apply a record for each of ``epochs`` of ``pid``'s keys (default: every epoch)."""
        keys = self.keys[pid]
        for epoch in sorted(keys.generations) if epochs is None else epochs:
            record = issue_key_record(
                self.registry,
                self.root,
                keys.generations[epoch].public_record(),
                participant_id=pid,
                role=keys.role,
                agency=keys.agency,
                revoked=revoked,
                revocation_reason=reason,
                not_after=not_after,
            )
            self.records.append(record)
            self.directory.apply(record[1])

    def rotate(self, pid: str, reason: str | None = "SUPERSEDED") -> None:
        """A routine rotation: a new epoch published, the older ones revoked (unless ``reason`` is None)."""
        old = sorted(self.keys[pid].generations)
        new = self.keys[pid].rotate()
        self.publish(pid, epochs=[new.epoch])
        if reason is not None:
            self.publish(pid, revoked=True, reason=reason, epochs=old)

    def add(self, pid: str, role: str, agency: str | None = None, publish: bool = True) -> Envelopes:
        self.keys[pid] = ParticipantKeys.generate(pid, role, agency)
        if publish:
            self.publish(pid)
        return self.party(pid)

    def party(self, pid: str) -> Envelopes:
        return Envelopes(self.registry, self.directory, self.keys[pid])


def make_world(registry: SchemaRegistry) -> World:
    root = ParticipantKeys.generate("admin.root", "ADMIN")
    world = World(registry, root, KeyDirectory(registry, root.current.sign.public_key()))
    for pid, (role, agency) in PARTIES.items():
        world.add(pid, role, agency)
    return world


def incidents(subject_ref: str = "S1", summary: str = "Suspected theft of a pedal cycle") -> dict[str, Any]:
    return {
        "subject_ref": subject_ref,
        "incidents": [
            {
                "kind": "ALLEGATION",
                "source": "Niche RMS",
                "recorded_on": date(2026, 10, 1),
                "incident_ref": "INC-0001",
                "incident_date": date(2026, 9, 30),
                "incident_type": "Theft of pedal cycle",
                "subject_role": "SUSPECT",
                "domestic_abuse": False,
                "summary": summary,
                "ppn_submitted": False,
            }
        ],
    }


def identity(subject_ref: str = "S1") -> dict[str, Any]:
    return {
        "subject_ref": subject_ref,
        "names": [
            {
                "kind": "FACT",
                "source": "PNC",
                "recorded_on": date(2026, 1, 5),
                "name_type": "LEGAL",
                "given_names": "Callum",
                "family_name": "Hartley-Price",
            }
        ],
    }


def contact(subject_ref: str = "S1") -> dict[str, Any]:
    return {
        "subject_ref": subject_ref,
        "contacts": [
            {
                "kind": "FACT",
                "source": "Niche RMS",
                "recorded_on": date(2026, 10, 2),
                "known": True,
                "agency": "police.devon",
                "contact_team": "MASH police desk",
            }
        ],
    }


def intel_body(agency: str = "police") -> dict[str, Any]:
    return {
        "enquiry_id": "E-1",
        "agency": agency,
        "unsolicited": False,
        "matches": [
            {"subject_ref": "S1", "method": "EXACT_PNC", "confidence": 1.0, "source_record_count": 2}
        ],
        "nothing_held_categories": [],
    }


def normalized(registry: SchemaRegistry, category: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as any reader sees it: every field present, defaults filled in."""
    from jigsaw.wire.categories import CATEGORIES

    schema = registry.latest(CATEGORIES[category].schema)
    return registry.decode_body(registry.encode_body(schema, payload), schema, schema)
