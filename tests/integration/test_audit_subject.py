"""`jigsaw audit subject` against real topics: signed, hash-chained audit records about a child and her
mother, read back for one person; first records sealed here (one as AuditRecord v2 wrote it), then the
broker's own, from a referral, an enquiry, two returns and a consent record.

The rules checked, and where they come from:
- UK GDPR Art 15 with DPA 2018 Sch 2 para 16 and Sch 3: a subject access response must not reveal a third
  party, or information likely to cause serious harm. The child's listing never shows her mother's records,
  and flags the safe contact details and the public referrer it must not reveal.
- The audit is evidence only if it verifies: the command walks the chain as `jigsaw audit verify` does, and
  a listing read from a chain with a record removed says so and exits 1.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from apps.cli import cli
from devkit.testkit.broker import Rig, sections, write_keys
from devkit.testkit.wire import World, make_world
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.records import Record
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics, TopicSpec
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from services.broker.audit import AUDIT_RECORD, _signing_bytes, chain_hash, seal_audit_record
from tests.integration import kafkautil as ku

_BASE: dict[str, Any] = {
    "source_msg_id": "m-1",
    "actor": "police.devon",
    "lawful_basis": None,
    "policy_version": "devon-mash-isa-2026.2",
    "purpose": "TRIAGE",
    "stage": "RED",
    "consent_state": "NONE",
    "event": "DECISION",
    "categories": [],
}
_V3: dict[str, Any] = {
    "agreement_ref": "DEVON-MASH-ISA-2026",
    "ground": "WOULD_PREJUDICE_PROTECTION",
    "family_informed": False,
    "not_informed_reason": "telling the family would alert the alleged abuser",
}

# (referral, subject, subscriber, category, outcome, rule, extra fields)
_R1 = [
    ("S-CHILD", "police.devon", "", "UNKNOWN", "Children Act 1989 s47",
     {"event": "ENQUIRY", "actor": "hub.devon", "categories": ["police_incidents"],
      "lawful_basis": "UK GDPR Art 6(1)(e) public task", "reason": "asked by the MASH for TRIAGE"}),
    ("", "csc-mash", "referrer_identity", "RELEASE", "R-CSC-REFERRER", {"version": 2}),
    ("S-CHILD", "csc-mash", "police_incidents", "RELEASE", "R-CSC-FULL",
     {"lawful_basis": "UK GDPR Art 6(1)(e) public task; UK GDPR Art 10", "protected": ["THIRD_PARTY"]}),
    ("S-CHILD", "police-mash", "victim_safe_contact", "WITHHOLD", "SYS-REDACTED",
     {"protected": ["CONFIDENTIAL_ADDRESS"]}),
    ("S-MOTHER", "health-mash", "mental_health", "RELEASE", "R-HEALTH-DESK", {}),
    ("S-MOTHER", "health.devon", "", "UNKNOWN", "Children Act 1989 s47",
     {"event": "ENQUIRY", "actor": "hub.devon", "categories": ["mental_health"]}),
]  # fmt: skip
_R2 = [
    ("S-CHILD", "csc-mash", "address", "REVIEW", "R-CSC-LATE",
     {"purpose": "LATE_INFORMATION", "stage": "DECIDED", "late": True}),
]  # fmt: skip


def _chain(registry: SchemaRegistry, world: World, referral: str, rows: list[Any]) -> list[bytes]:
    signer, prev, out = world.keys["broker"].current, bytes(32), []
    start = now_micros()  # after the broker's key became valid: keys are judged in their period
    for i, (subject, subscriber, category, outcome, rule, extra) in enumerate(rows):
        extra = dict(extra)
        version = extra.pop("version", 3)
        record = {
            **_BASE,
            "seq": i + 1,
            "prev_hash": prev,
            "decision_id": f"{referral}-d{i}",
            "referral_id": referral,
            "subscriber": subscriber,
            "category": category,
            "outcome": outcome,
            "rule_id": rule,
            "reason": f"decided by {rule}",
            "subject_ref": subject,
            "decided_at": start + i * 1000,
            **(_V3 if version == 3 else {}),
            **extra,
        }
        value = (
            seal_audit_record(registry, signer, record) if version == 3 else _seal_v2(registry, world, record)
        )
        out.append(value)
        prev = chain_hash(value)
    return out


def _seal_v2(registry: SchemaRegistry, world: World, record: dict[str, Any]) -> bytes:
    """A record as the broker wrote it before AuditRecord v3: it says nothing of what is protected."""
    schema, signer = registry.version(AUDIT_RECORD, 2), world.keys["broker"].current
    record = {**record, "broker_kid": signer.sign_kid, "signature": b""}
    decoded = registry.decode(registry.encode(schema, record), schema)
    signature = signer.sign.sign(_signing_bytes(registry, schema, decoded))
    return registry.encode(schema, {**record, "signature": signature})


_REPO = Path(__file__).resolve().parents[2]

Chains = list[list[tuple[bytes, bytes]]]  # one chain of (key, value) per audit partition


async def _deployment(kafka: KafkaSettings, topics: Topics, world: World, chains: Chains) -> None:
    await ensure_topics(
        kafka,
        [
            TopicSpec(topics.audit, 2, {"retention.ms": "-1"}),
            TopicSpec(topics.keys, 1, {"cleanup.policy": "compact", "retention.ms": "-1"}),
        ],
    )
    await ku.produce(kafka, topics.keys, world.records)
    audit = [
        Record(topics.audit, partition, 0, key, value)
        for partition, chain in enumerate(chains)
        for key, value in chain
    ]
    await ku.produce_records(kafka, topics.audit, audit)


async def _run(kafka: KafkaSettings, prefix: str, keys: Path, *args: str) -> Result:
    argv = [
        "audit",
        "subject",
        *args,
        "--bootstrap",
        kafka.bootstrap,
        "--prefix",
        prefix,
        "--keys-dir",
        str(keys),
    ]
    # The command runs its own event loop, so it runs on a thread beside this test's.
    return await asyncio.to_thread(CliRunner().invoke, cli, argv)


async def test_who_saw_what_about_one_person(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    world = make_world(registry)
    keys = tmp_path / "keys"
    write_keys(world, keys, "broker")
    r1, r2 = _chain(registry, world, "R-1", _R1), _chain(registry, world, "R-2", _R2)
    chains = [[(b"R-1", v) for v in r1], [(b"R-2", v) for v in r2]]
    await _deployment(kafka, topics, world, chains)

    shown = await _run(kafka, topics.prefix, keys, "S-CHILD")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert text.startswith("audit chain: 7 records, 0 exact duplicates; verified")
    assert "R-1  ENQUIRY  police.devon asked for police_incidents" in text
    assert "RELEASE  to csc-mash: police_incidents  [PROTECTED: THIRD_PARTY]" in text
    assert "REVIEW   to csc-mash: address  [late information]" in text
    # Written before v3, the referrer's identity is flagged from its category; it is about the referral.
    assert "RELEASE  to csc-mash: referrer_identity  [referral-wide; PROTECTED: PUBLIC_REFERRER]" in text
    assert "family informed: no (telling the family would alert the alleged abuser)" in text
    assert "police-mash victim_safe_contact WITHHOLD: CONFIDENTIAL_ADDRESS" in text
    # DPA 2018 Sch 2 para 16: nothing about the mother, though she is on the same referral.
    assert "S-MOTHER" not in shown.output
    assert "mental_health" not in text
    assert "health.devon" not in text

    as_json = await _run(kafka, topics.prefix, keys, "S-CHILD", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)
    assert doc["chain"]["verified"] is True
    assert doc["referrals"] == ["R-1", "R-2"]
    assert doc["summary"]["by_subscriber"] == {
        "csc-mash": {"released": 2, "withheld": 0, "reviewed": 1},
        "police-mash": {"released": 0, "withheld": 1, "reviewed": 0},
    }
    assert doc["summary"]["enquiries"] == {"police.devon": 1}

    mother = json.loads((await _run(kafka, topics.prefix, keys, "S-MOTHER", "--format", "json")).stdout)
    assert {e["subject_ref"] for e in mother["entries"]} == {"S-MOTHER", ""}
    assert doc["referrals"] != mother["referrals"]

    unknown = await _run(kafka, topics.prefix, keys, "S-NOBODY")
    assert unknown.exit_code == 1
    assert "no audit record names subject S-NOBODY" in unknown.stderr

    # The same records with one removed, under another deployment's prefix: the listing says so.
    broken = Topics(f"{topics.prefix}b")
    await _deployment(kafka, broken, world, [[c for i, c in enumerate(chains[0]) if i != 4], chains[1]])
    tampered = await _run(kafka, broken.prefix, keys, "S-CHILD")
    assert tampered.exit_code == 1
    assert "DOES NOT VERIFY: 1 break(s)" in tampered.stdout.splitlines()[0]
    assert "seq 6 follows 4" in tampered.stdout.splitlines()[0]
    assert "to csc-mash: police_incidents" in tampered.stdout  # the records that remain are listed still


async def test_the_brokers_own_records_about_a_child_and_her_mother(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    """End to end: the broker decides and audits; the command reads its chain back for one person."""
    rig = await Rig.create(kafka, topics, registry, tmp_path)
    await rig.start()
    try:
        people = [{"subject_ref": "S-CHILD", "role": "CHILD"}, {"subject_ref": "S-MUM", "role": "PARENT"}]
        await rig.referral(
            "R-1", "RED", sections("referral_details", subject=""), people, referrer_type="PUBLIC"
        )
        await rig.assign("R-1", "csc-mash", "police-mash", "health-mash")
        await rig.enquiry("R-1", ["police.devon", "health.devon"], ["S-CHILD", "S-MUM"])
        await rig.intel("police.devon", "R-1", sections("police_incidents", subject="S-CHILD"))
        await rig.intel("health.devon", "R-1", sections("mental_health", subject="S-MUM"))
        await rig.consent("R-1", "CONSENT_REFUSED", subject_ref="S-MUM", party="PARENT_WITH_PR")
        await rig.settle()
    finally:
        await rig.close()

    shown = await _run(kafka, topics.prefix, tmp_path / "keys", "S-CHILD", "--format", "json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["chain"]["verified"] is True
    entries = doc["entries"]
    assert {e["subject_ref"] for e in entries} <= {"S-CHILD", ""}
    assert {(e["kind"], e["subscriber"]) for e in entries if e["kind"] == "ENQUIRY"} == {
        ("ENQUIRY", "police.devon"),
        ("ENQUIRY", "health.devon"),
    }
    released = {(e["subscriber"], e["category"]) for e in entries if e["outcome"] == "RELEASE"}
    assert ("police-mash", "police_incidents") in released
    assert ("csc-mash", "referral_details") in released
    wide = [e for e in entries if e["referral_wide"]]
    assert wide
    assert all(e["subject_ref"] == "" for e in wide)
    assert all(e["agreement_ref"] == "DEVON-MASH-ISA-2026" for e in entries if e["kind"] == "DECISION")
    # DPA 2018 Sch 2 para 16: the mother's health record and her own consent record are not listed.
    assert "S-MUM" not in shown.stdout
    assert not any(e["category"] == "mental_health" for e in entries)
    assert not any(e["kind"] == "CONSENT" for e in entries)


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it, in a process of its own: its logging set up as in production,
    not under the test runner's capture."""
    return subprocess.run(
        [sys.executable, "-m", "apps.cli", *argv],
        cwd=_REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_audit_commands_print_their_report_without_the_kafka_clients_narration(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    world = make_world(registry)
    keys = tmp_path / "keys"
    write_keys(world, keys, "broker")
    await _deployment(kafka, topics, world, [[(b"R-1", v) for v in _chain(registry, world, "R-1", _R1)]])
    where = ("--bootstrap", kafka.bootstrap, "--prefix", topics.prefix, "--keys-dir", str(keys))

    # -v asks for everything: the client's INFO lines are there to be kept out.
    loud = await asyncio.to_thread(_cli, "-v", "audit", "verify", *where)
    assert loud.returncode == 0, loud.stderr
    assert " INFO aiokafka" in loud.stderr

    runs = {
        "verify": ("audit", "verify", *where),
        "trail": ("audit", "trail", "R-1", *where),
        "subject": ("audit", "subject", "S-CHILD", *where),
    }
    for name, argv in runs.items():
        done = await asyncio.to_thread(_cli, *argv)
        assert done.returncode == 0, (name, done.stderr)
        output = done.stdout + done.stderr
        assert "aiokafka" not in output, (name, output)
        assert " INFO " not in output, (name, output)
    done = await asyncio.to_thread(_cli, *runs["verify"])
    assert done.stdout.startswith("6 records"), done.stdout
