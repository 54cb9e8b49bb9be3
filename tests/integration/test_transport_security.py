"""Transport security and least privilege, through the real secured Kafka (no fakes).

Who may connect at all (SCRAM over TLS, or a client certificate on the mTLS listener; nothing in clear, no
anonymous TLS, no wrong password), and what each principal may do once signed in: exactly the grants of
``jigsaw.access.plan`` for its role. Every test tries to do more than it is granted and asserts Kafka's
refusal, beside the honest action that works, so that none can pass by refusing everything. Then the
operator's side: ``jigsaw kafka acls apply`` makes the cluster match the plan and removes a stray grant, and
a service refused by the ACLs stops with a clear error rather than running on silently.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
    for_code,
)
from aiokafka.structs import TopicPartition
from pydantic import SecretStr

from devkit.localkafka import LocalKafka
from devkit.testkit.broker import PASSPHRASE, POLICY, setup_world, write_keys
from jigsaw.access.plan import Plan, plan
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer, preflight
from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings, TlsSettings
from jigsaw.errors import ConfigError, FatalError, TransientError
from jigsaw.roster import load_roster
from jigsaw.service_env import service_env
from jigsaw.serving import free_port
from jigsaw.topics import TopicName, Topics, TopicSpec
from jigsaw.wire.codec import SchemaRegistry
from tests.integration import kafkautil as ku

with warnings.catch_warnings():
    # kafka-python 3.0 (the ACL calls) loads its protocol schemas with importlib.resources' legacy
    # read_text, which warns on Python 3.11; this suite turns every warning into an error, at collection too.
    warnings.filterwarnings("ignore", r"\w+ is deprecated\. Use files\(\) instead", DeprecationWarning)
    from jigsaw.access import cluster

pytestmark = pytest.mark.integration

CONNECT_S = 15.0  # a refused connection fails at once; this only bounds a hung one
GRANT_S = 30.0  # bounds the wait for an ACL change to reach the broker's authorizer
HUB_EXIT_S = 60.0  # bounds the wait for a refused service to stop (it takes a few seconds when it does)
NOT_AUTHORIZED = {TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno}
ROSTER = load_roster(POLICY)


# -- helpers ----------------------------------------------------------------------------------------------
def _as(lk: LocalKafka, principal: str, prefix: str, *, mtls: bool = False) -> KafkaSettings:
    return lk.client(principal, mtls=mtls, topic_prefix=prefix, client_id=f"{prefix}-{principal}")


async def _start_fails(settings: KafkaSettings) -> None:
    """Start a producer and a consumer with ``settings``: both must fail to connect, and soon."""
    for client in (
        AIOKafkaProducer(**{**settings.client_kwargs(), "request_timeout_ms": 5000}),
        AIOKafkaConsumer(**{**settings.client_kwargs(), "request_timeout_ms": 5000}),
    ):
        try:
            with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
                await asyncio.wait_for(client.start(), CONNECT_S)
        finally:
            await client.stop()


async def _works(settings: KafkaSettings) -> None:
    """The honest counterpart: ``preflight`` passes and a client bootstraps (metadata answered)."""
    await preflight(settings)
    consumer = AIOKafkaConsumer(**settings.client_kwargs())
    try:
        await asyncio.wait_for(consumer.start(), CONNECT_S)
        assert isinstance(await consumer.topics(), set)
    finally:
        await consumer.stop()


async def _write(settings: KafkaSettings, topic: str, value: bytes = b"attempt") -> int:
    """Write one record as ``settings``' principal; Kafka's refusal raises (aiokafka's error)."""
    async with Producer(settings) as producer:
        meta = await producer.send_and_wait(topic, value, key=b"R-1")
    return int(meta.offset)


async def _read(
    settings: KafkaSettings, topic: str, group: str | None = None, want: int = 1, timeout_s: float = 30.0
) -> list[bytes]:
    """Read ``topic`` from its start as ``settings``' principal (subscribed in ``group`` if given) until
    ``want`` records came. Kafka's refusal raises: a topic the principal may not even describe as the
    error Kafka answered the metadata request with (aiokafka only logs that for a subscription), a topic it
    may describe but not read, or a group it may not join, as the error the fetch or the join raised."""
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"]:
        raise for_code(described["error_code"])(topic)
    consumer = AIOKafkaConsumer(
        **settings.client_kwargs(), group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, p["partition"]) for p in described["partitions"]])
        else:
            consumer.subscribe([topic])
        out: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < want:
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} of {want} records from {topic} in {timeout_s}s")
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(m.value for m in msgs)
        return out
    finally:
        await consumer.stop()


