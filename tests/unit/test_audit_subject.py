"""`jigsaw audit subject`'s logic: which audit records are about one person, what a subject access response
must not reveal from them, and the summary.

The rules checked, and where they come from:
- UK GDPR Art 15 (right of access) with DPA 2018 Sch 2 para 16 and Sch 3 (the health and social work
  exemptions): a subject access response must not reveal a third party, or information likely to cause
  serious harm. So a record about another person on the same referral is never listed, and every record
  that would reveal a protected referrer, a third party or a refuge's address is flagged.
- AuditRecord v3 carries the broker's own `protected` judgement; an older record is judged from its category
  and rule (referrer_identity: PUBLIC_REFERRER; victim_safe_contact or address withheld by the
  confidential-address marker or by redaction: CONFIDENTIAL_ADDRESS).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.cli.audit_subject import (
    Progress,
    decode_all,
    kind_of,
    protected_flags,
    render_json,
    render_text,
    select,
    summarise,
)
from devkit.testkit.wire import make_world
from jigsaw.bus.records import Record
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from services.broker.audit import AUDIT_RECORD, Break, ChainReport, seal_audit_record

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_seq = iter(range(1, 10_000))


def _rec(minute: int, **fields: Any) -> dict[str, Any]:
    """An AuditRecord v3, as the broker writes a section decision."""
    seq = next(_seq)
    return {
        "seq": seq,
        "prev_hash": bytes(32),
        "decision_id": f"d-{seq}",
        "referral_id": "R-1",
        "source_msg_id": "m-1",
        "subscriber": "csc-mash",
        "category": "police_incidents",
        "outcome": "RELEASE",
        "rule_id": "R-CSC-FULL",
        "reason": "allowed by R-CSC-FULL",
        "lawful_basis": "UK GDPR Art 6(1)(e) public task",
        "policy_version": "devon-mash-isa-2026.2",
        "purpose": "TRIAGE",
        "stage": "RED",
        "consent_state": "NONE",
        "event": "DECISION",
        "actor": "police.devon",
        "subject_ref": "S-CHILD",
        "categories": [],
        "decided_at": T0 + timedelta(minutes=minute),
        "broker_kid": "ed25519:0000",
        "signature": b"",
        "agreement_ref": "DEVON-MASH-ISA-2026",
        "ground": "WOULD_PREJUDICE_PROTECTION",
        "family_informed": False,
        "not_informed_reason": "telling the family would alert the alleged abuser",
        "late": False,
        "protected": [],
        **fields,
    }


def _old(minute: int, version: int, **fields: Any) -> dict[str, Any]:
    """An AuditRecord as an older version wrote it: no v3 fields, and for v1 no event or subject."""
    r = _rec(minute, **fields)
    for f in ("agreement_ref", "ground", "family_informed", "not_informed_reason", "late", "protected"):
        del r[f]
    if version == 1:
        for f in ("event", "actor", "subject_ref", "categories"):
            del r[f]
    return r


def _case() -> list[dict[str, Any]]:
    """One referral about a child and her mother, another about the child alone, a third about someone
    else entirely."""
    return [
        _rec(0, event="ENQUIRY", subscriber="police.devon", category="", outcome="UNKNOWN",
             rule_id="Children Act 1989 s17 and s47", categories=["police_incidents"], actor="hub.devon",
             reason="asked by the MASH for TRIAGE"),
        _rec(1),
        _rec(2, subscriber="police-mash", category="victim_safe_contact", outcome="WITHHOLD",
             rule_id="SYS-REDACTED", lawful_basis=None, protected=["CONFIDENTIAL_ADDRESS"]),
        # Referral-wide: the referral's narrative, and a family-wide consent record.
        _rec(3, subject_ref="", category="referral_details", subscriber="police-mash",
             rule_id="R-POLICE-DESK", protected=["THIRD_PARTY"]),
        _rec(4, event="CONSENT", subject_ref=None, subscriber="", category="", outcome="UNKNOWN",
             rule_id="EARLY_HELP_SERVICE", consent_state="REFUSED", actor="hub.devon",
             reason="EARLY_HELP_SERVICE recorded by hub.devon"),
        # The mother, on the same referral: never listed for the child.
        _rec(5, subject_ref="S-MOTHER", category="mental_health", subscriber="health-mash",
             rule_id="R-HEALTH-DESK"),
        _rec(6, event="ENQUIRY", subject_ref="S-MOTHER", subscriber="health.devon", category="",
             outcome="UNKNOWN", rule_id="Children Act 1989 s47", categories=["mental_health"]),
        _rec(7, referral_id="R-2", subscriber="partner-hub", category="housing", outcome="WITHHOLD",
             rule_id="SYS-CONSENT-REFUSED", purpose="EARLY_HELP", stage="EARLY_HELP", late=True),
        _rec(8, referral_id="R-2", subscriber="csc-mash", category="address", outcome="REVIEW",
             rule_id="R-CSC-LATE", purpose="LATE_INFORMATION", stage="DECIDED", late=True),
        # A referral the child is not on: its referral-wide records are not about her.
        _rec(9, referral_id="R-9", subject_ref="S-OTHER"),
        _rec(10, referral_id="R-9", subject_ref="", category="referral_details"),
    ]  # fmt: skip


def _ok(records: int = 11) -> ChainReport:
    return ChainReport(records=records, duplicates=0, breaks=[])


def test_the_subjects_own_and_referral_wide_records_are_listed_and_no_one_elses() -> None:
    entries = select(_case(), "S-CHILD")
    assert [e.record["decided_at"].minute for e in entries] == [0, 1, 2, 3, 4, 7, 8]
    assert all(e.record.get("subject_ref") in ("S-CHILD", "", None) for e in entries)
    assert [e.referral_wide for e in entries] == [False, False, False, True, True, False, False]
    assert [e.kind for e in entries] == ["ENQUIRY", "DECISION", "DECISION", "DECISION", "CONSENT"] + [
        "DECISION"
    ] * 2


def test_another_subject_on_the_same_referral_is_not_disclosed_in_any_output() -> None:
    # DPA 2018 Sch 2 para 16: the child's listing must not reveal the mother, not even by a count.
    entries = select(_case(), "S-CHILD")
    text = "\n".join(render_text("S-CHILD", entries, _ok()))
    shown = json.dumps(render_json("S-CHILD", entries, _ok()))
    for out in (text, shown):
        assert "S-MOTHER" not in out
        assert "mental_health" not in out
        assert "health.devon" not in out
        assert "R-9" not in out
        assert "S-OTHER" not in out
    assert "records about other people on the same referrals are not listed" in text


def test_another_persons_reference_in_a_records_text_is_replaced_and_flagged() -> None:
    # The broker records whose refusal it respected; the child's listing must not name that parent.
    records = [
        _rec(0, subscriber="partner-hub", category="housing", outcome="WITHHOLD",
             rule_id="SYS-CONSENT-REFUSED", reason="consent was refused by S-MOTHER; respected",
             consent_state="REFUSED by S-MOTHER"),
        _rec(1, event="CONSENT", subject_ref="S-MOTHER", subscriber="", category="", outcome="UNKNOWN",
             rule_id="CONSENT_REFUSED", consent_state="CONSENT_REFUSED"),
        _rec(2, subject_ref="S-MOTHER-2", category="identity"),  # a longer ref is not cut by the shorter
    ]  # fmt: skip
    (entry,) = select(records, "S-CHILD")
    assert entry.record["reason"] == "consent was refused by another person; respected"
    assert entry.record["consent_state"] == "REFUSED by another person"
    assert entry.protected == ("THIRD_PARTY",)
    assert "S-MOTHER" not in "\n".join(render_text("S-CHILD", [entry], _ok(3)))
    assert records[0]["reason"] == "consent was refused by S-MOTHER; respected"  # the input is unchanged


def test_a_consent_record_shows_the_categories_it_names() -> None:
    consent = _rec(0, event="CONSENT", subscriber="", category="", outcome="UNKNOWN", rule_id="CONSENT_GIVEN",
                   categories=["housing", "education_attendance"], consent_state="CONSENT_GIVEN")  # fmt: skip
    text = "\n".join(render_text("S-CHILD", select([consent], "S-CHILD"), _ok(1)))
    assert "R-1  CONSENT  CONSENT_GIVEN" in text
    assert "categories: housing, education_attendance" in text


def test_the_mother_sees_her_own_records_and_the_referral_wide_ones_not_the_childs() -> None:
    entries = select(_case(), "S-MOTHER")
    assert [e.record["decided_at"].minute for e in entries] == [3, 4, 5, 6]
    assert not any(e.record.get("subject_ref") == "S-CHILD" for e in entries)


def test_an_unknown_subject_has_no_entries() -> None:
    assert select(_case(), "S-NOBODY") == []
    assert select(_case(), "") == []  # an empty ref is "the whole referral", never a person


def test_a_v3_record_is_flagged_by_its_own_protected_field() -> None:
    # DPA 2018 Sch 2 para 16 / Sch 3: the broker's judgement is kept whole, a flag added later included.
    assert protected_flags(_rec(0, protected=["THIRD_PARTY", "CONFIDENTIAL_ADDRESS"])) == (
        "THIRD_PARTY",
        "CONFIDENTIAL_ADDRESS",
    )
    # A professional referrer is known to children's social care: v3 says nothing is protected.
    assert protected_flags(_rec(0, category="referrer_identity", protected=[])) == ()


def test_an_older_record_is_flagged_from_its_category_and_rule() -> None:
    # Without a recorded referrer type, a referrer's identity is treated as a member of the public's.
    assert protected_flags(_old(0, 2, category="referrer_identity", rule_id="R-CSC-REFERRER")) == (
        "PUBLIC_REFERRER",
    )
    for category in ("victim_safe_contact", "address"):
        for rule in ("SYS-CONFIDENTIAL-ADDRESS", "SYS-REDACTED"):
            assert protected_flags(_old(0, 2, category=category, rule_id=rule)) == ("CONFIDENTIAL_ADDRESS",)
    assert protected_flags(_old(0, 2, category="address", rule_id="R-CSC-FULL")) == ()
    assert protected_flags(_old(0, 1, category="police_incidents")) == ()


def test_a_v1_record_is_a_decision_whose_subject_was_not_recorded() -> None:
    records = [_rec(0), _old(1, 1, category="referral_details")]
    entries = select(records, "S-CHILD")
    assert [(e.kind, e.referral_wide, e.subject_recorded) for e in entries] == [
        ("DECISION", False, True),
        ("DECISION", True, False),
    ]
    assert "subject not recorded (audit v1)" in "\n".join(render_text("S-CHILD", entries, _ok(2)))
    # A record without a subscriber that is neither an enquiry nor consent (a marker) is an event.
    marker = _rec(0, subscriber="", category="", rule_id="CONFIDENTIAL_ADDRESS", outcome="UNKNOWN")
    assert kind_of(marker) == "EVENT"


def test_the_summary_counts_per_subscriber_and_lists_the_protected_items() -> None:
    summary = summarise(select(_case(), "S-CHILD"))
    assert summary.referrals == ["R-1", "R-2"]
    counts = {s: dict(c) for s, c in summary.by_subscriber.items()}
    assert counts == {
        "csc-mash": {"released": 1, "reviewed": 1},
        "police-mash": {"withheld": 1, "released": 1},
        "partner-hub": {"withheld": 1},
    }
    assert dict(summary.enquiries) == {"police.devon": 1}
    assert [(e.record["category"], e.protected) for e in summary.protected] == [
        ("victim_safe_contact", ("CONFIDENTIAL_ADDRESS",)),
        ("referral_details", ("THIRD_PARTY",)),
    ]


def test_the_text_says_when_to_whom_why_and_on_what_ground() -> None:
    lines = render_text("S-CHILD", select(_case(), "S-CHILD"), _ok())
    text = "\n".join(lines)
    assert lines[0].endswith("verified (every checkpoint good, no record missing or out of order)")
    assert "2026-03-02 09:00:00  R-1  ENQUIRY  police.devon asked for police_incidents" in text
    assert "2026-03-02 09:01:00  R-1  DECISION RELEASE  to csc-mash: police_incidents" in text
    assert "purpose TRIAGE (stage RED); rule R-CSC-FULL; agreement DEVON-MASH-ISA-2026" in text
    assert "lawful basis: UK GDPR Art 6(1)(e) public task" in text
    assert (
        "para 18(2) ground: WOULD_PREJUDICE_PROTECTION; family informed: no (telling the family would "
        "alert the alleged abuser)"
    ) in text
    assert "[referral-wide; PROTECTED: THIRD_PARTY]" in text
    assert "[late information]" in text
    assert "consent: REFUSED" in text
    assert "  csc-mash              1        0        1" in text
    assert "must not be revealed in a subject access response (DPA 2018 Sch 2 para 16; Sch 3): 2" in text
    assert "police-mash victim_safe_contact WITHHOLD: CONFIDENTIAL_ADDRESS" in text


def test_a_broken_chain_is_said_at_the_top_and_the_end() -> None:
    report = ChainReport(records=11, duplicates=1, breaks=[Break(0, 3, "bad signature")])
    lines = render_text("S-CHILD", select(_case(), "S-CHILD"), report)
    assert "DOES NOT VERIFY: 1 break(s), the first at partition 0 offset 3: bad signature" in lines[0]
    assert lines[-1].startswith("WARNING: the audit chain does not verify")
    shown = render_json("S-CHILD", select(_case(), "S-CHILD"), report)
    assert shown["chain"] == {
        "records": 11,
        "duplicates": 1,
        "verified": False,
        "breaks": [{"partition": 0, "offset": 3, "problem": "bad signature"}],
    }


def test_the_json_carries_every_listed_field_and_no_signature() -> None:
    shown = render_json("S-CHILD", select(_case(), "S-CHILD"), _ok())
    json.dumps(shown)  # plain JSON
    first = shown["entries"][1]
    assert first["decided_at"] == "2026-03-02T09:01:00+00:00"
    assert first["ground"] == "WOULD_PREJUDICE_PROTECTION"
    assert first["family_informed"] is False
    assert first["agreement_ref"] == "DEVON-MASH-ISA-2026"
    assert first["referral_wide"] is False
    assert "signature" not in first
    assert "prev_hash" not in first
    assert shown["summary"]["by_subscriber"]["partner-hub"] == {"released": 0, "withheld": 1, "reviewed": 0}
    assert [p["category"] for p in shown["summary"]["protected"]] == [
        "victim_safe_contact",
        "referral_details",
    ]


def test_records_decode_in_the_shape_of_their_version_and_copies_count_once(registry: SchemaRegistry) -> None:
    signer = make_world(registry).keys["broker"].current
    v2 = registry.version(AUDIT_RECORD, 2)
    new = _rec(0, decided_at=now_micros())
    old = {k: v for k, v in _old(1, 2, category="referrer_identity").items() if k != "decided_at"}
    values = [
        seal_audit_record(registry, signer, new),
        registry.encode(v2, {**old, "decided_at": now_micros()}),
    ]
    records = [Record("audit", 0, i, b"R-1", v) for i, v in enumerate([*values, values[0]])]
    records.append(Record("audit", 0, 3, b"R-1", b"\xc3\x01" + bytes(8) + b"junk"))
    decoded = decode_all(registry, records)
    assert len(decoded) == 2
    assert decoded[0]["protected"] == []
    assert "protected" not in decoded[1]
    assert protected_flags(decoded[1]) == ("PUBLIC_REFERRER",)


def test_progress_is_quiet_for_a_short_topic_and_counts_a_long_one() -> None:
    said: list[str] = []
    short = Progress(say=said.append, every=100)
    short.start(99, "audit")
    short.read(99)
    short.phase("verifying")
    assert said == []
    long = Progress(say=said.append, every=100)
    long.start(250, "audit")
    long.read(120)
    long.read(250)
    long.phase("verifying the chain of 250 records")
    assert said == [
        "reading 250 audit records from audit",
        "read 100 of 250",
        "read 200 of 250",
        "verifying the chain of 250 records",
    ]
