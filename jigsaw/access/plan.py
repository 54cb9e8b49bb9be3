"""The least-privilege Kafka ACLs that a deployment's roster and topic map imply.

Each participant authenticates as itself (SCRAM or an mTLS certificate, both mapping to ``User:<id>``) and is
granted exactly what its role needs; the cluster denies everything else
(``allow.everyone.if.no.acl.found=false``). The table, per participant ``p``:

- everyone: read the key directory, write the dead-letter topic;
- a connector: write its own agency's intelligence topic, read the enquiries in its own group;
- a hub: write the topic of each kind the roster lets it send, read its own subscriber's release topic in its
  own group (and rebuild groups); the front door also reads the intelligence topics, for reports;
- the broker: read every input topic in its own group, write every release topic and the audit topic.

Topic creation, deletion and the audit and dead-letter read-back are the operator's (a super user), so no
participant has a cluster-level or ``Create`` grant. Every grant is ``ALLOW`` from any host; pattern types are
literal except the hubs' rebuild groups, which are fresh for each rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jigsaw.roster import RESERVED_PRINCIPALS, Roster
from jigsaw.topics import Topics, TopicSpec

ADMIN, NODE, OUTSIDER = RESERVED_PRINCIPALS
REBUILD = "rebuild-"


class Kind(StrEnum):
    TOPIC = "topic"
    GROUP = "group"


class Op(StrEnum):
    # Read and Write imply Describe, so a grant never needs a separate Describe.
    READ = "Read"
    WRITE = "Write"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


@dataclass(frozen=True, order=True)
class Grant:
    principal: str
    kind: Kind
    name: str
    op: Op
    pattern: Pattern = Pattern.LITERAL

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.principal}"

    def line(self) -> str:
        star = "*" if self.pattern is Pattern.PREFIXED else ""
        return f"{self.principal:<20} {self.op.value:<6} {self.kind.value:<6} {self.name}{star}"


@dataclass(frozen=True)
class Plan:
    """Every grant of one deployment under one topic prefix, its principals and its topics."""

    prefix: str
    principals: tuple[str, ...]
    grants: tuple[Grant, ...]
    topics: tuple[TopicSpec, ...]

    def of(self, principal: str) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.principal == principal)

    def topics_of(self, principal: str) -> list[TopicSpec]:
        """The topics ``principal`` is granted anything on: what it checks (or creates) at start."""
        names = {g.name for g in self.of(principal) if g.kind is Kind.TOPIC}
        return [t for t in self.topics if t.name in names]

    def table(self) -> str:
        head = f"{'principal':<20} {'op':<6} {'kind':<6} resource ({len(self.grants)} grants; * = prefix)"
        return "\n".join([head, *(g.line() for g in self.grants)])


def plan(roster: Roster, topics: Topics, partitions: int = 3) -> Plan:
    """The grants for ``roster`` on the topics of ``topics``' prefix, sorted."""
    grants: set[Grant] = set()

    def topic(pid: str, name: str, op: Op) -> None:
        grants.add(Grant(pid, Kind.TOPIC, name, op))

    def group(pid: str, name: str, pattern: Pattern = Pattern.LITERAL) -> None:
        grants.add(Grant(pid, Kind.GROUP, name, Op.READ, pattern))

    intel = [topics.intel(a) for a in roster.agencies]
    for pid, p in roster.participants.items():
        topic(pid, topics.keys, Op.READ)
        topic(pid, topics.dlq, Op.WRITE)
        for kind in roster.kinds(pid):
            topic(pid, topics.for_kind(kind, p.agency), Op.WRITE)
        if p.role == "AGENCY_CONNECTOR":
            topic(pid, topics.enquiries, Op.READ)
            group(pid, topics.group(pid))
        elif p.role == "HUB":
            topic(pid, topics.release(roster.served_subscriber(pid)), Op.READ)
            group(pid, topics.group(pid))
            group(pid, topics.group(pid, REBUILD), Pattern.PREFIXED)
            if p.subscriber is None:  # the front door reads the agencies' reports sealed to it
                for name in intel:
                    topic(pid, name, Op.READ)
                group(pid, topics.group(pid, "reports"))
        else:  # the broker
            inputs = [
                topics.referrals,
                topics.consent,
                topics.assignments,
                topics.decisions,
                topics.enquiries,
            ]
            for name in inputs + intel:
                topic(pid, name, Op.READ)
            for sub in roster.subscriber_ids:
                topic(pid, topics.release(sub), Op.WRITE)
            topic(pid, topics.audit, Op.WRITE)
            group(pid, topics.group(pid))
    specs = topics.specs(list(roster.agencies), list(roster.subscriber_ids), partitions)
    return Plan(topics.prefix, tuple(roster.participants), tuple(sorted(grants)), tuple(specs))