async def _refused(
    attempt: Awaitable[Any], resource: str, error: type[BaseException] = TopicAuthorizationFailedError
) -> None:
    """``attempt`` fails with Kafka's authorization error for ``resource`` (a topic, or a group)."""
    with pytest.raises(error) as caught:
        await attempt
    assert resource in str(caught.value), f"refused for {resource}, not for something else: {caught.value}"


async def _until(check: Any, what: str, timeout_s: float = GRANT_S) -> None:
    """Poll the coroutine function ``check`` until it returns true (an ACL change reaching the authorizer)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.2)


async def _can_read(settings: KafkaSettings, topic: str) -> bool:
    try:
        await _read(settings, topic, timeout_s=10.0)
    except TopicAuthorizationFailedError:
        return False
    return True


def _empty_plan(prefix: str) -> Plan:
    """No grants under ``prefix``: applying it removes every ACL of that namespace (test clean-up)."""
    return Plan(prefix, (), (), ())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apps.cli", *args],
        cwd=ku.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def granted(kafka: KafkaSettings, kafka_admin: KafkaSettings, topics: Topics) -> AsyncIterator[Plan]:
    """The deployment's topics under this test's prefix (one partition each) and the plan's ACLs on them,
    with one record on each topic a test tries to read, so that a read that should be refused has something
    to take. The ACLs of the prefix are removed afterwards."""
    the_plan = plan(ROSTER, topics, partitions=1)
    await ensure_topics(kafka, the_plan.topics)
    await asyncio.to_thread(cluster.apply, kafka_admin, the_plan)

    async def settled() -> bool:
        return (await asyncio.to_thread(cluster.compare, kafka_admin, the_plan)).empty

    await _until(settled, "the plan's ACLs visible to the broker")
    async with Producer(kafka) as producer:
        readable = [topics.intel(a) for a in ROSTER.agencies]
        readable += [topics.release(s) for s in ROSTER.subscriber_ids] + [topics.enquiries]
        for topic in readable:
            await producer.send_and_wait(topic, b"held by " + topic.encode(), key=b"R-1")
    yield the_plan
    await asyncio.to_thread(cluster.apply, kafka_admin, _empty_plan(topics.prefix))


# -- 1. who may connect -----------------------------------------------------------------------------------
async def test_only_scram_over_tls_or_a_client_certificate_gets_in(local_kafka: LocalKafka) -> None:
    scram = local_kafka.client("police.devon")
    mtls = local_kafka.client("police.devon", mtls=True)
    ca = TlsSettings(cafile=local_kafka.tls.ca)
    assert scram.bootstrap != mtls.bootstrap, "two listeners: SCRAM over TLS, and mTLS"

    # In clear to the SASL_SSL listener: no TLS, no credential.
    plaintext = KafkaSettings(bootstrap=scram.bootstrap, security_protocol="PLAINTEXT")
    await _start_fails(plaintext)
    with pytest.raises(FatalError, match="closed the connection"):
        await preflight(plaintext)
    # SCRAM without TLS: the credential would cross the wire unencrypted; the listener will not have it.
    sasl_plaintext = scram.model_copy(update={"security_protocol": "SASL_PLAINTEXT", "tls": None})
    await _start_fails(sasl_plaintext)
    with pytest.raises(FatalError):
        await preflight(sasl_plaintext)
    # TLS but no credential: anonymous.
    await _start_fails(KafkaSettings(bootstrap=scram.bootstrap, security_protocol="SSL", tls=ca))
    # A known user with the wrong password.
    wrong = KafkaSettings(
        bootstrap=scram.bootstrap,
        security_protocol="SASL_SSL",
        sasl_username="police.devon",
        sasl_password=SecretStr("not-the-password"),
        tls=ca,
    )
    with pytest.raises(FatalError, match=r"refused the credential of police\.devon") as caught:
        await preflight(wrong)
    assert "not-the-password" not in str(caught.value), "the error never carries the secret"
    await _start_fails(wrong)
    # The mTLS listener without a client certificate, and in clear.
    no_cert = KafkaSettings(bootstrap=mtls.bootstrap, security_protocol="SSL", tls=ca)
    await _start_fails(no_cert)
    with pytest.raises(FatalError):
        await preflight(no_cert)
    await _start_fails(KafkaSettings(bootstrap=mtls.bootstrap, security_protocol="PLAINTEXT"))

    # The right credentials, each way.
    await _works(scram)
    await _works(mtls)


async def test_preflight_names_a_tls_client_without_credentials_on_the_scram_listener(
    local_kafka: LocalKafka,
) -> None:
    """A service configured with ``security_protocol: SSL`` and no certificate, pointed at the SASL_SSL
    listener, cannot get in (see above); preflight exists to say so at start with a plain reason."""
    anonymous = KafkaSettings(
        bootstrap=local_kafka.client().bootstrap,
        security_protocol="SSL",
        tls=TlsSettings(cafile=local_kafka.tls.ca),
    )
    await _start_fails(anonymous)
    # Kafka answers ApiVersions before anyone signs in: preflight must ask for more to see the refusal.
    with pytest.raises(FatalError, match="closed the connection"):
        await preflight(anonymous)


# -- 2. a connector -----------------------------------------------------------------------------------------
async def test_a_connector_writes_its_own_intel_and_nothing_else(
    local_kafka: LocalKafka, kafka: KafkaSettings, topics: Topics, granted: Plan, prefix: str
) -> None:
    police = _as(local_kafka, "police.devon", prefix)
    own, health = topics.intel("police"), topics.intel("health")

    assert await _write(police, own, b"police return") >= 0
    await _refused(_write(police, health, b"forged health return"), health)
    assert [r.value for r in await read_to_end(kafka, health)] == [b"held by " + health.encode()]
    # It reads nothing it is not given: no release, no other agency's intel, not even its own topic.
    for sub in ROSTER.subscriber_ids:
        release = topics.release(sub)
        await _refused(_read(police, release, topics.group("police.devon")), release)
        await _refused(_read(police, release), release)
    await _refused(_read(police, health, topics.group("police.devon")), health)
    await _refused(_read(police, own, topics.group("police.devon")), own)
    await _refused(_read(police, own), own)
    # What it is given: the enquiries, in its own group.
    assert await _read(police, topics.enquiries, topics.group("police.devon")) == [
        b"held by " + topics.enquiries.encode()
    ]

    # No topic administration: neither create nor delete.
    admin = AIOKafkaAdminClient(**police.client_kwargs())
    await admin.start()
    try:
        made = f"{prefix}.jigsaw.made-by-police.v1"
        created = await admin.create_topics([NewTopic(made, 1, 1)])
        codes = {t: code for t, code, *_ in created.topic_errors}
        assert set(codes) == {made}
        assert set(codes.values()) <= NOT_AUTHORIZED, codes
        deleted = await admin.delete_topics([own, health])
        codes = dict(deleted.topic_error_codes)
        assert set(codes) == {own, health}
        assert set(codes.values()) <= NOT_AUTHORIZED, codes
    finally:
        await admin.close()
    with pytest.raises(ConfigError, match=r"police\.devon may not create topics"):
        await ensure_topics(police, [TopicSpec(TopicName(made), 1)])
    names = set(await _list_topics(kafka))
    assert made not in names
    assert {own, health} <= names, "the topics it tried to delete are still there"


async def test_a_connector_signed_in_by_certificate_has_the_same_grants(
    local_kafka: LocalKafka, topics: Topics, granted: Plan, prefix: str
) -> None:
    police = _as(local_kafka, "police.devon", prefix, mtls=True)
    assert police.security_protocol == "SSL"
    assert police.sasl_username is None
    assert police.credentials is None

    assert await _write(police, topics.intel("police"), b"police return over mTLS") >= 0
    health, release = topics.intel("health"), topics.release("csc-mash")
    await _refused(_write(police, health, b"forged over mTLS"), health)
    await _refused(_read(police, release, topics.group("police.devon")), release)
    await _refused(
        _read(police, topics.enquiries, topics.group("health.devon")),
        topics.group("health.devon"),
        GroupAuthorizationFailedError,
    )
    assert await _read(police, topics.enquiries, topics.group("police.devon")) == [
        b"held by " + topics.enquiries.encode()
    ]


async def test_the_outsider_signs_in_but_may_do_nothing(
    local_kafka: LocalKafka, topics: Topics, granted: Plan, prefix: str
) -> None:
    outsider = _as(local_kafka, "outsider", prefix)
    await preflight(outsider)  # it is who it says it is ...
    with pytest.raises(FatalError, match="refuses outsider"):  # ... and is granted nothing
        await _write(outsider, topics.intel("police"))
    for topic in (topics.keys, topics.enquiries, topics.release("csc-mash"), topics.intel("police")):
        await _refused(_read(outsider, topic), topic)


async def _list_topics(settings: KafkaSettings) -> list[str]:
    admin = AIOKafkaAdminClient(**settings.client_kwargs())
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


# -- 3. a hub -----------------------------------------------------------------------------------------------
async def test_a_desk_hub_reads_only_its_own_release_and_writes_no_intel(
    local_kafka: LocalKafka, topics: Topics, granted: Plan, prefix: str
) -> None:
    hub = _as(local_kafka, "hub.police-mash", prefix)
    group = topics.group("hub.police-mash")

    assert await _read(hub, topics.release("police-mash"), group) == [
        b"held by " + topics.release("police-mash").encode()
    ]
    mash = topics.release("csc-mash")
    await _refused(_read(hub, mash, group), mash)
    await _refused(_read(hub, mash), mash)
    assert await _write(hub, topics.decisions, b"the desk's decision") >= 0, "it may send a DECISION"
    for agency in ROSTER.agencies:
        await _refused(_write(hub, topics.intel(agency), b"intel forged by a hub"), topics.intel(agency))
    own = topics.release("police-mash")
    await _refused(_write(hub, own, b"a release forged by its reader"), own)


# -- 4. consumer groups -------------------------------------------------------------------------------------
async def test_no_participant_joins_another_participants_group(
    local_kafka: LocalKafka, topics: Topics, granted: Plan, prefix: str
) -> None:
    police = _as(local_kafka, "police.devon", prefix)
    held = [b"held by " + topics.enquiries.encode()]

    for other in (topics.group("health.devon"), topics.group("broker"), f"{prefix}-any-group"):
        await _refused(_read(police, topics.enquiries, other), other, GroupAuthorizationFailedError)
    assert await _read(police, topics.enquiries, topics.group("police.devon")) == held
    health = _as(local_kafka, "health.devon", prefix)
    assert await _read(health, topics.enquiries, topics.group("health.devon")) == held


# -- 5. the operator's apply and check ----------------------------------------------------------------------
async def test_apply_converges_and_removes_a_stray_grant_in_its_own_namespace_only(
    local_kafka: LocalKafka, kafka_admin: KafkaSettings, topics: Topics, prefix: str
) -> None:
    other = Topics(f"{prefix}b")  # shares the prefix's first characters, not its namespace
    police = _as(local_kafka, "police.devon", prefix)
    stray = cluster.Entry(
        "User:police.devon", "TOPIC", topics.release("csc-mash"), "LITERAL", "READ", "ALLOW", "*"
    )
    neighbour = cluster.Entry(
        "User:police.devon", "TOPIC", other.release("csc-mash"), "LITERAL", "READ", "ALLOW", "*"
    )
    the_plan = plan(ROSTER, topics, partitions=1)
    plan_args = ("kafka", "acls", "plan", "--policy", str(POLICY), "--prefix", prefix, "--check")
    apply_args = ("kafka", "acls", "apply", "--policy", str(POLICY), "--prefix", prefix, "--partitions", "1")
    try:
        first = _cli(*apply_args)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"acls: {len(the_plan.grants)} added, 0 removed" in first.stdout
        checked = _cli(*plan_args)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "the cluster matches the plan" in checked.stdout

        async with Producer(kafka_admin) as producer:
            await producer.send_and_wait(topics.release("csc-mash"), b"the MASH's release", key=b"R-1")
        assert not await _can_read(police, topics.release("csc-mash"))
        await asyncio.to_thread(cluster.add_acls, kafka_admin, [stray, neighbour])

        async def stray_effective() -> bool:
            return await _can_read(police, topics.release("csc-mash"))

        await _until(stray_effective, "the stray grant lets police.devon read the MASH's release")
        drifted = _cli(*plan_args)
        assert drifted.returncode == 1, drifted.stdout + drifted.stderr
        assert f"- {stray.line()}" in drifted.stdout.splitlines()
        assert neighbour.name not in drifted.stdout, "another prefix's ACL is not this plan's business"

        second = _cli(*apply_args)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"- {stray.line()}" in second.stdout.splitlines()
        assert "acls: 0 added, 1 removed" in second.stdout

        async def stray_gone() -> bool:
            return not await _can_read(police, topics.release("csc-mash"))

        await _until(stray_gone, "police.devon refused the MASH's release again")
        third = _cli(*plan_args)
        assert third.returncode == 0, third.stdout + third.stderr
        assert "the cluster matches the plan" in third.stdout

        theirs = await asyncio.to_thread(cluster.compare, kafka_admin, plan(ROSTER, other, partitions=1))
        assert neighbour in theirs.remove, "apply for one prefix left the other prefix's ACL alone"
    finally:
        await asyncio.to_thread(cluster.apply, kafka_admin, _empty_plan(topics.prefix))
        await asyncio.to_thread(cluster.apply, kafka_admin, _empty_plan(other.prefix))


# -- 6. a refused service says so and stops -----------------------------------------------------------------
def _hub_env(lk: LocalKafka, prefix: str, tmp: Path, participant: str) -> dict[str, str]:
    keys = tmp / "keys"
    keys.mkdir(exist_ok=True)
    world = setup_world(SchemaRegistry.load(), POLICY)
    write_keys(world, keys, "police-mash", "health-mash", participant)
    return service_env(
        "JIGSAW_HUB__",
        {
            "kafka": _as(lk, participant, prefix),
            "hub_participant": participant,
            "policy": POLICY,
            "keys": {"dir": keys, "passphrase": PASSPHRASE},
            "state_dir": tmp / "state",
            "api_port": 0,
            "metrics": {"enabled": False},
            "partitions": 1,
        },
    )


async def _exit_status(worker: ku.Worker, timeout_s: float) -> int | None:
    try:
        return await asyncio.to_thread(worker.proc.wait, timeout_s)
    except subprocess.TimeoutExpired:
        return None


async def test_a_hub_refused_its_release_topic_stops_with_a_clear_error(
    local_kafka: LocalKafka, topics: Topics, granted: Plan, prefix: str, tmp_path: Path
) -> None:
    env = _hub_env(local_kafka, prefix, tmp_path, "hub.police-mash")
    own, foreign = topics.release("police-mash"), topics.release("health-mash")

    # The honest run: the police desk's hub, on its own release topic, comes up and is given its partition.
    honest = ku.Worker(
        ["-m", "apps.cli", "hub", "run", "--subscriber", "police-mash"], tmp_path / "ok.log", env
    )
    try:
        await honest.ready("hub ready")

        def assigned() -> bool:
            return any("assigned partitions" in line and own in line for line in honest.output().splitlines())

        await ku.eventually(assigned, 30, f"the hub assigned {own}")
        assert honest.terminate() == 0, honest.output()
    finally:
        if honest.proc.poll() is None:
            honest.kill9()
    assert "refuses" not in honest.output()

    # The same principal told to assemble the health desk's releases, which it is not granted.
    args = ["-m", "apps.cli", "hub", "run", "--subscriber", "health-mash"]
    refused = ku.Worker(args, tmp_path / "refused.log", env | {"JIGSAW_HUB__STATE_DIR": str(tmp_path / "s2")})
    try:
        status = await _exit_status(refused, HUB_EXIT_S)
        out = refused.output()
        assert status is not None, (
            f"the hub signed in as hub.police-mash, subscribed to {foreign} that Kafka refuses it, is still"
            f" running after {HUB_EXIT_S:.0f}s: a refused subscription must stop it with a clear error."
            f" Log tail:\n{out[-3000:]}"
        )
        assert status != 0, out
        assert "refuses" in out, out
        assert "hub.police-mash" in out, out
        assert foreign in out, out
    finally:
        if refused.proc.poll() is None:
            refused.kill9()


async def test_preflight_tries_the_next_bootstrap_server_when_the_first_is_down(
    local_kafka: LocalKafka,
) -> None:
    """One node of a cluster down must not keep a service from starting; none up is a transient error."""
    scram = local_kafka.client("police.devon")
    dead = f"127.0.0.1:{free_port()}"
    await preflight(scram.model_copy(update={"bootstrap": f"{dead},{scram.bootstrap}"}))
    with pytest.raises(TransientError, match="not reachable"):
        await preflight(scram.model_copy(update={"bootstrap": f"{dead},127.0.0.1:{free_port()}"}))
    # A refused credential is still refused outright, whichever server answers.
    wrong = KafkaSettings(
        bootstrap=f"{dead},{scram.bootstrap}",
        security_protocol="SASL_SSL",
        sasl_username="police.devon",
        sasl_password=SecretStr("not-the-password"),
        tls=TlsSettings(cafile=local_kafka.tls.ca),
    )
    with pytest.raises(FatalError, match="refused the credential"):
        await preflight(wrong)
