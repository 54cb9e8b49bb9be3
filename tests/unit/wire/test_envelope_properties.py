"""Property tests: open(seal(x)) == x, and any single-byte change to a sealed record is a typed error."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.testkit.wire import World, intel_body, make_world, normalized
from jigsaw.errors import RejectedInput
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput

R = "R-0042"
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))

_incident = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["FACT", "ALLEGATION", "OPINION"]),
        "source": _text,
        "recorded_on": _dates,
        "incident_ref": _text,
        "incident_date": _dates,
        "incident_type": _text,
        "subject_role": st.sampled_from(["VICTIM", "SUSPECT", "WITNESS"]),
        "child_present": st.none() | st.booleans(),
        "domestic_abuse": st.booleans(),
        "summary": _text,
        "ppn_submitted": st.booleans(),
    }
)
_contact = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["FACT", "OPINION"]),
        "source": _text,
        "recorded_on": _dates,
        "known": st.booleans(),
        "agency": _text,
        "contact_phone": st.none() | _text,
    }
)


@st.composite
def sections(draw: st.DrawFn) -> list[SectionInput]:
    subjects = draw(st.lists(st.sampled_from(["", "S1", "S2", "S3"]), min_size=1, max_size=3, unique=True))
    out = []
    for subject in subjects:
        out.append(
            SectionInput(
                "police_incidents",
                {"subject_ref": subject, "incidents": draw(st.lists(_incident, max_size=3))},
            )
        )
        if draw(st.booleans()):
            out.append(
                SectionInput(
                    "contact", {"subject_ref": subject, "contacts": draw(st.lists(_contact, max_size=2))}
                )
            )
    return out


@pytest.fixture(scope="module")
def world(registry: SchemaRegistry) -> World:
    return make_world(registry)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=sections())
def test_opening_gives_back_exactly_what_was_sealed(world: World, items: list[SectionInput]) -> None:
    value = world.party("police.devon").seal(
        kind="INTEL", referral_id=R, body=intel_body(), sections=items, recipients=["broker"]
    )
    opened = world.party("broker").open(value, R.encode())
    assert len(opened.sections) == len(items)
    for item in items:
        got = opened.section(item.category, item.subject_ref)
        assert got is not None
        assert got.payload == normalized(world.registry, item.category, dict(item.payload))


def _sealed(world: World) -> dict[str, bytes]:
    items = [
        SectionInput("contact", {"subject_ref": "S1", "contacts": []}),
        SectionInput("police_incidents", {"subject_ref": "S1", "incidents": []}),
    ]
    agency = world.party("police.devon").seal(
        kind="INTEL", referral_id=R, body=intel_body(), sections=items, recipients=["broker"]
    )
    broker = world.party("broker")
    release = broker.rekey(
        broker.verify(agency, R.encode()), "csc-mash", {}, decision_id="D-1", policy_version="v1"
    )
    return {"broker": agency, "csc-mash": release}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["broker", "csc-mash"]), data=st.data())
def test_any_single_byte_change_is_a_typed_error(world: World, which: str, data: st.DataObject) -> None:
    """Covers records with one recipient (agency to broker, broker to subscriber), as on every topic the
    broker reads or writes. In a record for several recipients, each can check only its own wrapped key."""
    value = _sealed_cache(world)[which]
    at = data.draw(st.integers(0, len(value) - 1), label="position")
    xor = data.draw(st.integers(1, 255), label="xor")
    changed = value[:at] + bytes([value[at] ^ xor]) + value[at + 1 :]
    with pytest.raises(RejectedInput):
        world.party(which).open(changed, R.encode())


_CACHE: dict[int, dict[str, bytes]] = {}


def _sealed_cache(world: World) -> dict[str, Any]:
    return _CACHE.setdefault(id(world), _sealed(world))
