"""Topic creation with configured partition counts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from jigsaw.config import KafkaSettings
from jigsaw.errors import ConfigError, TransientError
from jigsaw.topics import TopicSpec

log = logging.getLogger(__name__)


async def ensure_topics(
    settings: KafkaSettings, specs: Sequence[TopicSpec], replication: int = 1
) -> list[str]:
    """Create the topics that do not exist yet. Returns the names it created."""
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        new = [NewTopic(s.name, s.partitions, replication, topic_configs=s.config) for s in missing]
        try:
            resp = await admin.create_topics(new)
        except TopicAlreadyExistsError:
            return []
        except KafkaError as exc:
            raise TransientError(f"creating topics failed: {exc}") from exc
        for name, code, *rest in getattr(resp, "topic_errors", []):
            if code not in (0, TopicAlreadyExistsError.errno):
                raise ConfigError(f"creating topic {name} failed with error {code}: {rest}")
        created: list[str] = [s.name for s in missing]
        log.info("created topics", extra={"topics": created})
        await _await_metadata(admin, created)
        return created
    finally:
        await admin.close()


async def _await_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    # A topic is usable once every broker's metadata lists it; poll rather than sleep blindly.
    for _ in range(100):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.05)
    raise TransientError(f"topics {names} did not appear in the metadata")
