"""Topic creation with configured partition counts, and the check that existing topics have them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from jigsaw.bus.clients import AUTHORIZATION_REFUSED
from jigsaw.config import KafkaSettings
from jigsaw.errors import ConfigError, TransientError
from jigsaw.topics import TopicSpec

log = logging.getLogger(__name__)
_NOT_AUTHORIZED = {e.errno for e in AUTHORIZATION_REFUSED}


async def ensure_topics(
    settings: KafkaSettings, specs: Sequence[TopicSpec], replication: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet, and check that the others have the partition counts of
    ``specs``. Returns the names it created; raises ``ConfigError`` naming each topic whose count differs.

    ``replication`` unset takes the cluster's own ``default.replication.factor`` (3 on a 3-node cluster,
    whose ``min.insync.replicas`` of 2 then applies): the request's protocol version (aiokafka's v3) cannot
    ask the broker to use its default, and counting the brokers would under-replicate a topic created
    while one is down.
    """
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # Before creating anything: a deployment that is wrong in one topic should not half-create the rest.
        await check_partitions(admin, [s for s in specs if s.name in existing])
        missing = [s for s in specs if s.name not in existing]
        created = await _create(admin, missing, replication, settings.principal() or "this client")
        await check_partitions(admin, [s for s in missing if s.name not in created])
        return created
    finally:
        await admin.close()


def _not_granted(name: str, who: str) -> ConfigError:
    return ConfigError(
        f"topic {name} is missing or not granted to {who}, and {who} may not create topics: the operator"
        " creates a deployment's topics and grants with `jigsaw kafka acls apply`"
    )


async def _create(
    admin: AIOKafkaAdminClient, missing: list[TopicSpec], replication: int | None, who: str
) -> list[str]:
    if not missing:
        return []
    if replication is None:
        replication = await _default_replication(admin, ", ".join(s.name for s in missing), who)
    new = [NewTopic(s.name, s.partitions, replication, topic_configs=s.config) for s in missing]
    try:
        resp = await admin.create_topics(new)
    except TopicAlreadyExistsError:
        resp = None  # another process created them first: check what it created
    except AUTHORIZATION_REFUSED as exc:
        raise _not_granted(", ".join(s.name for s in missing), who) from exc
    except KafkaError as exc:
        raise TransientError(f"creating topics failed: {exc}") from exc
    lost: set[str] = set()
    for name, code, *rest in getattr(resp, "topic_errors", []):
        if code == TopicAlreadyExistsError.errno:
            lost.add(name)
        elif code in _NOT_AUTHORIZED:
            raise _not_granted(name, who)
        elif code != 0:
            raise ConfigError(f"creating topic {name} failed with error {code}: {rest}")
    created: list[str] = [s.name for s in missing if resp is not None and s.name not in lost]
    if created:
        log.info("created topics", extra={"topics": created})
    await _await_metadata(admin, [s.name for s in missing])
    return created


async def _default_replication(admin: AIOKafkaAdminClient, names: str, who: str) -> int:
    # Reading the broker's configuration needs a grant only the operator has: one refused it could not
    # create the topics either, so it gets the same error as a refused creation.
    try:
        cluster = await admin.describe_cluster()
        brokers = sorted(int(b["node_id"]) for b in cluster["brokers"])
        if not brokers:
            raise TransientError("the cluster named no brokers: cannot create topics yet")
        resource = ConfigResource(
            ConfigResourceType.BROKER, str(brokers[0]), {"default.replication.factor": None}
        )
        (resp,) = await admin.describe_configs([resource])
    except AUTHORIZATION_REFUSED as exc:
        raise _not_granted(names, who) from exc
    except KafkaError as exc:
        raise TransientError(f"reading the cluster's default replication failed: {exc}") from exc
    for error, message, _type, _name, entries in resp.resources:
        if error in _NOT_AUTHORIZED:
            raise _not_granted(names, who)
        if error:
            raise TransientError(f"reading the cluster's default replication failed: {error} {message}")
        for entry in entries:
            if entry[0] == "default.replication.factor":
                return int(entry[1])
    return 1


async def check_partitions(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    """Raise ``ConfigError`` if any existing topic's partition count differs from its spec.

    Joined topics must share one count for the range assignor to give partition n of each to one
    instance, and the audit chain is pinned per partition; a topic made by hand, or by a deployment
    configured differently, breaks both quietly. So this is fatal at start-up, with the numbers.
    """
    if not specs:
        return
    described = await admin.describe_topics([s.name for s in specs])
    actual: dict[str, int] = {}
    for d in described:
        if d["error_code"] != 0:
            raise TransientError(f"topic {d['topic']} cannot be described (error {d['error_code']})")
        actual[d["topic"]] = len(d["partitions"])
    wrong = [
        f"{s.name} has {actual[s.name]} partitions, expected {s.partitions}"
        for s in specs
        if s.name in actual and actual[s.name] != s.partitions
    ]
    if wrong:
        raise ConfigError(
            "topic partition counts differ from the deployment's (jigsaw/topics.py and the partitions"
            f" setting): {'; '.join(wrong)}. Set the partitions setting to match, or recreate the topic."
        )


async def _await_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    # A topic is usable once every broker's metadata lists it; poll rather than sleep blindly.
    for _ in range(100):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.05)
    raise TransientError(f"topics {names} did not appear in the metadata")
