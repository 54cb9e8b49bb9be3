"""``jigsaw kafka up | down | status | logs``, ``jigsaw kafka acls plan | apply``, ``jigsaw kafka users``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from pydantic_settings import SettingsConfigDict

from apps.cli.common import kafka_for
from devkit.localkafka import LocalKafka, LocalKafkaSettings
from jigsaw.config import ServiceSettings
from jigsaw.roster import load_roster
from jigsaw.topics import Topics

DEFAULT_POLICY = Path("deploy/policy/devon-mash.yaml")


class AdminSettings(ServiceSettings):
    """``JIGSAW_ADMIN__*``: the operator's Kafka settings (a super user); unset, the local Kafka's admin."""

    model_config = SettingsConfigDict(env_prefix="JIGSAW_ADMIN__", env_nested_delimiter="__", frozen=True)


@click.group()
def kafka() -> None:
    """Run a real Apache Kafka on loopback (jars fetched by Maven, KRaft, one node or three), secured by
    default."""


@kafka.command()
@click.option(
    "--insecure", is_flag=True, help="Plaintext, no authentication and no ACLs: for debugging only."
)
@click.option(
    "--nodes",
    type=click.IntRange(1, 5),
    default=None,
    help="KRaft nodes, each broker and controller (3: replication 3, min.insync.replicas 2). "
    "Default: as the storage was formatted, else 1.",
)
def up(insecure: bool, nodes: int | None) -> None:
    """Start the local Kafka (or find it running) and wait until every node answers.

    By default it listens for SCRAM-SHA-512 over TLS and for TLS client certificates, runs the standard
    authorizer with nothing allowed that an ACL does not grant, and has a SCRAM user and a certificate for
    every participant of the deployment's policy (credentials under .jigsaw/kafka/principals/).
    """
    lk = LocalKafka(LocalKafkaSettings(insecure=insecure, nodes=nodes))
    status = lk.up()
    click.echo(f"bootstrap: {status.bootstrap}")
    if status.secure:
        click.echo(
            f"mtls bootstrap: {status.mtls_bootstrap}; CA {lk.tls.ca}; credentials {lk.principals_dir}"
        )
    else:
        click.secho("INSECURE: anyone who can reach this port may read, write and delete anything", fg="red")


_NODE = click.argument("node", type=int)


@kafka.command()
@_NODE
@click.option("--stop", "pause", is_flag=True, help="SIGSTOP instead: the node hangs until `start`.")
def kill(node: int, pause: bool) -> None:
    """SIGKILL one node of the local Kafka, as a machine failing would (for fault tests)."""
    import signal

    lk = LocalKafka()
    lk.kill(node, signal.SIGSTOP if pause else signal.SIGKILL)


@kafka.command()
@click.argument("nodes", type=int, nargs=-1, required=True)
def start(nodes: tuple[int, ...]) -> None:
    """Start nodes that are down (or SIGCONT one stopped with `kill --stop`), and wait until they answer."""
    lk = LocalKafka()
    lk.start(*nodes)


@kafka.command()
@click.option(
    "--purge", is_flag=True, help="Also delete the broker's data, logs, certificates and credentials."
)
def down(purge: bool) -> None:
    """Stop exactly the nodes that `up` started."""
    lk = LocalKafka()
    if purge:
        lk.purge()
    else:
        lk.down()


@kafka.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable status.")
def status(as_json: bool) -> None:
    """Is the local Kafka running and answering, node by node? Exit status 0 only if every node is."""
    st = LocalKafka(progress=lambda _: None).status()
    if as_json:
        click.echo(json.dumps(st.as_dict()))
    elif not st.nodes or not any(n.running for n in st.nodes):
        click.echo("not running")
    else:
        mode = "secured (SASL_SSL, mTLS)" if st.secure else "INSECURE (plaintext)"
        for n in st.nodes:
            where = f"node {n.node_id}: " if len(st.nodes) > 1 else ""
            if n.running:
                word = "answering" if n.answering else "NOT answering"
                click.echo(f"{where}running: pid {n.pid}, {n.bootstrap}, {word}, {mode}")
            else:
                click.echo(f"{where}not running ({n.bootstrap})")
    raise SystemExit(0 if st.running and st.answering else 3)


@kafka.command()
@click.option("-n", "--lines", default=50, show_default=True)
@click.option("--node", default=1, show_default=True, help="Which node's log.")
def logs(lines: int, node: int) -> None:
    """Print the end of a node's log."""
    click.echo(LocalKafka(progress=lambda _: None).tail(lines, node))


_POLICY = click.option(
    "--policy", type=click.Path(path_type=Path), default=DEFAULT_POLICY, show_default=True, help="The ISA."
)
_PREFIX = click.option("--prefix", default="", help="The deployment's topic prefix (a test's, a tenant's).")
_BOOTSTRAP = click.option(
    "--bootstrap",
    default=None,
    help="Kafka bootstrap (default: JIGSAW_ADMIN__KAFKA__*, else the local Kafka).",
)


