"""An adversary at each trust boundary of the envelope, and the typed refusal it meets.

Each test forges what an attacker could write (a connector, anyone on a topic, the holder of an old key)
and asserts the error, and where it matters that the honest path beside it still works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from devkit.testkit.wire import World, contact, identity, incidents, intel_body, make_world
from jigsaw.bus.records import COMMIT, Record
from jigsaw.bus.store import Store
from jigsaw.errors import (
    BadSignature,
    CiphertextCorrupt,
    DeadLetterReason,
    ForgedWithheld,
    FutureDated,
    KeyNotValid,
    PayloadInvalid,
    Replay,
    RevokedKey,
    UnknownSender,
)
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import BENIGN_REVOCATIONS, KeyDirectory
from jigsaw.wire.envelope import ENVELOPE, SectionInput, Withhold, _signing_bytes
from jigsaw.wire.framing import micros, now_micros

R = "R-0007"
MINUTE = 60 * 1_000_000


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return make_world(registry)


def _seal(world: World, sender: str = "police.devon", to: tuple[str, ...] = ("broker",), **kw: Any) -> bytes:
    sections = [
        SectionInput("identity", identity()),
        SectionInput("police_incidents", incidents()),
        SectionInput("contact", contact()),
    ]
    return world.party(sender).seal(
        kind="INTEL", referral_id=R, body=intel_body(), sections=sections, recipients=list(to), **kw
    )


def _release(world: World, value: bytes, withheld: dict[tuple[str, str], Withhold] | None = None) -> bytes:
    broker = world.party("broker")
    return broker.rekey(
        broker.verify(value, R.encode()), "csc-mash", withheld or {}, decision_id="D-1", policy_version="v1"
    )


def _tamper(world: World, value: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    schema = world.registry.latest(ENVELOPE)
    env = world.registry.decode(value, schema)
    change(env)
    return world.registry.encode(schema, env)


def _sign_as(world: World, holder: str, env: dict[str, Any]) -> None:
    """Sign ``env`` as it stands with ``holder``'s private key: what whoever holds that key can do."""
    key = world.keys[holder].current.sign
    env["signature"] = key.sign(_signing_bytes(env, micros(env["created_at"])))


# -- a connector speaking for another agency ---------------------------------------------------------


def test_a_connector_cannot_sign_as_another_agency(world: World) -> None:
    def claim_health(env: dict[str, Any]) -> None:
        env["sender"] = "health.devon"  # with its own key id: not one of health's keys
        _sign_as(world, "police.devon", env)

    with pytest.raises(UnknownSender):
        world.party("broker").verify(_tamper(world, _seal(world), claim_health), R.encode())

    def name_healths_key(env: dict[str, Any]) -> None:
        env["sender"] = "health.devon"
        env["signer_kid"] = world.keys["health.devon"].current.sign_kid
        _sign_as(world, "police.devon", env)

    with pytest.raises(BadSignature):
        world.party("broker").verify(_tamper(world, _seal(world), name_healths_key), R.encode())

    def own_name_healths_key(env: dict[str, Any]) -> None:
        env["signer_kid"] = world.keys["health.devon"].current.sign_kid
        _sign_as(world, "police.devon", env)

    with pytest.raises(UnknownSender):
        world.party("broker").verify(_tamper(world, _seal(world), own_name_healths_key), R.encode())


# -- forged withheld notices (finding 3) -------------------------------------------------------------


def _mark_withheld(index: int, keep_data: bool) -> Callable[[dict[str, Any]], None]:
    def change(env: dict[str, Any]) -> None:
        s = env["sections"][index]
        s["withheld"] = {"reason": "WITHHOLD: no lawful basis", "rule_id": "R-DENY"}
        if not keep_data:
            s["ciphertext"], s["wrapped_keys"] = None, []

    return change


@pytest.mark.parametrize("keep_data", [True, False])
def test_an_agency_message_carrying_a_withheld_notice_is_refused(world: World, keep_data: bool) -> None:
    """The agency's signature still verifies (it never covered the notice): the notice itself is refused,
    so the broker cannot pass it through to a release, nor a subscriber show it."""
    forged = _tamper(world, _seal(world), _mark_withheld(1, keep_data))
    with pytest.raises(ForgedWithheld) as caught:
        world.party("broker").verify(forged, R.encode())
    assert caught.value.reason is DeadLetterReason.BAD_SIGNATURE
    direct = _tamper(world, _seal(world, to=("csc-mash",)), _mark_withheld(1, keep_data))
    with pytest.raises(ForgedWithheld):
        world.party("csc-mash").open(direct, R.encode())


