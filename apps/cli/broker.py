"""``jigsaw broker run``, ``jigsaw policy check | explain`` and ``jigsaw audit verify | prove | trail``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click

from apps.cli.audit_subject import subject
from apps.cli.common import kafka_for
from jigsaw import logs
from jigsaw.config import KafkaSettings, KeystoreSettings
from jigsaw.errors import JigsawError, RejectedInput
from jigsaw.lifecycle import install_stop_signals
from jigsaw.topics import Topics
from services.broker.policy import CONSENT_STATES, PURPOSES, REFERRER_TYPES, STAGES, load_policy


@click.group()
def broker() -> None:
    """The consent and need-to-know broker."""


@broker.command()
@click.option("--policy", type=click.Path(path_type=Path), default=None, help="The ISA policy file.")
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
def run(policy: Path | None, bootstrap: str | None) -> None:
    """Run the broker until SIGTERM or Ctrl-C (settings: JIGSAW_BROKER__*)."""
    from services.broker.app import run as run_broker
    from services.broker.config import BrokerSettings

    settings = BrokerSettings()
    update: dict[str, object] = {"kafka": kafka_for(settings.kafka, bootstrap, settings.participant_id)}
    if policy is not None:
        update["policy"] = policy
    settings = settings.model_copy(update=update)
    logs.bind("broker", settings.participant_id)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await run_broker(settings, stop)

    asyncio.run(main())


@click.group()
def policy() -> None:
    """The information sharing agreement, as data."""


@policy.command()
@click.argument("file", type=click.Path(path_type=Path))
def check(file: Path) -> None:
    """Validate FILE and report rules that can never fire or that conflict. Exit 1 on any finding."""
    from services.broker.check import check_policy

    loaded = load_policy(file)
    findings = check_policy(loaded)
    click.echo(
        f"{file}: policy {loaded.version}, {len(loaded.rules)} rules, "
        f"{len(loaded.subscribers)} subscribers, {len(loaded.categories)} categories"
    )
    for f in findings:
        click.echo(f"  {f.rule_id}: {f.kind}: {f.message}")
    click.echo("ok" if not findings else f"{len(findings)} finding(s)")
    raise SystemExit(1 if findings else 0)


@policy.command()
@click.option(
    "--policy",
    "file",
    type=click.Path(path_type=Path),
    default=Path("deploy/policy/devon-mash.yaml"),
    show_default=True,
)
@click.option("--subscriber", required=True)
@click.option("--category", required=True)
@click.option("--stage", type=click.Choice(STAGES), required=True)
@click.option(
    "--purpose",
    type=click.Choice(PURPOSES),
    default=None,
    help="Decide for this purpose only (default: each purpose live at the stage, as the broker does).",
)
@click.option("--consent", type=click.Choice(CONSENT_STATES), default="NONE", show_default=True)
@click.option("--assigned/--not-assigned", default=True, show_default=True)
@click.option(
    "--referrer-type",
    type=click.Choice(REFERRER_TYPES),
    default="UNKNOWN",
    show_default=True,
    help="Who referred: only a professional is known by name.",
)
@click.option(
    "--marked/--not-marked",
    default=False,
    show_default=True,
    help="The section's person (or address) carries a confidential-address marker.",
)
@click.option("--source", default="", help="The participant the section comes from, e.g. police.devon.")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Decide as of this date.")
def explain(
    file: Path,
    subscriber: str,
    category: str,
    stage: str,
    purpose: str | None,
    consent: str,
    assigned: bool,
    referrer_type: str,
    marked: bool,
    source: str,
    on: object,
) -> None:
    """Print the decision for one cell: its outcome, purpose, lawful basis and the rule behind it."""
    from datetime import UTC, datetime

    from services.broker.decide import Context, Decider
    from services.broker.stages import live_purposes

    loaded = load_policy(file)
    today = on.date() if isinstance(on, datetime) else datetime.now(UTC).date()
    ctx = Context(
        subscriber,
        category,
        None,
        stage,
        consent,
        assigned,
        source=source,
        referrer_type=referrer_type,
        marked=marked,
    )
    purposes = [purpose] if purpose else list(live_purposes(stage))
    d = Decider(loaded).live(ctx, purposes, today)
    click.echo(f"{d.outcome} by {d.rule_id}: {d.reason}")
    if d.purpose is not None:
        p = loaded.purposes.get(d.purpose)  # type: ignore[call-overload]
        what = f" ({p.description})" if p is not None and p.description else ""
        click.echo(f"purpose: {d.purpose}{what}")
        if p is not None and p.legal_reason:
            click.echo(f"legal reason: {p.legal_reason}")
    else:
        click.echo(f"purpose: none live at {stage}")
    click.echo(f"lawful basis: {d.lawful_basis or 'none: nothing is released'}")
    rule = next((r for r in loaded.rules if r.id == d.rule_id), None)
    click.echo(
        f"rule: {d.rule_id}" + (f": {rule.description}" if rule is not None and rule.description else "")
    )
    sub = loaded.subscribers.get(subscriber)
    matched = loaded.rule_for(sub.role, category, d.purpose, stage) if sub and d.purpose else None
    if rule is None and matched is not None:
        # A broker rule refused what an agreement rule would allow: say which, so the refusal reads in full.
        click.echo(f"agreement rule that would apply: {matched.id}")
    apd = loaded.agreement.appropriate_policy_document
    click.echo(
        f"agreement: {loaded.agreement.reference}" + (f" (appropriate policy document {apd})" if apd else "")
    )
    click.echo(f"policy {loaded.version}")


@click.group()
@click.pass_context
def audit(ctx: click.Context) -> None:
    """The hash-chained, signed audit log of every decision."""
    # What these commands print is their report: the Kafka client's narration of each connection (at INFO)
    # would be interleaved with it. -v asks for everything.
    if not ctx.find_root().params.get("verbose"):
        logs.quiet("aiokafka", "kafka")


audit.add_command(subject)


def _audit_inputs(bootstrap: str | None, prefix: str) -> tuple[KafkaSettings, Topics]:
    from apps.cli.kafka import AdminSettings

    return kafka_for(AdminSettings().kafka, bootstrap, "admin"), Topics(prefix)


async def _load(kafka: KafkaSettings, topics: Topics, topic: str, keys_dir: Path):  # type: ignore[no-untyped-def]
    from jigsaw.bus.reader import read_to_end
    from jigsaw.wire.codec import SchemaRegistry
    from jigsaw.wire.directory import KeyDirectory

    registry = SchemaRegistry.load()
    directory = KeyDirectory(registry, KeystoreSettings(dir=keys_dir).root_key())
    refused = 0
    for rec in await read_to_end(kafka, topics.keys):
        if rec.value is not None:
            try:
                directory.apply(rec.value)
            except RejectedInput:
                refused += 1  # not signed by this deployment's root: not a key to trust
    if refused:
        click.echo(f"ignored {refused} key record(s) not signed by the admin root", err=True)
    return registry, directory, await read_to_end(kafka, topic)


@audit.command()
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
@click.option("--prefix", default="", help="Topic prefix of the deployment.")
@click.option("--topic", default=None, help="Audit topic (default: jigsaw.audit.v1 under the prefix).")
@click.option("--broker-id", default="broker", show_default=True)
@click.option("--keys-dir", type=click.Path(path_type=Path), default=Path(".jigsaw/keys"), show_default=True)
def verify(bootstrap: str | None, prefix: str, topic: str | None, broker_id: str, keys_dir: Path) -> None:
    """Walk every partition's chain; report each break or bad signature. Exit 1 if any."""
    from services.broker.audit import verify_chain

    kafka, topics = _audit_inputs(bootstrap, prefix)
    registry, directory, records = asyncio.run(_load(kafka, topics, topic or topics.audit, keys_dir))
    report = verify_chain(registry, directory, broker_id, records)
    for b in report.breaks or []:
        click.echo(f"BREAK partition {b.partition} offset {b.offset}: {b.problem}")
    click.echo(
        f"{report.records} records, {report.checkpoints} signed checkpoints, {report.duplicates} exact"
        f" duplicates, {len(report.breaks or [])} breaks"
    )
    if report.unsigned_tail:
        click.echo(
            f"{report.unsigned_tail} record(s) after the last checkpoint: a running broker signs them within"
            " its checkpoint interval, a stopped one at shutdown, a killed one when it starts again"
        )
    raise SystemExit(0 if report.ok else 1)


