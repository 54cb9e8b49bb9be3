"""Every rule the broker enforces, through the real Kafka: releases as each subscriber sees them, the audit
trail, re-evaluation when consent, an assignment, a decision or a review approval arrives."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from apps.cli import cli
from devkit.testkit.broker import Rig, sections
from jigsaw.bus.reader import read_to_end
from services.broker.audit import verify_chain
from services.broker.policy import load_policy
from tests.integration import kafkautil as ku

NEVER = ("NONE", "")  # no release reached the subscriber at all


async def _phase_one(r: Rig) -> dict[str, str]:
    ids: dict[str, str] = {}
    # Screening: "known / not known + contact" before a RAG rating is set, and the referral's own narrative
    # for the decision makers, who must rate it.
    await r.referral("R-SCREEN", "UNKNOWN", sections("identity", "referral_details"))
    await r.assign("R-SCREEN", "csc-mash")
    await r.intel("police.devon", "R-SCREEN", sections("identity", "police_incidents"))
    # Red: role x category x purpose, and originator control of MAPPA data.
    await r.referral("R-RED", "RED")
    await r.assign("R-RED", "csc-mash", "police-mash", "health-mash", "partner-hub")
    await r.intel("probation.devon", "R-RED", sections("probation"))
    await r.intel("health.devon", "R-RED", sections("mental_health"))
    # Both redactions.
    await r.referral("R-REDACT", "RED", sections("referral_details", "referrer_identity"))
    await r.assign("R-REDACT", "csc-mash", "police-mash")
    await r.intel("police.devon", "R-REDACT", sections("domestic_abuse", "victim_safe_contact"))
    # Early help: agreement awaited; refused; refused then overridden.
    for rid in ("R-EH", "R-EH-NO", "R-EH-OVERRIDE"):
        await r.referral(rid, "GREEN")
        await r.assign(rid, "csc-mash", "partner-hub")
        await r.decision(rid, "OUTCOME", outcome="EARLY_HELP")
        await r.intel("housing.devon", rid, sections("housing"))
    # Assignment arriving after the return.
    await r.referral("R-ASSIGN", "AMBER")
    await r.assign("R-ASSIGN", "csc-mash")
    await r.intel("police.devon", "R-ASSIGN", sections("police_incidents"))
    # An uncertain subject match goes to REVIEW.
    await r.referral("R-REVIEW", "RED")
    await r.assign("R-REVIEW", "csc-mash")
    ids["review"] = await r.intel(
        "education.devon", "R-REVIEW", sections("education_attendance"), confidence=0.6
    )
    # Late information after no further action.
    await r.referral("R-NFA", "RED")
    await r.assign("R-NFA", "csc-mash")
    await r.decision("R-NFA", "OUTCOME", outcome="NO_FURTHER_ACTION")
    return ids


async def _phase_two(r: Rig, ids: dict[str, str]) -> None:
    # Sent only once the outcome is in: topics are not ordered against each other, and a return the
    # broker saw before "no further action" would have been released for triage, not as late information.
    await r.intel("police.devon", "R-NFA", sections("identity"))
    await r.decision("R-REDACT", "OUTCOME", outcome="STRATEGY_DISCUSSION_S47")
    await r.consent("R-EH", "CONSENT_GIVEN", family_informed=True)
    await r.consent("R-EH-NO", "CONSENT_REFUSED", family_informed=True)
    await r.consent("R-EH-OVERRIDE", "CONSENT_REFUSED", family_informed=True)
    await r.consent(
        "R-EH-OVERRIDE",
        "SAFEGUARDING_OVERRIDE",
        decided_by="team-manager-4",
        reason="new information: risk of significant harm",
    )
    await r.consent("R-EH-OVERRIDE", "SAFEGUARDING_OVERRIDE")  # names nobody: rejected
    await r.assign("R-ASSIGN", "police-mash")
    target = {
        "msg_id": ids["review"],
        "subscriber": "csc-mash",
        "category": "education_attendance",
        "subject_ref": "S1",
        "approved": True,
    }
    await r.decision("R-REVIEW", "REVIEW_APPROVAL", review_target=target)


# (referral, subscriber, category) -> (what the subscriber sees, rule) after phase one, after phase two
TABLE = [
    ("R-SCREEN", "csc-mash", "identity", ("RELEASE", ""), None),
    ("R-SCREEN", "csc-mash", "police_incidents", ("WITHHOLD", "SYS-SCREENING"), None),
    ("R-SCREEN", "csc-mash", "referral_details", ("RELEASE", ""), None),
    ("R-RED", "csc-mash", "probation", ("RELEASE", ""), None),
    ("R-RED", "police-mash", "probation", ("RELEASE", ""), None),
    # Being known to probation is probation's fact (participants.reveals): a desk that may not know it is
    # sent nothing of probation's, not even a withheld notice naming the sender; the refusal is audited.
    ("R-RED", "health-mash", "probation", NEVER, None),
    ("R-RED", "partner-hub", "probation", NEVER, None),
    ("R-RED", "health-mash", "mental_health", ("RELEASE", ""), None),
    ("R-RED", "police-mash", "mental_health", ("WITHHOLD", "DEFAULT-DENY"), None),
    ("R-REDACT", "csc-mash", "referrer_identity", ("WITHHOLD", "SYS-REDACTED"), ("RELEASE", "")),
    ("R-REDACT", "police-mash", "referrer_identity", ("WITHHOLD", "SYS-REDACTED"), None),
    ("R-REDACT", "csc-mash", "victim_safe_contact", ("WITHHOLD", "SYS-REDACTED"), None),
    ("R-REDACT", "police-mash", "victim_safe_contact", ("WITHHOLD", "SYS-REDACTED"), None),
    ("R-REDACT", "police-mash", "domestic_abuse", ("RELEASE", ""), None),
    ("R-EH", "partner-hub", "housing", ("WITHHOLD", "SYS-CONSENT-AWAITED"), ("RELEASE", "")),
    (
        "R-EH-NO",
        "partner-hub",
        "housing",
        ("WITHHOLD", "SYS-CONSENT-AWAITED"),
        ("WITHHOLD", "SYS-CONSENT-REFUSED"),
    ),
    # An override never opens early help, which is voluntary: the family's refusal stands.
    (
        "R-EH-OVERRIDE",
        "partner-hub",
        "housing",
        ("WITHHOLD", "SYS-CONSENT-AWAITED"),
        ("WITHHOLD", "SYS-CONSENT-REFUSED"),
    ),
    ("R-ASSIGN", "csc-mash", "police_incidents", ("RELEASE", ""), None),
    ("R-ASSIGN", "police-mash", "police_incidents", NEVER, ("RELEASE", "")),
    ("R-REVIEW", "csc-mash", "education_attendance", ("REVIEW", "SYS-MATCH-REVIEW"), ("RELEASE", "")),
    ("R-NFA", "csc-mash", "identity", NEVER, ("RELEASE", "")),
]


async def _check(r: Rig, phase: int) -> None:
    problems = []
    for rid, sub, cat, first, second in TABLE:
        expected = first if phase == 1 or second is None else second
        got = (await r.view(sub, rid)).get(cat, NEVER)
        if got != expected:
            problems.append(f"{rid} {sub} {cat}: expected {expected}, got {got}")
    assert not problems, "\n".join(problems)


async def test_every_rule_through_kafka(rig: Rig) -> None:
    ids = await _phase_one(rig)
    await rig.settle()
    await _check(rig, 1)
    # What the desks refused probation's return were never sent is still on the record, with its reason:
    # MAPPA data's originator control for the health desk, no rule for the early help hub.
    refused = {
        a["subscriber"]: a["rule_id"]
        for a in await rig.audit("R-RED")
        if a["event"] == "DECISION" and a["category"] == "probation"
    }
    assert refused == {
        "csc-mash": "R-CSC-FULL",
        "police-mash": "R-POLICE-DESK",
        "health-mash": "SYS-ORIGINATOR",
        "partner-hub": "DEFAULT-DENY",
    }

    await _phase_two(rig, ids)
    await rig.settle()
    await _check(rig, 2)

    # Every decision is audited, refusals included, with rule, lawful basis and policy version.
    trail = await rig.audit("R-ASSIGN")
    refused = [a for a in trail if a["subscriber"] == "police-mash" and a["outcome"] == "WITHHOLD"]
    assert refused[0]["rule_id"] == "SYS-NOT-ASSIGNED"
    released = [a for a in trail if a["subscriber"] == "police-mash" and a["outcome"] == "RELEASE"]
    assert released[0]["lawful_basis"]
    assert {a["policy_version"] for a in trail} == {load_policy(rig.settings.policy).version}
    audited = await rig.audit("R-EH-OVERRIDE")
    assert [a["rule_id"] for a in audited if a["event"] == "CONSENT"] == [
        "CONSENT_REFUSED",
        "SAFEGUARDING_OVERRIDE",
    ], "the override is on the record, though it opens nothing"
    assert not [a for a in audited if a["outcome"] == "RELEASE" and a["subscriber"] == "partner-hub"]
    (late,) = [o for o in await rig.releases("csc-mash", "R-NFA") if o.kind == "INTEL"]
    assert late.release is not None
    assert late.release.late, "a return after the decision is late information"
    letters = [d["reason"] for d in await rig.dead_letters()]
    assert letters == ["PAYLOAD_INVALID"], "the override naming nobody"


async def test_a_sender_on_another_agencys_topic_is_dead_lettered(rig: Rig) -> None:
    value = rig.world.party("police.devon").seal(
        kind="INTEL",
        referral_id="R-X",
        body={
            "enquiry_id": None,
            "agency": "police",
            "unsolicited": True,
            "matches": [],
            "nothing_held_categories": [],
        },
        sections=sections("housing"),
        recipients=["broker"],
    )
    await rig.producer.send_and_wait(rig.topics.intel("housing"), value, key=b"R-X")
    await rig.producer.send_and_wait(
        rig.topics.intel("housing"), b"\xc3\x01" + bytes(8) + b"junk", key=b"R-X"
    )
    await rig.settle()
    letters = {(d["source_offset"], d["reason"]) for d in await rig.dead_letters()}  # exact copies count once
    assert sorted(reason for _, reason in letters) == ["POLICY_ERROR", "UNKNOWN_SCHEMA"]


async def test_audit_verify_detects_an_edited_and_a_removed_record(rig: Rig, tmp_path: Path) -> None:
    await rig.referral("R-AUD", "RED")
    await rig.assign("R-AUD", "csc-mash", "police-mash")
    await rig.intel("police.devon", "R-AUD", sections("identity", "police_incidents", "contact"))
    await rig.settle()
    directory = rig.world.directory
    # Every record under a checkpoint (the broker signs a quiet chain within a second), so that each
    # record, the last decision's included, has a link or a signature after it that an edit must break.
    for _ in range(100):
        records = await read_to_end(rig.kafka, rig.topics.audit)
        report = verify_chain(rig.registry, directory, "broker", records)
        if report.unsigned_tail == 0:
            break
        await asyncio.sleep(0.1)
    assert len(records) >= 12
    assert report.ok
    assert report.unsigned_tail == 0

    removed = [r for i, r in enumerate(records) if i != 3]
    report = verify_chain(rig.registry, directory, "broker", removed)
    assert not report.ok
    assert "follows" in report.breaks[0].problem  # type: ignore[index]

    schema = rig.registry.latest("jigsaw.body.AuditRecord")
    victim = rig.registry.decode(records[5].value, schema)  # type: ignore[arg-type]
    victim["outcome"] = "RELEASE" if victim["outcome"] == "WITHHOLD" else "WITHHOLD"
    edited = list(records)
    edited[5] = replace(records[5], value=rig.registry.encode(schema, victim))
    report = verify_chain(rig.registry, directory, "broker", edited)
    assert [b.problem for b in report.breaks or []][:1] == ["prev_hash does not match the record before"]

    # The command does the same against a topic.
    copy = f"{rig.topics.prefix}.audit-copy"
    await ku.create(rig.kafka, copy, partitions=2)
    await ku.produce_records(rig.kafka, copy, removed)
    args = [
        "audit",
        "verify",
        "--bootstrap",
        rig.kafka.bootstrap,
        "--prefix",
        rig.topics.prefix,
        "--keys-dir",
        str(tmp_path / "keys"),
    ]
    # The commands run their own event loop, so they run on a thread beside this test's.
    good = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert good.exit_code == 0, good.output
    bad = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--topic", copy])
    assert bad.exit_code == 1
    assert "BREAK" in bad.output
    shown = await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "trail", "R-AUD", *args[2:]])
    lines = shown.output.splitlines()
    assert any("police-mash" in ln and "police_incidents" in ln and "RELEASE" in ln for ln in lines)
    assert any("partner-hub" in ln and "SYS-NOT-ASSIGNED" in ln for ln in lines), "refusals are listed too"


async def test_a_subscriber_without_a_usable_key_does_not_hold_up_the_others(rig: Rig) -> None:
    await rig.referral("R-KEYLESS", "RED")
    await rig.assign("R-KEYLESS", "csc-mash", "police-mash")
    rig.world.publish("police-mash", revoked=True, reason="CESSATION_OF_OPERATION")
    for key, value in rig.world.records[-1:]:
        await rig.producer.send_and_wait(rig.topics.keys, value, key=key)

    async def revoked_seen() -> bool:  # the broker follows the key directory
        probe = f"R-PROBE-{len(rig.world.records)}"
        await rig.referral(probe, "RED")
        await rig.assign(probe, "police-mash")
        await rig.intel("police.devon", probe, sections("identity"))
        await rig.settle()
        return not await rig.releases("police-mash", probe)

    await ku.eventually(revoked_seen, what="the broker saw the revocation")
    await rig.intel("police.devon", "R-KEYLESS", sections("police_incidents"))
    await rig.settle()
    assert (await rig.view("csc-mash", "R-KEYLESS"))["police_incidents"] == ("RELEASE", "")
    assert [d["reason"] for d in await rig.dead_letters()] == [], "nothing was dead-lettered for it"
