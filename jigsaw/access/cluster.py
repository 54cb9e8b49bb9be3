"""Making a cluster's ACLs and SCRAM users match the plan, as the operator (a super user).

kafka-python's admin client does the calls: aiokafka 0.14 has no ACL API (aiokafka #955), and Kafka's own
``AclCommand`` would mean a JVM start and parsing its text output for every plan. kafka-python is
synchronous, which suits a command run by hand or at set-up.

A plan owns every ACL that reaches into its namespace (the topics and groups under its prefix, or, for the
unprefixed deployment, those named ``jigsaw.``): a literal name in it or ``*``, a prefixed pattern that
overlaps it, and any cluster-level grant. ``apply`` adds what is missing and deletes the rest of what it
owns, so a stray grant, an ``ALLOW`` or a ``DENY`` alike, cannot outlive the next apply. Other prefixes
sharing the cluster (tests, tenants) are left alone.
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


def namespace(prefix: str) -> str:
    """What names a deployment's topics and groups start with: under its prefix, or Jigsaw's own."""
    return f"{prefix}." if prefix else "jigsaw."


def _reaches(entry: Entry, prefix: str) -> bool:
    if entry.resource not in {t.name for t in _SCOPED}:
        return True  # a cluster-level grant reaches every namespace
    ns = namespace(prefix)
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
    try:
        acls, _error = admin.describe_acls(everything)
    except KafkaError as exc:
        raise ConfigError(f"describing the cluster's ACLs failed ({type(exc).__name__}): {exc}") from exc
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


def _create(admin: KafkaAdminClient, entries: list[Entry]) -> None:
    try:
        result: dict[str, Any] = admin.create_acls([_acl(e) for e in entries])
    except KafkaError as exc:
        raise ConfigError(f"creating ACLs failed ({type(exc).__name__}): {exc}") from exc
    # kafka-python lists each failure as an error (class or instance), in the order the ACLs were sent.
    failed = [f"{getattr(err, '__name__', type(err).__name__)}" for err in result.get("failed", [])]
    if failed:
        raise ConfigError(f"creating {len(failed)} of {len(entries)} ACLs failed: {', '.join(failed)}")


def apply(settings: KafkaSettings, plan: Plan) -> Diff:
    """Make the cluster's ACLs in ``plan``'s namespace exactly the plan's. Returns what it changed."""
    admin = admin_client(settings)
    try:
        change = diff(plan, current(admin, plan.prefix))
        if change.add:
            _create(admin, list(change.add))
        if change.remove:
            try:
                results = admin.delete_acls([_filter(e) for e in change.remove])
            except KafkaError as exc:
                raise ConfigError(f"deleting ACLs failed ({type(exc).__name__}): {exc}") from exc
            for _filter_in, _deleted, error in results:
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
        _create(admin, list(entries))
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