def test_a_withheld_notice_added_to_a_release_is_refused(world: World) -> None:
    release = _release(world, _seal(world))
    with pytest.raises(ForgedWithheld):  # beside the ciphertext it claims to hide
        world.party("csc-mash").open(_tamper(world, release, _mark_withheld(1, True)), R.encode())
    with pytest.raises(BadSignature):  # in place of it: the broker's stamp no longer verifies
        world.party("csc-mash").open(_tamper(world, release, _mark_withheld(1, False)), R.encode())


def test_a_release_stamped_withheld_notice_opens_and_only_as_stamped(world: World) -> None:
    notice = Withhold("WITHHOLD: not at screening", "R-STAGE-1")
    release = _release(world, _seal(world), {("police_incidents", "S1"): notice})
    opened = world.party("csc-mash").open(release, R.encode(), require_release=True)
    assert opened.section("police_incidents", "S1").withheld == notice  # type: ignore[union-attr]

    def blank(env: dict[str, Any]) -> None:
        env["sections"][1]["withheld"] = {"reason": "", "rule_id": ""}

    with pytest.raises(ForgedWithheld):
        world.party("csc-mash").open(_tamper(world, release, blank), R.encode())
    with pytest.raises(PayloadInvalid):
        _release(world, _seal(world), {("contact", "S1"): Withhold("", "")})


# -- ciphertext that does not match its signed digest (finding 13) ------------------------------------


def _flip_ciphertext(env: dict[str, Any]) -> None:
    ct = env["sections"][2]["ciphertext"]
    env["sections"][2]["ciphertext"] = ct[:3] + bytes([ct[3] ^ 1]) + ct[4:]


def test_verify_refuses_a_ciphertext_that_does_not_match_its_digest(world: World) -> None:
    """Found on arrival, by the broker's verify, not later when it re-keys the held message."""
    with pytest.raises(CiphertextCorrupt) as caught:
        world.party("broker").verify(_tamper(world, _seal(world), _flip_ciphertext), R.encode())
    assert caught.value.reason is DeadLetterReason.INTEGRITY
    release = _release(world, _seal(world))
    with pytest.raises(CiphertextCorrupt):
        world.party("csc-mash").verify(_tamper(world, release, _flip_ciphertext), R.encode())


def test_a_non_canonical_encoding_of_a_signed_message_is_refused(world: World) -> None:
    """fastavro reads a negative enum index from the end of the symbols: the same value from other bytes,
    which every signature over the value would accept."""
    value = _seal(world)
    # After the referral id (6 bytes, length 0x0c) comes the kind: INTEL, symbol 2, zigzag 0x04; with n
    # symbols, 2 - n names the same symbol (zigzag -2(2 - n) - 1).
    schema = world.registry.latest(ENVELOPE)
    kinds = next(f["type"]["symbols"] for f in schema.parsed["fields"] if f["name"] == "kind")
    at = value.index(b"\x0c" + R.encode() + b"\x04") + 1 + len(R)
    changed = value[:at] + bytes([-2 * (2 - len(kinds)) - 1]) + value[at + 1 :]
    assert world.registry.decode(changed, schema) == world.registry.decode(value, schema)
    with pytest.raises(PayloadInvalid, match="canonical"):
        world.party("broker").open(changed, R.encode())


# -- keys judged at the right time (finding 4) -------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "UNSPECIFIED", "KEY_COMPROMISE"])
def test_a_backdated_message_under_a_key_revoked_for_any_possibly_compromising_reason(
    world: World, reason: str | None
) -> None:
    earlier = _seal(world)
    world.publish("police.devon", revoked=True, reason=reason)
    backdated = _seal(world, created_at=now_micros() - 60 * MINUTE)
    for value in (backdated, earlier):
        with pytest.raises(RevokedKey):
            world.party("broker").verify(value, R.encode())


@pytest.mark.parametrize("reason", sorted(BENIGN_REVOCATIONS))
def test_a_benign_revocation_is_judged_by_time(world: World, reason: str) -> None:
    earlier = _seal(world)
    world.publish("police.devon", revoked=True, reason=reason)
    assert world.party("broker").verify(earlier, R.encode()).msg_id
    with pytest.raises(RevokedKey):
        world.party("broker").verify(_seal(world), R.encode())


def test_a_revocation_reason_this_reader_does_not_know_is_absolute(world: World) -> None:
    """A reason added to a later KeyRecord schema reads here as the enum's default, UNSPECIFIED."""
    schema = world.registry.latest("jigsaw.body.KeyRecord")
    reason = next(f for f in schema.parsed["fields"] if f["name"] == "revocation_reason")
    (enum,) = [t for t in reason["type"] if isinstance(t, dict)]
    assert enum["default"] == "UNSPECIFIED"
    assert "UNSPECIFIED" not in BENIGN_REVOCATIONS