@audit.command()
@click.argument("decision_id")
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
@click.option("--prefix", default="", help="Topic prefix of the deployment.")
@click.option("--topic", default=None, help="Audit topic (default: jigsaw.audit.v1 under the prefix).")
@click.option("--broker-id", default="broker", show_default=True)
@click.option("--keys-dir", type=click.Path(path_type=Path), default=Path(".jigsaw/keys"), show_default=True)
def prove(
    decision_id: str, bootstrap: str | None, prefix: str, topic: str | None, broker_id: str, keys_dir: Path
) -> None:
    """Show that the audit record DECISION_ID is included below a signed checkpoint. Exit 1 if not.

    Each record from it to the checkpoint names the one before by its SHA-256, and the checkpoint's
    signature by the broker's key covers the last of them: altering the record would break a link or
    the signature.
    """
    from services.broker.audit import AUDIT_RECORD
    from services.broker.audit import prove as prove_included

    kafka, topics = _audit_inputs(bootstrap, prefix)
    registry, directory, records = asyncio.run(_load(kafka, topics, topic or topics.audit, keys_dir))
    found = None
    for rec in records:
        try:
            if registry.decode(rec.value or b"", AUDIT_RECORD)["decision_id"] == decision_id:
                found = rec
                break
        except JigsawError:
            continue  # unreadable: `jigsaw audit verify` reports it
    if found is None:
        click.echo(f"no audit record {decision_id} on {topic or topics.audit}", err=True)
        raise SystemExit(1)
    proof = prove_included(registry, directory, broker_id, records, found.partition, found.offset)
    click.echo(f"record {decision_id}: partition {proof.partition}, offset {proof.offset}, seq {proof.seq}")
    if proof.checkpoint_seq is not None and proof.signed_at is not None:
        signed = datetime.fromtimestamp(proof.signed_at / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(
            f"signed at seq {proof.checkpoint_seq} (offset {proof.checkpoint_offset}) by {broker_id}"
            f" key {proof.broker_kid} at {signed}, {proof.links} hash link(s) above the record"
        )
    if not proof.ok:
        click.echo(f"NOT PROVED: {proof.problem}")
        raise SystemExit(1)
    click.echo("included: every link and the signature check")


@audit.command()
@click.argument("referral")
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
@click.option("--prefix", default="", help="Topic prefix of the deployment.")
@click.option("--keys-dir", type=click.Path(path_type=Path), default=Path(".jigsaw/keys"), show_default=True)
def trail(referral: str, bootstrap: str | None, prefix: str, keys_dir: Path) -> None:
    """Who was given what about REFERRAL, when and on what basis; what was withheld and why."""
    from services.broker.audit import trail as audit_trail

    kafka, topics = _audit_inputs(bootstrap, prefix)
    registry, _, records = asyncio.run(_load(kafka, topics, topics.audit, keys_dir))
    rows = audit_trail(registry, records, referral)
    if not rows:
        click.echo(f"no decisions recorded for {referral}")
        return
    head = ("decided (UTC)", "subscriber", "category", "outcome", "rule")
    click.echo(f"{head[0]:<20} {head[1]:<12} {head[2]:<22} {head[3]:<9} {head[4]:<20} basis / reason")
    for a in rows:
        when = a["decided_at"].strftime("%Y-%m-%d %H:%M:%S")
        why = a["lawful_basis"] if a["outcome"] == "RELEASE" else a["reason"]
        click.echo(
            f"{when:<20} {a['subscriber']:<12} {a['category']:<22} {a['outcome']:<9} {a['rule_id']:<20} {why}"
        )
