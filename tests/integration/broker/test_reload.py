"""A policy edit takes effect without a restart; an invalid edit is refused and the broker keeps going."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from devkit.testkit.broker import Rig, sections
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.kafkautil import eventually

_probe = itertools.count()


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[Rig]:
    r = await Rig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()


async def _decided_under(r: Rig, version: str) -> bool:
    """Send a fresh return and see which policy version decided it."""
    rid = f"R-PROBE-{next(_probe)}"
    await r.referral(rid, "RED")
    await r.intel("police.devon", rid, sections("identity"))
    await r.settle()
    return {a["policy_version"] for a in await r.audit(rid)} == {version}


async def test_policy_edit_is_hot_reloaded_and_a_bad_edit_refused(rig: Rig) -> None:
    await rig.referral("R-RELOAD", "RED")
    await rig.assign("R-RELOAD", "health-mash")
    await rig.intel("health.devon", "R-RELOAD", sections("mental_health"))
    await rig.settle()
    assert (await rig.view("health-mash", "R-RELOAD"))["mental_health"] == ("RELEASE", "")

    path = rig.settings.policy
    doc = yaml.safe_load(path.read_text())
    shipped = doc["version"]
    doc["version"] = f"{shipped}-edit-1"
    desk = next(r for r in doc["rules"] if r["id"] == "R-HEALTH-DESK")
    desk["categories"].remove("mental_health")
    path.write_text(yaml.safe_dump(doc))
    await eventually(lambda: _decided_under(rig, f"{shipped}-edit-1"), what="the edit took effect")

    await rig.intel("health.devon", "R-RELOAD", sections("mental_health", subject="S2"))
    await rig.settle()
    latest = [a for a in await rig.audit("R-RELOAD") if a["subscriber"] == "health-mash"]
    decided = [(a["policy_version"], a["outcome"]) for a in latest]
    assert (shipped, "RELEASE") in decided
    assert decided[-1] == (f"{shipped}-edit-1", "WITHHOLD"), "the new policy decides the new return"
    assert (await rig.view("health-mash", "R-RELOAD"))["mental_health"] == ("RELEASE", ""), (
        "what was lawfully released stays released"
    )

    path.write_text("version: [this is not a policy")
    await rig.referral("R-AFTER-BAD-EDIT", "RED")
    doc["version"] = f"{shipped}-edit-2"
    path.write_text(yaml.safe_dump(doc))
    await eventually(lambda: _decided_under(rig, f"{shipped}-edit-2"), what="a good edit after a bad one")
    assert rig.task is not None
    assert not rig.task.done(), "the broker kept running through the bad edit"
