"""The access plan as Strimzi resources, for a cluster that the Strimzi operator runs on Kubernetes.

Under Strimzi the User Operator owns every SCRAM credential and ACL of the cluster and reconciles them from
``KafkaUser`` resources, so ACLs added by hand (``kafka-acls.sh``, an admin client) would be overwritten; the
plan therefore has to reach such a cluster as resources. Each participant becomes one ``KafkaUser`` whose
``metadata.name`` is its participant id, because Strimzi's SCRAM principal is ``User:<metadata.name>``
and that is the principal the plan's grants (and every other part of Jigsaw) name. Each topic of the plan
becomes one ``KafkaTopic``, with the replication the cluster's durability rests on, because no participant
may create topics.

The API version is ``kafka.strimzi.io/v1``: the Strimzi release whose CRDs are pinned in
``deploy/kubernetes/crds`` serves nothing else (``v1beta2`` was removed in 1.0).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import yaml

from jigsaw.access.plan import Grant, Kind, Pattern, Plan
from jigsaw.topics import TopicSpec

API_VERSION = "kafka.strimzi.io/v1"
REPLICAS = 3
# With three replicas, two in sync lets a broker be down (a rolling restart) while writes still need a copy
# on a second broker before they are acknowledged.
MIN_INSYNC_REPLICAS = "2"
MAX_NAME = 253
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_PATTERN_TYPES = {Pattern.LITERAL: "literal", Pattern.PREFIXED: "prefix"}


def is_resource_name(name: str) -> bool:
    """Whether Kubernetes accepts ``name`` as a custom resource's ``metadata.name`` (a DNS-1123 subdomain)."""
    return len(name) <= MAX_NAME and _DNS1123_SUBDOMAIN.fullmatch(name) is not None


def topic_resource_name(topic: str) -> str:
    """A ``KafkaTopic`` name for ``topic``: the topic name itself where Kubernetes accepts it.

    Kafka allows upper case, ``_`` and leading dots, which Kubernetes does not; such a name is folded to the
    allowed characters and suffixed with a hash of the original, so that two topics that fold alike (``a_b``
    and ``a-b``) still get two resources. ``spec.topicName`` always carries the real name.
    """
    if is_resource_name(topic):
        return topic
    labels = (label.strip("-") for label in re.sub(r"[^a-z0-9.-]", "-", topic.lower()).split("."))
    folded = ".".join(label for label in labels if label)
    digest = hashlib.sha256(topic.encode()).hexdigest()[:8]
    folded = folded[: MAX_NAME - len(digest) - 1].rstrip(".-")
    return f"{folded}-{digest}" if folded else digest


def render(plan: Plan, cluster: str = "jigsaw", namespace: str | None = None) -> list[dict[str, Any]]:
    """A ``KafkaUser`` for each principal of ``plan`` (in the plan's order), then a ``KafkaTopic`` for each of
    its topics, all labelled for the Strimzi cluster ``cluster``."""
    if len(cluster) > 63 or not re.fullmatch(_DNS1123_LABEL, cluster):
        # Strimzi names the cluster's services and pods after it, so it must be a DNS-1123 label.
        raise ValueError(f"{cluster!r} is not a DNS-1123 label, so it cannot name a Strimzi cluster")
    users = [_user(pid, plan.of(pid), cluster, namespace) for pid in plan.principals]
    return users + [_topic(spec, cluster, namespace) for spec in plan.topics]


def to_yaml(resources: list[dict[str, Any]]) -> str:
    """``resources`` as one multi-document YAML stream, for ``kubectl apply -f``."""
    return str(yaml.safe_dump_all(resources, sort_keys=False))


def _metadata(name: str, cluster: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    # The operators act only on resources labelled for their own cluster.
    meta["labels"] = {"strimzi.io/cluster": cluster}
    return meta


def _user(pid: str, grants: tuple[Grant, ...], cluster: str, namespace: str | None) -> dict[str, Any]:
    if not is_resource_name(pid):
        # A different resource name would be a different SCRAM principal, which the grants would not match.
        raise ValueError(
            f"participant id {pid!r} is not a Kubernetes resource name, so no KafkaUser can be it"
        )
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaUser",
        "metadata": _metadata(pid, cluster, namespace),
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": _acls(grants)},
        },
    }


def _acls(grants: tuple[Grant, ...]) -> list[dict[str, Any]]:
    # One rule per resource with all its operations: the form Strimzi's own examples use, and fewer rules to
    # review. The plan's kinds and operations are already Strimzi's words; only "prefixed" is not.
    # Dicts keep the plan's sorted order, so the output is stable.
    ops: dict[tuple[Kind, str, Pattern], list[str]] = {}
    for g in grants:
        rule = ops.setdefault((g.kind, g.name, g.pattern), [])
        if g.op.value not in rule:
            rule.append(g.op.value)
    return [
        {
            "type": "allow",
            "resource": {"type": kind.value, "name": name, "patternType": _PATTERN_TYPES[pattern]},
            "operations": operations,
            "host": "*",
        }
        for (kind, name, pattern), operations in ops.items()
    ]


def _topic(spec: TopicSpec, cluster: str, namespace: str | None) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": _metadata(topic_resource_name(spec.name), cluster, namespace),
        "spec": {
            "topicName": spec.name,
            "partitions": spec.partitions,
            "replicas": REPLICAS,
            # Set after the topic's own config, so that every topic keeps the floor durability rests on.
            "config": {**spec.config, "min.insync.replicas": MIN_INSYNC_REPLICAS},
        },
    }
