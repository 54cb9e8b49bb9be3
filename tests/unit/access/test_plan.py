"""The ACL plan from the roster, and which cluster ACLs a plan owns: no broker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jigsaw.access.cluster import Entry, desired, diff
from jigsaw.access.plan import Kind, Op, plan
from jigsaw.roster import Roster, load_roster
from jigsaw.topics import Topics

POLICY = Path(__file__).resolve().parents[3] / "deploy" / "policy" / "devon-mash.yaml"
ROSTER = load_roster(POLICY)


def _grants(pid: str, prefix: str = "p") -> set[tuple[str, str, str]]:
    return {(g.kind.value, g.name, g.op.value) for g in plan(ROSTER, Topics(prefix)).of(pid)}


def test_a_connector_writes_only_its_own_intel_and_reads_only_enquiries_and_keys() -> None:
    t = Topics("p")
    got = _grants("police.devon")
    assert got == {
        ("topic", t.intel("police"), "Write"),
        ("topic", t.dlq, "Write"),
        ("topic", t.enquiries, "Read"),
        ("topic", t.keys, "Read"),
        ("group", t.group("police.devon"), "Read"),
    }


def test_only_the_broker_writes_releases_and_audit() -> None:
    t = Topics("p")
    the_plan = plan(ROSTER, t)
    protected = {t.audit, *(t.release(s) for s in ROSTER.subscriber_ids)}
    writers = {g.principal for g in the_plan.grants if g.op is Op.WRITE and g.name in protected}
    assert writers == {"broker"}


def test_a_hub_reads_only_its_own_subscribers_release_topic() -> None:
    t = Topics("p")
    for pid in ("hub.police-mash", "hub.health-mash", "hub.partner-hub", "hub.devon"):
        own = t.release(ROSTER.served_subscriber(pid))
        releases = {n for k, n, op in _grants(pid) if k == "topic" and op == "Read" and ".release." in n}
        assert releases == {own}, pid
        assert not any(op == "Write" and ".intel." in n for _, n, op in _grants(pid)), pid


def test_no_participant_may_use_another_participants_group() -> None:
    groups: dict[str, str] = {}
    for g in plan(ROSTER, Topics("p")).grants:
        if g.kind is Kind.GROUP:
            assert groups.setdefault(g.name, g.principal) == g.principal, g.name


@pytest.mark.parametrize("bad", ["*", "admin", "Police.Devon", "hub.devon.reports", "a b"])
def test_a_participant_id_that_would_widen_a_grant_is_refused(bad: str) -> None:
    participants = {**ROSTER.participants, bad: ROSTER.participants["police.devon"]}
    with pytest.raises(ValidationError, match="participant ids"):
        Roster(participants=participants, subscribers=ROSTER.subscribers)


def _entry(name: str, pattern: str = "LITERAL", resource: str = "TOPIC") -> Entry:
    return Entry("User:police.devon", resource, name, pattern, "READ")


def test_a_plan_owns_what_reaches_into_its_namespace_and_leaves_other_prefixes_alone() -> None:
    the_plan = plan(ROSTER, Topics("p"))
    stray = {
        _entry("p.jigsaw.release.csc-mash.v1"),  # under the prefix
        _entry("*"),  # every topic, this prefix's too
        _entry("p.", "PREFIXED"),
        _entry("", "PREFIXED"),
        _entry("kafka-cluster", resource="CLUSTER"),
    }
    foreign = {_entry("q.jigsaw.release.csc-mash.v1"), _entry("pq.jigsaw.keys.v1"), _entry("q.", "PREFIXED")}
    from jigsaw.access.cluster import _reaches

    assert {e for e in stray | foreign if _reaches(e, "p")} == stray
    change = diff(the_plan, desired(the_plan) | stray)
    assert set(change.remove) == stray
    assert change.add == ()
    assert diff(the_plan, desired(the_plan)).empty


def test_the_unprefixed_plan_owns_only_jigsaws_names() -> None:
    from jigsaw.access.cluster import _reaches

    assert _reaches(_entry("jigsaw.intel.police.v1"), "")
    assert not _reaches(_entry("demo-1.jigsaw.intel.police.v1"), "")
    assert not _reaches(_entry("payments.orders"), "")
