"""Topics, settings, lifecycle and the handler-outcome mapping."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from jigsaw.bus.admin import check_partitions
from jigsaw.bus.loop import call_handler
from jigsaw.bus.records import COMMIT, DeadLetter, Outcome, Record, RetryLater
from jigsaw.config import KafkaSettings, ServiceSettings, masked
from jigsaw.errors import ConfigError, FatalError, PayloadInvalid, TransientError
from jigsaw.ids import derived_id, new_msg_id, new_referral_id
from jigsaw.lifecycle import ClosedError, Component, supervise, wait_or_stop
from jigsaw.topics import Topics, TopicSpec


def test_topic_names_follow_the_design_and_take_a_prefix() -> None:
    assert Topics().intel("police.devon") == "jigsaw.intel.police-devon.v1"
    assert Topics("t1").release("csc-mash") == "t1.jigsaw.release.csc-mash.v1"
    assert Topics().audit == "jigsaw.audit.v1"
    with pytest.raises(ConfigError):
        Topics().intel("Police Devon")


def test_joined_topics_share_a_partition_count_and_the_key_topic_is_compacted() -> None:
    specs = {s.name: s for s in Topics().specs(["police"], ["csc"], partitions=6)}
    assert specs["jigsaw.intel.police.v1"].partitions == specs["jigsaw.referrals.v1"].partitions == 6
    assert specs["jigsaw.keys.v1"].config["cleanup.policy"] == "compact"
    assert specs["jigsaw.audit.v1"].config["retention.ms"] == "-1"


def test_settings_mask_secrets_and_read_nested_env(monkeypatch: pytest.MonkeyPatch) -> None:
    class Svc(ServiceSettings):
        model_config = SettingsConfigDict(**{**ServiceSettings.model_config, "env_prefix": "JIGSAW_SVC__"})

    monkeypatch.setenv("JIGSAW_SVC__KAFKA__BOOTSTRAP", "10.9.9.9:9093")
    monkeypatch.setenv("JIGSAW_SVC__KAFKA__SASL_PASSWORD", "hunter2")
    s = Svc()
    assert s.kafka.bootstrap == "10.9.9.9:9093"
    assert "hunter2" not in str(masked(s))
    with pytest.raises(ConfigError, match="needs a credential"):
        s.kafka.client_kwargs()  # secure by default: a password without a user name is no credential
    monkeypatch.setenv("JIGSAW_SVC__KAFKA__SASL_USERNAME", "police.devon")
    kw = Svc().kafka.client_kwargs()
    assert (kw["security_protocol"], kw["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert kw["sasl_plain_username"] == "police.devon"
    assert kw["sasl_plain_password"] == "hunter2"
    assert kw["ssl_context"].check_hostname, "aiokafka dials by address: the certificate must name it"
    with pytest.raises(ValidationError):
        KafkaSettings(security_protocol="TLS")  # type: ignore[arg-type]


def test_ids_are_opaque_and_derived_ids_deterministic() -> None:
    assert new_referral_id().startswith("R-")
    assert new_msg_id() != new_msg_id()
    assert derived_id("d", "m1", "csc") == derived_id("d", "m1", "csc") != derived_id("d", "m1", "pol")


class _Thing(Component):
    def __init__(self) -> None:
        self.stops = 0

    async def _stop(self) -> None:
        self.stops += 1


async def test_component_stop_is_idempotent_and_a_stopped_one_cannot_restart() -> None:
    thing = _Thing()
    async with thing:
        assert thing.started
    await thing.stop()
    assert thing.stops == 1
    with pytest.raises(ClosedError):
        await thing.start()


async def test_wait_or_stop_returns_early_on_stop() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_soon(stop.set)
    assert await wait_or_stop(stop, 30)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (PayloadInvalid("bad"), DeadLetter),
        (TransientError("later"), RetryLater),
        (ValueError("a bug, quoting input"), DeadLetter),
    ],
)
async def test_handler_errors_become_typed_outcomes(raised: Exception, expected: type) -> None:
    async def handler(record: Record) -> Outcome:
        raise raised

    outcome = await call_handler(handler, Record("t", 0, 0, None, b""))
    assert isinstance(outcome, expected)
    if isinstance(outcome, DeadLetter) and isinstance(raised, ValueError):
        assert outcome.detail == "ValueError", "an unexpected error's text is not recorded"


async def test_fatal_errors_propagate() -> None:
    async def handler(record: Record) -> Outcome:
        raise FatalError("keystore gone")

    with pytest.raises(FatalError):
        await call_handler(handler, Record("t", 0, 0, None, b""))


async def test_a_plain_commit_passes_through() -> None:
    async def handler(record: Record) -> Outcome:
        return COMMIT

    assert await call_handler(handler, Record("t", 0, 0, None, b"")) == COMMIT


async def test_supervise_restarts_a_failed_task_until_it_succeeds() -> None:
    runs: list[int] = []
    restarts: list[int] = []

    async def body() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise ValueError("a bug")

    await supervise("t", body, stop=asyncio.Event(), on_restart=lambda: restarts.append(1), backoff_s=0.001)
    assert (len(runs), len(restarts)) == (3, 2)


async def test_supervise_gives_up_loudly_after_failures_in_a_row() -> None:
    async def body() -> None:
        raise ValueError("a bug")

    with pytest.raises(FatalError, match=r"the t task failed 3 times in a row \(ValueError\)"):
        await supervise("t", body, stop=asyncio.Event(), backoff_s=0.001, give_up_after=3)


async def test_supervise_does_not_retry_a_fatal_error_or_restart_once_stopping() -> None:
    runs: list[int] = []

    async def fatal() -> None:
        runs.append(1)
        raise FatalError("keystore gone")

    with pytest.raises(FatalError, match="keystore gone"):
        await supervise("t", fatal, stop=asyncio.Event(), backoff_s=0.001)
    assert len(runs) == 1

    async def bug() -> None:
        runs.append(1)
        raise ValueError("a bug")

    stop = asyncio.Event()
    stop.set()
    await supervise("t", bug, stop=stop, backoff_s=0.001)
    assert len(runs) == 2


class _Admin:
    """Describes topics as a Kafka admin client would."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    async def describe_topics(self, names: list[str]) -> list[dict[str, object]]:
        return [
            {"topic": n, "error_code": 0, "partitions": [{"partition": p} for p in range(self.counts[n])]}
            for n in names
        ]


async def test_a_topic_with_the_wrong_partition_count_is_a_config_error_naming_it() -> None:
    specs = [TopicSpec(Topics().referrals, 3), TopicSpec(Topics().audit, 3), TopicSpec(Topics().dlq, 1)]
    await check_partitions(_Admin({s.name: s.partitions for s in specs}), specs)  # type: ignore[arg-type]
    wrong = _Admin({"jigsaw.referrals.v1": 3, "jigsaw.audit.v1": 1, "jigsaw.dlq.v1": 4})
    with pytest.raises(ConfigError) as caught:
        await check_partitions(wrong, specs)  # type: ignore[arg-type]
    assert "jigsaw.audit.v1 has 1 partitions, expected 3" in str(caught.value)
    assert "jigsaw.dlq.v1 has 4 partitions, expected 1" in str(caught.value)
    assert "referrals" not in str(caught.value)
