"""When a participant's key runs out, as the key directory has it (what jigsaw_key_expiry_days counts)."""

from __future__ import annotations

import pytest

from devkit.testkit.wire import World, make_world
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros

DAY = 86_400 * 1_000_000


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return make_world(registry)


def test_a_usable_key_gives_its_own_expiry(world: World) -> None:
    later = now_micros() + 30 * DAY
    world.publish("police.devon", not_after=later)
    assert world.directory.expires("police.devon") == (True, later)


def test_a_key_without_an_expiry_has_none(world: World) -> None:
    assert world.directory.expires("police.devon") == (True, None)


def test_an_expired_key_gives_its_past_expiry_until_a_new_one_is_published(world: World) -> None:
    past = now_micros() - DAY
    world.publish("police.devon", not_after=past)
    assert world.directory.expires("police.devon") == (True, past)
    later = now_micros() + 365 * DAY
    world.keys["police.devon"].rotate()
    world.publish("police.devon", epochs=[max(world.keys["police.devon"].generations)], not_after=later)
    assert world.directory.expires("police.devon") == (True, later)


def test_a_participant_whose_newest_key_is_revoked_is_retired_not_expiring(world: World) -> None:
    world.publish("police.devon", revoked=True, reason="CESSATION_OF_OPERATION")
    assert world.directory.expires("police.devon") == (False, None)


def test_after_a_rotation_the_new_key_counts(world: World) -> None:
    world.publish("police.devon", not_after=now_micros() + DAY)
    world.rotate("police.devon")
    assert world.directory.expires("police.devon") == (True, None)