def test_a_message_dated_in_the_future_is_refused(world: World) -> None:
    with pytest.raises(FutureDated):
        world.party("broker").verify(_seal(world, created_at=now_micros() + 10 * MINUTE), R.encode())
    soon = _seal(world, created_at=now_micros() + MINUTE)  # within the default skew of 5 minutes
    assert world.party("broker").verify(soon, R.encode()).created_at > now_micros()


def test_the_clock_skew_window_is_configurable(world: World) -> None:
    strict = KeyDirectory(world.registry, world.root.current.sign.public_key(), max_clock_skew_us=0)
    for _, value in world.records:
        strict.apply(value)
    broker = world.party("broker")
    broker.directory = strict
    with pytest.raises(FutureDated):
        broker.verify(_seal(world, created_at=now_micros() + MINUTE), R.encode())


def test_a_key_is_refused_outside_its_validity_period(world: World) -> None:
    born = world.keys["police.devon"].current.created_at
    with pytest.raises(KeyNotValid, match="not yet valid"):
        world.party("broker").verify(_seal(world, created_at=born - MINUTE), R.encode())

    before_expiry = _seal(world)
    world.publish("police.devon", not_after=now_micros())
    assert world.party("broker").verify(before_expiry, R.encode()).msg_id
    with pytest.raises(KeyNotValid, match="expired"):
        world.party("broker").verify(_seal(world), R.encode())


# -- rotation: the honest path (finding 6) -----------------------------------------------------------


def test_an_old_release_signed_by_a_superseded_key_still_opens(world: World) -> None:
    notice = Withhold("WITHHOLD: not at screening", "R-STAGE-1")
    release = _release(world, _seal(world), {("contact", "S1"): notice})
    old_kid = world.keys["police.devon"].current.sign_kid
    world.rotate("police.devon")
    world.rotate("broker")
    world.rotate("csc-mash", reason=None)  # the subscriber keeps its old key to read what it was sent
    opened = world.party("csc-mash").open(release, R.encode(), require_release=True)
    assert (opened.agency, opened.signer_kid) == ("police", old_kid)
    assert opened.section("identity", "S1").payload is not None  # type: ignore[union-attr]
    assert opened.section("contact", "S1").withheld == notice  # type: ignore[union-attr]
    world.publish("police.devon", revoked=True, reason="CESSATION_OF_OPERATION")
    assert world.party("csc-mash").open(release, R.encode()).agency == "police"


def test_a_rotated_broker_key_may_stamp_a_release_of_an_older_message(world: World) -> None:
    """The stamp has no time of its own: its key must have been valid between the message and now."""
    value = _seal(world)
    world.rotate("broker")
    release = _release(world, value)
    assert world.party("csc-mash").open(release, R.encode()).release is not None


# -- the broker: a corrupted copy of a real message is corruption, not a replay ------------------------


@pytest.fixture
def broker_store(tmp_path: Path) -> Iterator[Store]:
    from services.broker import state

    store = Store(tmp_path / "broker.sqlite", state.SCHEMA)
    store.open()
    yield store
    store.close()


def test_the_broker_reports_a_corrupted_copy_as_corruption(
    registry: SchemaRegistry, broker_store: Store
) -> None:
    from devkit.testkit.broker import POLICY, setup_world
    from services.broker.decide import Decider
    from services.broker.metrics import BrokerMetrics
    from services.broker.policy import load_policy
    from services.broker.processor import BrokerProcessor

    world = setup_world(registry, POLICY)
    topics = Topics()
    processor = BrokerProcessor(
        world.party("broker"), Decider(load_policy(POLICY)), topics, BrokerMetrics(CollectorRegistry())
    )
    real = _seal(world)
    topic = topics.intel("police")

    def handle(value: bytes, offset: int) -> object:
        with broker_store.transaction() as tx:
            return processor(Record(topic, 0, offset, R.encode(), value), tx)

    assert handle(real, 0) == COMMIT
    assert handle(real, 1) == COMMIT  # an exact copy: a duplicate, dropped
    with pytest.raises(CiphertextCorrupt):
        handle(_tamper(world, real, _flip_ciphertext), 2)

    def resign_changed(env: dict[str, Any]) -> None:
        env["body"] = world.registry.encode_body(
            world.registry.latest("jigsaw.body.IntelReturn"), {**intel_body(), "enquiry_id": "E-2"}
        )
        _sign_as(world, "police.devon", env)

    with pytest.raises(Replay):  # the same id, validly signed, with other content
        handle(_tamper(world, real, resign_changed), 3)
