"""The broker rig the rule and stage tests share: the real broker on the local Kafka, with the payload-
decrypting path made to fail for it (test files with a rig of their own override this one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devkit.testkit.broker import Rig
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Envelopes


@pytest.fixture
async def rig(
    kafka: KafkaSettings,
    topics: Topics,
    registry: SchemaRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Rig]:
    real = Envelopes._open_section

    def guarded(self: Envelopes, *args: Any, **kwargs: Any) -> Any:
        # The broker re-wraps data keys; it must never reach the code that decrypts a payload.
        assert self.me != "broker", "the broker tried to decrypt a payload"
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Envelopes, "_open_section", guarded)
    r = await Rig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()
