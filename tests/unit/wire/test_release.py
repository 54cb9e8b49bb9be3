"""The broker's Release record inside its release stamp (Envelope v3): each section's decision and purpose,
late information, the agreement's reference and the case's own ground travel signed by the broker, and an
older stamp without the record still opens."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from devkit.testkit.wire import World, contact, identity, intel_body, make_world
from jigsaw.errors import BadSignature, PayloadInvalid
from jigsaw.wire.codec import SchemaRegistry, default_schemas_dir
from jigsaw.wire.envelope import (
    ENVELOPE,
    Envelopes,
    ReleaseDetails,
    SectionInput,
    Withhold,
    _signing_bytes,
    _stamp_bytes,
)
from jigsaw.wire.framing import micros
from jigsaw.wire.release import RELEASE_BODY

R = "R-0001"
DETAILS = ReleaseDetails(
    purpose="LATE_INFORMATION",
    stage="DECIDED",
    decisions=[
        {
            "category": "identity",
            "outcome": "RELEASE",
            "rule_id": "R-KNOWN-CONTACT",
            "reason": "r",
            "lawful_basis": "UK GDPR Art 6(1)(e)",
            "purpose": "LATE_INFORMATION",
        },
        {
            "category": "contact",
            "outcome": "WITHHOLD",
            "rule_id": "SYS-SCOPED-CONTACT",
            "reason": "x",
            "lawful_basis": None,
            "purpose": "LATE_INFORMATION",
        },
    ],
    late=True,
    agreement_ref="DEVON-MASH-ISA-2026",
    ground="WOULD_PREJUDICE_PROTECTION",
    family_informed=False,
)


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return make_world(registry)


def _release(
    world: World, registry: SchemaRegistry | None = None, details: ReleaseDetails | None = DETAILS
) -> bytes:
    """A release of a police return, sealed and stamped by writers with ``registry``'s schemas."""
    registry = registry or world.registry
    sender = Envelopes(registry, world.directory, world.keys["police.devon"])
    value = sender.seal(
        kind="INTEL",
        referral_id=R,
        body=intel_body(),
        sections=[SectionInput("identity", identity()), SectionInput("contact", contact())],
        recipients=["broker"],
    )
    broker = Envelopes(registry, world.directory, world.keys["broker"])
    return broker.rekey(
        broker.verify(value, R.encode()),
        "csc-mash",
        {("contact", "S1"): Withhold("WITHHOLD: x", "SYS-SCOPED-CONTACT")},
        decision_id="D-1",
        policy_version="v1",
        details=details,
    )


def _env(world: World, value: bytes) -> dict[str, Any]:
    return world.registry.decode(value, world.registry.latest(ENVELOPE))


def _encode(world: World, env: dict[str, Any]) -> bytes:
    return world.registry.encode(world.registry.latest(ENVELOPE), env)


def test_the_subscriber_reads_the_brokers_release_record(world: World) -> None:
    """DOMAIN "Lawful basis, per disclosure": each disclosure carries the agreement's reference and the
    case's own ground; a late return is flagged so that the decision can be revisited."""
    opened = world.party("csc-mash").open(_release(world), R.encode())
    info = opened.release
    assert info is not None
    assert (info.late, info.agreement_ref, info.ground, info.family_informed, info.purpose) == (
        True,
        "DEVON-MASH-ISA-2026",
        "WOULD_PREJUDICE_PROTECTION",
        False,
        "LATE_INFORMATION",
    )
    assert [(d["category"], d["rule_id"], d["purpose"]) for d in info.decisions] == [
        ("identity", "R-KNOWN-CONTACT", "LATE_INFORMATION"),
        ("contact", "SYS-SCOPED-CONTACT", "LATE_INFORMATION"),
    ]
    assert opened.section("identity", "S1").payload is not None  # type: ignore[union-attr]


def test_the_record_is_signed_by_the_stamp(world: World) -> None:
    """A release's late flag or ground cannot be changed, nor its record dropped, without the broker's
    signature breaking."""
    release = _release(world)
    env = _env(world, release)
    record = world.registry.decode(env["release"]["details"], RELEASE_BODY)
    record["late"] = False
    changed = {
        **env,
        "release": {
            **env["release"],
            "details": world.registry.encode(world.registry.latest(RELEASE_BODY), record),
        },
    }
    with pytest.raises(BadSignature):
        world.party("csc-mash").open(_encode(world, changed), R.encode())
    dropped = {**env, "release": {**env["release"], "details": None}}
    with pytest.raises(BadSignature):
        world.party("csc-mash").open(_encode(world, dropped), R.encode())


def test_a_record_from_another_release_is_refused_even_when_signed(world: World) -> None:
    env = _env(world, _release(world))
    record = world.registry.decode(env["release"]["details"], RELEASE_BODY)
    stamp = {
        **env["release"],
        "details": world.registry.encode(
            world.registry.latest(RELEASE_BODY), {**record, "decision_id": "D-2"}
        ),
    }
    signed = hashlib.sha256(_signing_bytes(env, micros(env["created_at"]))).digest()
    stamp["signature"] = world.keys["broker"].current.sign.sign(
        _stamp_bytes(signed, env["signature"], stamp, env["sections"])
    )
    with pytest.raises(PayloadInvalid, match="not this release's"):
        world.party("csc-mash").open(_encode(world, {**env, "release": stamp}), R.encode())


def test_a_stamp_without_a_record_reads_with_the_defaults(world: World, tmp_path: Path) -> None:
    """A release stamped before the record existed (an Envelope v2 writer, or none given) still opens."""
    plain = world.party("csc-mash").open(_release(world, details=None), R.encode()).release
    assert plain is not None
    assert (plain.late, plain.agreement_ref, plain.decisions) == (False, None, ())
    root = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), root)
    (root / "envelope" / "Envelope.v3.avsc").unlink()
    opened = world.party("csc-mash").open(_release(world, SchemaRegistry.load(root)), R.encode())
    assert opened.release is not None
    assert opened.release.late is False
    assert opened.section("identity", "S1").payload is not None  # type: ignore[union-attr]
