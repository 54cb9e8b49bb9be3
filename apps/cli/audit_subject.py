"""``jigsaw audit subject``: who saw what about one person, read from the signed audit chain.

For an information governance lead answering a complaint or a subject access request. The audit chain holds
no content, only who was asked, given or refused which category about whom, when and why; this lists that
for one pseudonymous subject reference:

- every record naming the subject: the enquiries that told an agency the person was being looked at, and
  every decision (release, withhold, review) on a section about them;
- every record about the whole referral (no subject: the referral's narrative, a family-wide consent record)
  on a referral where the person is a subject (some record there names them), marked referral-wide;
- never a record naming another person, even on the same referral: the listing must not disclose them.

Each record is flagged with what a subject access response must not reveal (DPA 2018 Sch 2 para 16 and
Sch 3: information identifying a third party, or likely to cause serious harm): the record's own
``protected`` field (AuditRecord v3), or for older records what their category and rule still tell.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from jigsaw.bus.records import Record
from jigsaw.config import KafkaSettings, KeystoreSettings
from jigsaw.errors import JigsawError, RejectedInput
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from services.broker.audit import ChainReport, verify_chain

AuditRecord = dict[str, Any]

PROTECTED = ("CONFIDENTIAL_ADDRESS", "THIRD_PARTY", "PUBLIC_REFERRER")
# Before AuditRecord v3 the broker did not say what was protected. What the record still tells: a
# referrer's identity may be a member of the public's (PUBLIC_REFERRER); safe contact details and an
# address withheld by the confidential-address marker or by redaction locate someone who fled.
_LOCATING = frozenset({"victim_safe_contact", "address"})
_LOCATING_RULES = frozenset({"SYS-CONFIDENTIAL-ADDRESS", "SYS-REDACTED"})
_OUTCOMES = {"RELEASE": "released", "WITHHOLD": "withheld", "REVIEW": "reviewed"}
_SAR_RULE = "DPA 2018 Sch 2 para 16; Sch 3"
_TEXT_FIELDS = ("reason", "consent_state", "not_informed_reason", "lawful_basis")
PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class Entry:
    """One audit record listed for the subject."""

    record: AuditRecord
    kind: str  # ENQUIRY, DECISION, CONSENT, or EVENT (any other record without a subscriber, e.g. a marker)
    referral_wide: bool  # about the whole referral, on a referral where the person is a subject
    subject_recorded: bool  # False for AuditRecord v1, written before records named their subject
    protected: tuple[str, ...]


@dataclass
class Summary:
    referrals: list[str]
    by_subscriber: dict[str, Counter[str]] = field(default_factory=dict)
    enquiries: Counter[str] = field(default_factory=Counter)
    protected: list[Entry] = field(default_factory=list)


def protected_flags(record: AuditRecord) -> tuple[str, ...]:
    """What a subject access response must not reveal from this record (DPA 2018 Sch 2 para 16, Sch 3)."""
    if "protected" in record:  # AuditRecord v3 and later: the broker's own judgement, kept whole
        return tuple(record["protected"])
    category, rule = record.get("category", ""), record.get("rule_id", "")
    flags = []
    if category == "referrer_identity":
        flags.append("PUBLIC_REFERRER")  # the referrer's type is not recorded: assume a member of the public
    if category in _LOCATING and rule in _LOCATING_RULES:
        flags.append("CONFIDENTIAL_ADDRESS")
    return tuple(flags)


def kind_of(record: AuditRecord) -> str:
    event = record.get("event", "DECISION")  # AuditRecord v1 recorded section decisions only
    if event in ("ENQUIRY", "CONSENT"):
        return str(event)
    if event == "DECISION" and record.get("subscriber"):
        return "DECISION"
    return "EVENT"


def select(records: Iterable[AuditRecord], subject_ref: str) -> list[Entry]:
    """The records about ``subject_ref``, and the referral-wide ones on their referrals, oldest first."""
    if not subject_ref:
        return []  # an empty subject is the whole referral, never a person
    records = list(records)
    referrals = {r["referral_id"] for r in records if r.get("subject_ref") == subject_ref}
    mine = [r for r in records if r["referral_id"] in referrals]
    others = {r.get("subject_ref") or "" for r in mine} - {subject_ref, ""}
    out = []
    for r in mine:
        ref = r.get("subject_ref")
        if ref and ref != subject_ref:
            continue  # another person on the same referral: never listed, not even counted
        r, named_others = _without(r, others)
        flags = protected_flags(r)
        if named_others and "THIRD_PARTY" not in flags:
            flags += ("THIRD_PARTY",)
        out.append(Entry(r, kind_of(r), ref != subject_ref, "subject_ref" in r, flags))
    out.sort(key=lambda e: (e.record["decided_at"], e.record["referral_id"], e.record["seq"]))
    return out


def _without(record: AuditRecord, others: set[str]) -> tuple[AuditRecord, bool]:
    """``record`` with another person's reference in its text replaced: a decision about the child can say
    whose refusal it respected ("refused by S-..."), and the listing must not name that parent."""
    if not others:
        return record, False
    pattern = re.compile(
        "|".join(rf"(?<![\w-]){re.escape(o)}(?![\w-])" for o in sorted(others, key=len)[::-1])
    )
    out, changed = dict(record), False
    for f in _TEXT_FIELDS:
        value = out.get(f)
        if isinstance(value, str) and pattern.search(value):
            out[f], changed = pattern.sub("another person", value), True
    return out, changed


def summarise(entries: Sequence[Entry]) -> Summary:
    summary = Summary(referrals=sorted({e.record["referral_id"] for e in entries}))
    for e in entries:
        r = e.record
        if e.kind == "DECISION" and r["outcome"] in _OUTCOMES:
            counts = summary.by_subscriber.setdefault(r["subscriber"], Counter())
            counts[_OUTCOMES[r["outcome"]]] += 1
        elif e.kind == "ENQUIRY":
            summary.enquiries[r["subscriber"]] += 1
        if e.protected:
            summary.protected.append(e)
    return summary


def decode_all(registry: SchemaRegistry, records: Iterable[Record]) -> list[AuditRecord]:
    """Each distinct audit record, decoded with the schema it was written with: an older record keeps the
    shape of its version, so a field it never had (``protected``) is absent rather than defaulted."""
    out, seen = [], set()
    for rec in records:
        if rec.value is None or rec.value in seen:
            continue  # an exact copy is an outbox re-send of one record, not a second decision
        seen.add(rec.value)
        try:
            writer, _ = registry.split(rec.value)
            out.append(registry.decode(rec.value, writer))
        except JigsawError:
            continue  # verify_chain reports it as a break
    return out


# ---- rendering -------------------------------------------------------------------------------------------


def _when(r: AuditRecord) -> str:
    return str(r["decided_at"].strftime("%Y-%m-%d %H:%M:%S"))


def _family(r: AuditRecord) -> str:
    told = r.get("family_informed")
    if told is None:
        return "not recorded"
    if told:
        return "yes"
    return f"no ({r.get('not_informed_reason') or 'no reason recorded'})"


def _marks(e: Entry) -> str:
    marks = []
    if e.referral_wide:
        marks.append("referral-wide" if e.subject_recorded else "subject not recorded (audit v1)")
    if e.record.get("late"):
        marks.append("late information")
    if e.protected:
        marks.append("PROTECTED: " + ", ".join(e.protected))
    return f"  [{'; '.join(marks)}]" if marks else ""


def _head(e: Entry) -> str:
    r = e.record
    start = f"{_when(r)}  {r['referral_id']}  {e.kind:<8}"
    if e.kind == "ENQUIRY":
        asked = ", ".join(r.get("categories") or []) or "nothing named"
        return f"{start} {r['subscriber']} asked for {asked}"
    if e.kind == "DECISION":
        return f"{start} {r['outcome']:<8} to {r['subscriber']}: {r['category']}"
    return f"{start} {r['rule_id']}"


def entry_lines(e: Entry) -> list[str]:
    r = e.record
    rule = "legal reason" if e.kind == "ENQUIRY" else "rule"
    lines = [
        _head(e) + _marks(e),
        f"    purpose {r.get('purpose') or 'none'} (stage {r.get('stage') or '-'}); {rule} {r['rule_id']}; "
        f"agreement {r.get('agreement_ref') or 'not recorded'}",
    ]
    if r.get("lawful_basis"):
        lines.append(f"    lawful basis: {r['lawful_basis']}")
    if e.kind in ("CONSENT", "EVENT") and r.get("consent_state"):
        lines.append(f"    consent: {r['consent_state']}")
    if e.kind == "CONSENT" and r.get("categories"):
        lines.append(f"    categories: {', '.join(r['categories'])}")
    lines.append(f"    reason: {r['reason']}")
    lines.append(f"    para 18(2) ground: {r.get('ground') or 'not recorded'}; family informed: {_family(r)}")
    return lines


def chain_lines(report: ChainReport) -> list[str]:
    head = f"audit chain: {report.records} records, {report.duplicates} exact duplicates"
    if report.ok and report.unsigned_tail:
        return [
            f"{head}; verified (every checkpoint good, no record missing or out of order), but the last"
            f" {report.unsigned_tail} record(s) are not yet under a signed checkpoint"
        ]
    if report.ok:
        return [f"{head}; verified (every checkpoint good, no record missing or out of order)"]
    breaks = report.breaks or []
    first = breaks[0]
    return [
        f"{head}; DOES NOT VERIFY: {len(breaks)} break(s), the first at partition {first.partition} "
        f"offset {first.offset}: {first.problem}",
        "this listing may be incomplete or altered: `jigsaw audit verify` lists every break",
    ]


def summary_lines(subject_ref: str, summary: Summary) -> list[str]:
    lines = [
        f"summary for {subject_ref} ({len(summary.referrals)} referral(s): {', '.join(summary.referrals)})"
    ]
    if summary.by_subscriber:
        lines.append(f"  {'subscriber':<14} {'released':>8} {'withheld':>8} {'reviewed':>8}")
        for sub, c in sorted(summary.by_subscriber.items()):
            lines.append(f"  {sub:<14} {c['released']:>8} {c['withheld']:>8} {c['reviewed']:>8}")
    else:
        lines.append("  no section decisions")
    asked = ", ".join(f"{a} {n}" for a, n in sorted(summary.enquiries.items()))
    lines.append(f"  enquiries: {asked or 'none'}")
    lines.append(
        f"  must not be revealed in a subject access response ({_SAR_RULE}): "
        f"{len(summary.protected) or 'nothing flagged'}"
    )
    for e in summary.protected:
        r = e.record
        what = f"{r['subscriber'] or '-'} {r['category'] or r['rule_id']} {r['outcome']}"
        lines.append(f"    {_when(r)}  {r['referral_id']}  {what}: {', '.join(e.protected)}")
    return lines


def render_text(subject_ref: str, entries: Sequence[Entry], report: ChainReport) -> list[str]:
    lines = [
        *chain_lines(report),
        f"subject {subject_ref}: {len(entries)} record(s), times in UTC; records about other people on the "
        "same referrals are not listed",
        "",
    ]
    for e in entries:
        lines.extend(entry_lines(e))
    lines.append("")
    lines.extend(summary_lines(subject_ref, summarise(entries)))
    if not report.ok:
        lines.append("WARNING: the audit chain does not verify (see the first line)")
    return lines


_FIELDS = (
    "seq", "decision_id", "referral_id", "subject_ref", "event", "actor", "subscriber", "category",
    "categories", "outcome", "purpose", "stage", "rule_id", "reason", "lawful_basis", "agreement_ref",
    "policy_version", "consent_state", "ground", "family_informed", "not_informed_reason", "late",
)  # fmt: skip


def entry_json(e: Entry) -> dict[str, Any]:
    r = e.record
    out: dict[str, Any] = {"decided_at": r["decided_at"].isoformat(), "kind": e.kind}
    out.update({f: r.get(f) for f in _FIELDS})
    out.update(
        referral_wide=e.referral_wide, subject_recorded=e.subject_recorded, protected=list(e.protected)
    )
    return out


def render_json(subject_ref: str, entries: Sequence[Entry], report: ChainReport) -> dict[str, Any]:
    summary = summarise(entries)
    breaks = [
        {"partition": b.partition, "offset": b.offset, "problem": b.problem} for b in report.breaks or []
    ]
    return {
        "subject_ref": subject_ref,
        "chain": {
            "records": report.records,
            "duplicates": report.duplicates,
            "verified": report.ok,
            "breaks": breaks,
        },
        "referrals": summary.referrals,
        "entries": [entry_json(e) for e in entries],
        "summary": {
            "by_subscriber": {
                s: {k: c[k] for k in _OUTCOMES.values()} for s, c in sorted(summary.by_subscriber.items())
            },
            "enquiries": dict(sorted(summary.enquiries.items())),
            "protected": [entry_json(e) for e in summary.protected],
        },
    }


# ---- reading the topic -----------------------------------------------------------------------------------


@dataclass
class Progress:
    """Counts on stderr while a long topic is read, every ``every`` records; quiet for a short one."""

    say: Callable[[str], None]
    every: int = PROGRESS_EVERY
    total: int = field(default=0, init=False)
    _next: int = field(default=0, init=False)

    def start(self, total: int, topic: str) -> None:
        self.total, self._next = total, self.every
        if total >= self.every:
            self.say(f"reading {total} audit records from {topic}")

    def read(self, done: int) -> None:
        while done >= self._next:
            self.say(f"read {self._next} of {self.total}")
            self._next += self.every

    def phase(self, what: str) -> None:
        if self.total >= self.every:
            self.say(what)


async def _read_topic(kafka: KafkaSettings, topic: str, progress: Progress) -> list[Record]:
    """Every record on ``topic`` up to its current end, as ``read_to_end`` reads it, with progress."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    from jigsaw.bus.reader import partitions

    tps = [TopicPartition(topic, p) for p in await partitions(kafka, topic)]
    consumer = AIOKafkaConsumer(
        **kafka.client_kwargs(), enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        progress.start(sum(ends[tp] - starts[tp] for tp in tps), topic)
        out: list[Record] = []
        remaining = {tp for tp in tps if ends[tp] > starts[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for msgs in batch.values():
                out.extend(Record.from_consumer(m) for m in msgs)
            progress.read(len(out))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def _read(
    kafka: KafkaSettings, topics: Topics, keys_dir: Path, progress: Progress
) -> tuple[SchemaRegistry, KeyDirectory, list[Record]]:
    """The key directory (only records signed by this deployment's root) and the audit topic."""
    from jigsaw.bus.reader import read_to_end

    registry = SchemaRegistry.load()
    directory = KeyDirectory(registry, KeystoreSettings(dir=keys_dir).root_key())
    refused = 0
    for rec in await read_to_end(kafka, topics.keys):
        if rec.value is not None:
            try:
                directory.apply(rec.value)
            except RejectedInput:
                refused += 1
    if refused:
        progress.say(f"ignored {refused} key record(s) not signed by the admin root")
    return registry, directory, await _read_topic(kafka, topics.audit, progress)


@click.command("subject")
@click.argument("subject_ref")
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
@click.option("--prefix", default="", help="Topic prefix of the deployment.")
@click.option("--broker-id", default="broker", show_default=True, help="Participant id that signs the audit.")
@click.option("--keys-dir", type=click.Path(path_type=Path), default=Path(".jigsaw/keys"), show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def subject(
    subject_ref: str, bootstrap: str | None, prefix: str, broker_id: str, keys_dir: Path, fmt: str
) -> None:
    """Who saw what about one person: enquiries, decisions and consent, and what a SAR must withhold.

    For a complaint or a subject access request: verifies the audit chain first, lists every enquiry,
    section decision and consent record about the person (and about the whole referral, on their
    referrals; never about anyone else), flags what a subject access response must not reveal, and ends
    with a summary. Exit 1 if no record names SUBJECT_REF or the chain does not verify.
    """
    from apps.cli.common import kafka_for
    from apps.cli.kafka import AdminSettings

    kafka, topics = kafka_for(AdminSettings().kafka, bootstrap, "admin"), Topics(prefix)
    progress = Progress(say=lambda line: click.echo(line, err=True))
    registry, directory, records = asyncio.run(_read(kafka, topics, keys_dir, progress))
    progress.phase(f"verifying the chain of {len(records)} records")
    report = verify_chain(registry, directory, broker_id, records)
    entries = select(decode_all(registry, records), subject_ref)
    if not entries:
        click.echo(f"no audit record names subject {subject_ref}", err=True)
        if not report.ok:
            click.echo("\n".join(chain_lines(report)), err=True)
        raise SystemExit(1)
    if fmt == "json":
        click.echo(json.dumps(render_json(subject_ref, entries, report), indent=2))
    else:
        click.echo("\n".join(render_text(subject_ref, entries, report)))
    raise SystemExit(0 if report.ok else 1)
