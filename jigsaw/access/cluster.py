"""Making a cluster's ACLs and SCRAM users match the plan, as the operator (a super user).

kafka-python's admin client does the calls: aiokafka 0.14 has no ACL API (aiokafka #955), and Kafka's own
``AclCommand`` would mean a JVM start and parsing its text output for every plan. kafka-python is
synchronous, which suits a command run by hand or at set-up.

A plan owns every ACL that reaches into its namespace (the topics and groups under its prefix, or everything
for the unprefixed deployment): a literal name under the prefix or ``*``, a prefixed pattern that overlaps
it, and any cluster-level grant. ``apply`` adds what is missing and deletes the rest of what it owns, so a
stray grant, an ``ALLOW`` or a ``DENY`` alike, cannot outlive the next apply. Other prefixes sharing the
cluster (tests, tenants) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError

from jigsaw.access.plan import Kind, Plan
from jigsaw.config import KafkaSettings
from jigsaw.credentials import KafkaCredential
from jigsaw.errors import ConfigError, TransientError

_SCOPED = {ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID}


@dataclass(frozen=True, order=True)
class Entry:
    """One ACL as the cluster holds it, comparable with a plan's grants."""

    principal: str
    resource: str
    name: str
    pattern: str
    operation: str
    permission: str = "ALLOW"
    host: str = "*"

    def line(self) -> str:
        star = "*" if self.pattern == "PREFIXED" else ""
        return (
            f"{self.permission} {self.principal} {self.operation} {self.resource.lower()} {self.name}{star}"
            + ("" if self.host == "*" else f" from {self.host}")
        )


@dataclass(frozen=True)
class Diff:
    add: tuple[Entry, ...]
    remove: tuple[Entry, ...]

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove

    def lines(self) -> list[str]:
        return [f"+ {e.line()}" for e in self.add] + [f"- {e.line()}" for e in self.remove]


def desired(plan: Plan) -> set[Entry]:
    kinds = {Kind.TOPIC: "TOPIC", Kind.GROUP: "GROUP"}
    return {Entry(g.kafka_principal, kinds[g.kind], g.name, g.pattern.name, g.op.name) for g in plan.grants}


def _reaches(entry: Entry, prefix: str) -> bool:
    if entry.resource not in {t.name for t in _SCOPED}:
        return True  # a cluster-level grant reaches every namespace
    if not prefix:
        return True
    ns = f"{prefix}."
    if entry.pattern == "PREFIXED":
        return entry.name.startswith(ns) or ns.startswith(entry.name)
    return entry.name == "*" or entry.name.startswith(ns)


def admin_client(settings: KafkaSettings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(**settings.client_kwargs())
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {settings.bootstrap} as an admin: {exc}") from exc


def current(admin: KafkaAdminClient, prefix: str) -> set[Entry]:
    """Every ACL on the cluster that reaches into ``prefix``'s namespace."""
    everything = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    acls, error = admin.describe_acls(everything)
    if error is not None and getattr(error, "errno", None):
        raise ConfigError(f"describing the cluster's ACLs failed: {error}")
    found = {
        Entry(
            a.principal,
            a.resource_pattern.resource_type.name,
            a.resource_pattern.resource_name,
            a.resource_pattern.pattern_type.name,
            a.operation.name,
            a.permission_type.name,
            a.host,
        )
        for a in acls
    }
    return {e for e in found if _reaches(e, prefix)}


def diff(plan: Plan, held: set[Entry]) -> Diff:
    want = desired(plan)
    return Diff(tuple(sorted(want - held)), tuple(sorted(held - want)))


def _acl(entry: Entry) -> ACL:
    pattern = ResourcePattern(ResourceType[entry.resource], entry.name, ACLResourcePatternType[entry.pattern])
    return ACL(
        entry.principal,
        entry.host,
        ACLOperation[entry.operation],
        ACLPermissionType[entry.permission],
        pattern,
    )


def _filter(entry: Entry) -> ACLFilter:
    pattern = ResourcePatternFilter(
        ResourceType[entry.resource], entry.name, ACLResourcePatternType[entry.pattern]
    )
    return ACLFilter(
        entry.principal,
        entry.host,
        ACLOperation[entry.operation],
        ACLPermissionType[entry.permission],
        pattern,
    )


def _failures(result: dict[str, Any]) -> list[str]:
    return [f"{acl}: {err}" for acl, err in result.get("failed", [])]


def apply(settings: KafkaSettings, plan: Plan) -> Diff:
    """Make the cluster's ACLs in ``plan``'s namespace exactly the plan's. Returns what it changed."""
    admin = admin_client(settings)
    try:
        change = diff(plan, current(admin, plan.prefix))
        if change.add:
            failed = _failures(admin.create_acls([_acl(e) for e in change.add]))
            if failed:
                raise ConfigError("creating ACLs failed: " + "; ".join(failed))
        if change.remove:
            for _filter_in, _deleted, error in admin.delete_acls([_filter(e) for e in change.remove]):
                if error is not None and getattr(error, "errno", None):
                    raise ConfigError(f"deleting ACLs failed: {error}")
        return change
    finally:
        admin.close()


def compare(settings: KafkaSettings, plan: Plan) -> Diff:
    admin = admin_client(settings)
    try:
        return diff(plan, current(admin, plan.prefix))
    finally:
        admin.close()


def add_acls(settings: KafkaSettings, entries: Iterable[Entry]) -> None:
    """Create ACLs outside any plan (an operator's one-off; the next ``apply`` removes them)."""
    admin = admin_client(settings)
    try:
        failed = _failures(admin.create_acls([_acl(e) for e in entries]))
        if failed:
            raise ConfigError("creating ACLs failed: " + "; ".join(failed))
    finally:
        admin.close()


def upsert_scram_users(settings: KafkaSettings, credentials: Iterable[KafkaCredential]) -> list[str]:
    """Create or replace each credential's SCRAM-SHA-512 user. Returns the user names."""
    creds = list(credentials)
    if not creds:
        return []
    admin = admin_client(settings)
    try:
        result = admin.alter_user_scram_credentials(
            [
                UserScramCredentialUpsertion(
                    c.username, ScramMechanism.SCRAM_SHA_512, c.password.get_secret_value(), iterations=4096
                )
                for c in creds
            ]
        )
    finally:
        admin.close()
    failed = {user: err for user, err in result.items() if err}
    if failed:
        raise ConfigError(f"setting SCRAM credentials failed: {failed}")
    return [c.username for c in creds]


def ensure_scram_users(settings: KafkaSettings, credentials: Iterable[KafkaCredential]) -> list[str]:
    """Add the SCRAM users the cluster lacks (never changing one it has). Returns those added."""
    creds = list(credentials)
    admin = admin_client(settings)
    try:
        known = admin.describe_user_scram_credentials(None)
    finally:
        admin.close()
    have = {user for user, info in known.items() if not info.get("error") and info.get("credential_infos")}
    return upsert_scram_users(settings, [c for c in creds if c.username not in have])
