"""What the consumer keeps of consent records and agency returns: each person's consent with its
ground (the case's own ground for later enquiries), and a return the broker marks as late."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from devkit.testkit.wire import World, incidents, intel_body
from jigsaw.bus.store import Store
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import now_micros
from services.hub import query
from services.hub.view import render
from tests.unit.hub.kit import TOPICS, Consumer, Sent, hub_world, intake, open_store, release, seal

pytestmark = pytest.mark.usefixtures("store_backend")

R = "R-" + "c" * 32


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return hub_world(registry)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "hub.sqlite")
    yield s
    s.close()


async def test_each_persons_consent_is_kept_and_the_latest_ground_is_the_cases(
    world: World, store: Store
) -> None:
    """The ground, family_informed and not_informed_reason of the latest record that has them are the
    case's (issue #15 contract, "Consent per person")."""
    sent = Sent()
    mash = intake(world, sent)
    await mash.consent("R-x", "CONSENT_REFUSED", "EARLY_HELP_SERVICE", family_informed=True,
                       not_informed_reason=None, decided_by="Jo", reason="declined", subject_ref="S2",
                       party="PARENT_WITH_PR")  # fmt: skip
    await mash.consent("R-x", "SAFEGUARDING_OVERRIDE", "DATA_SHARING", family_informed=False,
                       not_informed_reason="INCREASED_RISK_TO_CHILD", decided_by="Jo", reason="risk",
                       ground="WOULD_PREJUDICE_PROTECTION")  # fmt: skip
    hub = Consumer(world, store)
    for topic, value, _ in sent.records:
        assert topic == TOPICS.consent
        hub.feed("R-x", release(world, value, "R-x"))
    assert query.case_ground(store.conn, "R-x") == (
        "WOULD_PREJUDICE_PROTECTION",
        False,
        "INCREASED_RISK_TO_CHILD",
    )
    view = render(store.conn, "R-x", now_micros())
    assert view is not None
    refused, override = view["consent"]
    assert (refused["subject_ref"], refused["party"], refused["kind"]) == (
        "S2",
        "PARENT_WITH_PR",
        "CONSENT_REFUSED",
    )
    assert (refused["reason"], refused["decided_by"]) == ("declined", "Jo")
    assert (override["subject_ref"], override["ground"]) == (None, "WOULD_PREJUDICE_PROTECTION")


async def test_a_return_the_broker_marks_late_is_shown_late(world: World, store: Store) -> None:
    """Late information reaches the screening desk marked as late (DOMAIN.md): the broker's signed release
    record says so, whenever the return was made."""
    hub = Consumer(world, store)
    body = {**intel_body(), "enquiry_id": None, "unsolicited": True}
    value = seal(world, "police.devon", "INTEL", R, body, [SectionInput("police_incidents", incidents())])
    hub.feed(R, release(world, value, R, late=True))
    view = render(store.conn, R, now_micros())
    assert view is not None
    (section,) = view["contributions"]["police"]
    assert section["late"] is True
    assert view["late_information"]["sections"] == 1
    assert date.fromisoformat(view["updated_at"][:10]) <= date.today()
