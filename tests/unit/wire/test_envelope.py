"""seal / verify / rekey / open, and every kind of bad input getting its own typed error."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from devkit.testkit.wire import World, contact, identity, incidents, intel_body, make_world, normalized
from jigsaw.errors import (
    BadMagic,
    BadSignature,
    CiphertextCorrupt,
    ContextMismatch,
    DuplicateSection,
    KeyMismatch,
    NotARecipient,
    OversizedRecord,
    PayloadInvalid,
    RevokedKey,
    TruncatedRecord,
    UnknownSchema,
    UnknownSender,
    WrongEpoch,
)
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import ENVELOPE, Envelopes, SectionInput, Withhold, _signing_bytes
from jigsaw.wire.framing import micros
from jigsaw.wire.keys import KeyGeneration, ParticipantKeys

R = "R-0001"


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return make_world(registry)


def _seal(world: World, sender: str = "police.devon", to: tuple[str, ...] = ("broker",), **kw: Any) -> bytes:
    sections = kw.pop("sections", None) or [
        SectionInput("identity", identity()),
        SectionInput("police_incidents", incidents()),
        SectionInput("contact", contact()),
    ]
    return world.party(sender).seal(
        kind="INTEL", referral_id=R, body=intel_body(), sections=sections, recipients=list(to), **kw
    )


def _tamper(world: World, value: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """Decode, change and re-encode, leaving every signature as it was."""
    schema = world.registry.latest(ENVELOPE)
    env = world.registry.decode(value, schema)
    change(env)
    return world.registry.encode(schema, env)


def _resign(world: World, sender: str, env: dict[str, Any]) -> None:
    env["signature"] = world.keys[sender].current.sign.sign(_signing_bytes(env, micros(env["created_at"])))


def test_open_gives_back_exactly_what_was_sealed(world: World) -> None:
    opened = world.party("broker").open(_seal(world), R.encode())
    assert opened.kind == "INTEL"
    assert opened.sender == "police.devon"
    newest = {"connector_version": None, "confidential_addresses": []}
    assert opened.body == {**intel_body(), **newest}, "read with the newest IntelReturn"
    reg = world.registry
    assert opened.section("police_incidents", "S1").payload == normalized(
        reg, "police_incidents", incidents()
    )  # type: ignore[union-attr]
    assert opened.section("identity", "S1").payload == normalized(reg, "identity", identity())  # type: ignore[union-attr]
    assert opened.release is None


def test_rekey_rewraps_released_sections_and_withholds_the_rest_without_touching_ciphertext(
    world: World,
) -> None:
    value = _seal(world)
    broker = world.party("broker")
    verified = broker.verify(value, R.encode())
    release = broker.rekey(
        verified,
        "csc-mash",
        {("police_incidents", "S1"): Withhold("not at screening", "R-STAGE-1")},
        decision_id="D-1",
        policy_version="isa-2026.1",
    )

    opened = world.party("csc-mash").open(release, R.encode())
    assert opened.release is not None
    assert opened.release.decision_id == "D-1"
    assert opened.section("identity", "S1").payload == normalized(world.registry, "identity", identity())  # type: ignore[union-attr]
    withheld = opened.section("police_incidents", "S1")
    assert withheld is not None
    assert withheld.payload is None
    assert withheld.withheld == Withhold("not at screening", "R-STAGE-1")

    schema = world.registry.latest(ENVELOPE)
    before = world.registry.decode(value, schema)["sections"]
    after = world.registry.decode(release, schema)["sections"]
    for b, a in zip(before, after, strict=True):
        assert a["digest"] == b["digest"]
        assert a["nonce"] == b["nonce"]
        if a["withheld"] is None:
            assert a["ciphertext"] == b["ciphertext"], "ciphertext is carried byte for byte"
            assert [k["recipient"] for k in a["wrapped_keys"]] == ["csc-mash"]
        else:
            assert a["ciphertext"] is None
            assert a["wrapped_keys"] == []


def test_a_release_opens_only_for_its_subscriber(world: World) -> None:
    broker = world.party("broker")
    release = broker.rekey(
        broker.verify(_seal(world), R.encode()), "csc-mash", {}, decision_id="D-1", policy_version="v1"
    )
    with pytest.raises(NotARecipient):
        world.party("police-mash").open(release, R.encode())


def test_a_tampered_release_stamp_is_caught(world: World) -> None:
    broker = world.party("broker")
    release = broker.rekey(
        broker.verify(_seal(world), R.encode()),
        "csc-mash",
        {("contact", "S1"): Withhold("x", "R1")},
        decision_id="D-1",
        policy_version="v1",
    )

    def unwithhold(env: dict[str, Any]) -> None:
        env["sections"][2]["withheld"]["reason"] = "changed"

    with pytest.raises(BadSignature):
        world.party("csc-mash").open(_tamper(world, release, unwithhold), R.encode())


def test_only_a_broker_may_stamp_a_release(world: World) -> None:
    rogue = world.party("police-mash")  # a subscriber that received a message, posing as the broker
    verified = rogue.verify(_seal(world, to=("police-mash",)), R.encode())
    release = rogue.rekey(verified, "csc-mash", {}, decision_id="D", policy_version="v")
    with pytest.raises(BadSignature, match="not a broker"):
        world.party("csc-mash").open(release, R.encode())


# -- bad input: each its own typed error ---------------------------------------------------------


def test_truncated_record(world: World) -> None:
    value = _seal(world)
    with pytest.raises(TruncatedRecord):
        world.party("broker").open(value[:-40], R.encode())
    with pytest.raises(TruncatedRecord):
        world.party("broker").open(value[:6], R.encode())


def test_wrong_magic(world: World) -> None:
    with pytest.raises(BadMagic):
        world.party("broker").open(b"\x00\x01" + _seal(world)[2:], R.encode())


def test_unknown_schema_fingerprint(world: World) -> None:
    value = _seal(world)
    with pytest.raises(UnknownSchema):
        world.party("broker").open(value[:2] + b"\x00" * 8 + value[10:], R.encode())


def test_bad_signature(world: World) -> None:
    def flip(env: dict[str, Any]) -> None:
        env["signature"] = bytes([env["signature"][0] ^ 1]) + env["signature"][1:]

    with pytest.raises(BadSignature):
        world.party("broker").open(_tamper(world, _seal(world), flip), R.encode())


def test_flipped_ciphertext_byte(world: World) -> None:
    def flip(env: dict[str, Any]) -> None:
        ct = env["sections"][1]["ciphertext"]
        env["sections"][1]["ciphertext"] = ct[:5] + bytes([ct[5] ^ 0x80]) + ct[6:]

    with pytest.raises(CiphertextCorrupt):
        world.party("broker").open(_tamper(world, _seal(world), flip), R.encode())


def test_section_moved_from_one_message_to_another(world: World) -> None:
    schema = world.registry.latest(ENVELOPE)
    donor = world.registry.decode(_seal(world), schema)

    def transplant(env: dict[str, Any]) -> None:
        env["sections"][1] = donor["sections"][1]

    pasted = _tamper(world, _seal(world), transplant)
    with pytest.raises(BadSignature):
        world.party("broker").open(pasted, R.encode())

    # Even re-signed by the sender, the moved section's associated data names the other message.
    def transplant_and_resign(env: dict[str, Any]) -> None:
        transplant(env)
        _resign(world, "police.devon", env)

    with pytest.raises(ContextMismatch):
        world.party("broker").open(_tamper(world, _seal(world), transplant_and_resign), R.encode())


def test_section_duplicated_within_a_message(world: World) -> None:
    def duplicate(env: dict[str, Any]) -> None:
        env["sections"].append(env["sections"][0])
        _resign(world, "police.devon", env)

    with pytest.raises(DuplicateSection):
        world.party("broker").open(_tamper(world, _seal(world), duplicate), R.encode())
    with pytest.raises(DuplicateSection):
        _seal(world, sections=[SectionInput("contact", contact()), SectionInput("contact", contact())])


def test_record_key_that_is_not_the_referral_id(world: World) -> None:
    with pytest.raises(KeyMismatch):
        world.party("broker").open(_seal(world), b"R-9999")
    with pytest.raises(KeyMismatch):
        world.party("broker").open(_seal(world), None)


def test_unknown_sender(world: World) -> None:
    outsider = world.add("outsider.x", "AGENCY_CONNECTOR", "police", publish=False)
    value = outsider.seal(
        kind="INTEL",
        referral_id=R,
        body=intel_body(),
        sections=[SectionInput("contact", contact())],
        recipients=["broker"],
    )
    with pytest.raises(UnknownSender):
        world.party("broker").open(value, R.encode())


def test_revoked_sender_key_refuses_new_messages_but_not_earlier_ones(world: World) -> None:
    earlier = _seal(world)
    world.publish("police.devon", revoked=True, reason="SUPERSEDED")
    with pytest.raises(RevokedKey):
        world.party("broker").open(_seal(world), R.encode())
    assert world.party("broker").open(earlier, R.encode()).sender == "police.devon"
    world.publish("police.devon", revoked=True, reason="KEY_COMPROMISE")
    with pytest.raises(RevokedKey):
        world.party("broker").open(earlier, R.encode())


def test_data_key_wrapped_for_another_recipient(world: World) -> None:
    for_health = _seal(world, to=("health.devon",))
    with pytest.raises(NotARecipient):
        world.party("broker").open(for_health, R.encode())

    def relabel(env: dict[str, Any]) -> None:
        for s in env["sections"]:
            s["wrapped_keys"][0]["recipient"] = "broker"

    with pytest.raises(NotARecipient):
        world.party("broker").open(_tamper(world, for_health, relabel), R.encode())


def test_wrong_epoch(world: World) -> None:
    value = _seal(world)
    fresh = ParticipantKeys("broker", "BROKER", None, {2: KeyGeneration.generate(2)})
    with pytest.raises(WrongEpoch):
        Envelopes(world.registry, world.directory, fresh).open(value, R.encode())


def test_oversized_record(world: World, registry: SchemaRegistry) -> None:
    big = [SectionInput("police_incidents", incidents(summary="x" * (registry.max_record_bytes + 1)))]
    with pytest.raises(OversizedRecord):
        _seal(world, sections=big)
    with pytest.raises(OversizedRecord):
        world.party("broker").open(b"\xc3\x01" + b"\x00" * registry.max_record_bytes, R.encode())


def test_valid_envelope_whose_payload_fails_its_schema(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = world.registry.encode_body

    def with_trailing_junk(schema: Any, record: Any) -> bytes:
        data = real(schema, record)
        return data + b"\x00junk" if schema.fullname.startswith("jigsaw.payload.") else data

    monkeypatch.setattr(world.registry, "encode_body", with_trailing_junk)
    value = _seal(world)
    monkeypatch.setattr(world.registry, "encode_body", real)
    with pytest.raises(PayloadInvalid):
        world.party("broker").open(value, R.encode())


def test_unknown_category_cannot_be_sealed(world: World) -> None:
    with pytest.raises(PayloadInvalid):
        _seal(world, sections=[SectionInput("favourite_colour", {"x": 1})])


def test_kek_cache_serves_repeat_wraps(world: World) -> None:
    police = world.party("police.devon")
    for _ in range(5):
        police.seal(
            kind="INTEL",
            referral_id=R,
            body=intel_body(),
            sections=[SectionInput("contact", contact())],
            recipients=["broker"],
        )
    assert police.keks.misses == 1
    assert police.keks.hits == 4


def test_digest_is_sha256_of_ciphertext(world: World) -> None:
    env = world.registry.decode(_seal(world), world.registry.latest(ENVELOPE))
    for s in env["sections"]:
        assert s["digest"] == hashlib.sha256(s["ciphertext"]).digest()


def test_a_subscriber_refuses_what_did_not_come_through_the_broker(world: World) -> None:
    direct = _seal(world, to=("csc-mash",))
    assert world.party("csc-mash").open(direct, R.encode()).release is None
    with pytest.raises(BadSignature, match="did not come through the broker"):
        world.party("csc-mash").open(direct, R.encode(), require_release=True)