@kafka.group()
def acls() -> None:
    """The least-privilege ACLs that the policy and the topic map imply (see docs/security.md)."""


@acls.command("plan")
@_POLICY
@_PREFIX
@_BOOTSTRAP
@click.option("--format", "fmt", type=click.Choice(["table", "strimzi"]), default="table", show_default=True)
@click.option(
    "--partitions", default=3, show_default=True, help="Partitions per topic (strimzi KafkaTopics)."
)
@click.option("--check", is_flag=True, help="Exit 1 if the cluster differs from the plan.")
def plan_cmd(
    policy: Path, prefix: str, bootstrap: str | None, fmt: str, partitions: int, check: bool
) -> None:
    """Print the plan and how the cluster differs from it (`+` to add, `-` to remove).

    With --format strimzi, print it as Strimzi KafkaUser and KafkaTopic resources instead (no cluster needed).
    """
    from jigsaw.access import cluster, strimzi
    from jigsaw.access.plan import plan

    the_plan = plan(load_roster(policy), Topics(prefix), partitions)
    if fmt == "strimzi":
        click.echo(strimzi.to_yaml(strimzi.render(the_plan)), nl=False)
        return
    click.echo(the_plan.table())
    change = cluster.compare(kafka_for(AdminSettings().kafka, bootstrap, "admin"), the_plan)
    click.echo("")
    if change.empty:
        click.echo(f"the cluster matches the plan ({len(the_plan.grants)} grants)")
    else:
        click.echo(
            f"the cluster differs from the plan: {len(change.add)} to add, {len(change.remove)} to remove"
        )
        for line in change.lines():
            click.echo(line)
    if check and not change.empty:
        raise SystemExit(1)


@acls.command("apply")
@_POLICY
@_PREFIX
@_BOOTSTRAP
@click.option("--partitions", default=3, show_default=True, help="Partitions of topics it creates.")
@click.option(
    "--replication",
    type=click.IntRange(min=1),
    default=None,
    help="Replicas of topics it creates (default: the cluster's default.replication.factor).",
)
def apply_cmd(
    policy: Path, prefix: str, bootstrap: str | None, partitions: int, replication: int | None
) -> None:
    """Create the deployment's missing topics, then make the cluster's ACLs under PREFIX exactly the plan's:
    add what is missing, remove what is not in it. Running it twice changes nothing the second time."""
    from jigsaw.access import cluster
    from jigsaw.access.plan import plan
    from jigsaw.bus.admin import ensure_topics

    the_plan = plan(load_roster(policy), Topics(prefix), partitions)
    admin = kafka_for(AdminSettings().kafka, bootstrap, "admin")
    created = asyncio.run(ensure_topics(admin, the_plan.topics, replication))
    click.echo(f"topics: {len(created)} created, {len(the_plan.topics) - len(created)} already there")
    change = cluster.apply(admin, the_plan)
    for line in change.lines():
        click.echo(line)
    click.echo(
        f"acls: {len(change.add)} added, {len(change.remove)} removed; {len(the_plan.grants)} in the plan"
    )


@kafka.group()
def users() -> None:
    """Participants' SCRAM credentials (the user name is the participant id)."""


@users.command("add")
@click.argument("participant")
@click.option(
    "--keys-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the participant's keystore is; its credential goes beside it (default: the local Kafka's).",
)
@click.option("--rotate", is_flag=True, help="Replace an existing credential with a new password.")
@_BOOTSTRAP
def add_user(participant: str, keys_dir: Path | None, rotate: bool, bootstrap: str | None) -> None:
    """Create PARTICIPANT's SCRAM user on the cluster and write its credential file (0600).

    With --rotate the cluster takes the new password at once: connections already open go on, but the
    participant must restart to sign in again, so rotate one participant at a time (docs/security.md).
    """
    from jigsaw.access import cluster
    from jigsaw.credentials import KafkaCredential, credential_path, save_credential
    from jigsaw.errors import ConfigError

    where = keys_dir or LocalKafka(progress=lambda _: None).principals_dir
    path = credential_path(where, participant)
    if path.exists() and not rotate:
        raise ConfigError(f"{path} exists: pass --rotate to replace it")
    cred = KafkaCredential.generate(participant)
    # The cluster first: if it refuses, the participant's current file still works.
    cluster.upsert_scram_users(kafka_for(AdminSettings().kafka, bootstrap, "admin"), [cred])
    saved = save_credential(where, cred)
    click.echo(
        f"{participant}: SCRAM-SHA-512 user {'rotated' if rotate else 'created'}; credential in {saved}"
    )
