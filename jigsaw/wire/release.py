"""The broker's Release record (``jigsaw.body.Release``), carried inside its release stamp (Envelope v3).

The stamp signs it with everything else the broker changed, so a subscriber reads each section's decision
and purpose, whether the source is late information, the agreement's reference and the case's own ground
from the broker itself. A release stamped before the record existed reads with the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jigsaw.errors import PayloadInvalid
from jigsaw.wire.codec import SchemaRegistry

RELEASE_BODY = "jigsaw.body.Release"


@dataclass(frozen=True)
class ReleaseDetails:
    """What the Release record says of a release beyond the stamp: the purpose and stage it was decided for,
    one decision per section in the envelope's order (category, outcome, rule_id, reason, lawful_basis,
    purpose), whether the source is late information, the agreement's reference and the case's ground."""

    purpose: str | None = None
    stage: str = ""
    decisions: Sequence[Mapping[str, Any]] = ()
    late: bool = False
    agreement_ref: str | None = None
    ground: str | None = None
    family_informed: bool | None = None


@dataclass(frozen=True)
class ReleaseInfo:
    decision_id: str
    subscriber: str
    policy_version: str
    broker: str
    # From the stamp's Release record; the defaults for a release stamped before it carried one.
    late: bool = False
    agreement_ref: str | None = None
    ground: str | None = None
    family_informed: bool | None = None
    purpose: str | None = None
    decisions: tuple[dict[str, Any], ...] = ()


def release_record(
    registry: SchemaRegistry, env: Mapping[str, Any], stamp: Mapping[str, Any], d: ReleaseDetails
) -> bytes:
    """The Release record of one release, in single-object encoding."""
    record = {
        "decision_id": stamp["decision_id"],
        "source_msg_id": env["msg_id"],
        "source_kind": env["kind"],
        "subscriber": stamp["subscriber"],
        "policy_version": stamp["policy_version"],
        "purpose": d.purpose or "UNKNOWN",
        "stage": d.stage,
        "decisions": [dict(x) for x in d.decisions],
        "late": d.late,
        "agreement_ref": d.agreement_ref,
        "ground": d.ground,
        "family_informed": d.family_informed,
    }
    return registry.encode(registry.latest(RELEASE_BODY), record)


def release_info(registry: SchemaRegistry, env: Mapping[str, Any], stamp: Mapping[str, Any]) -> ReleaseInfo:
    """The stamp as a reader sees it (already verified), with its Release record if it carries one."""
    info = ReleaseInfo(stamp["decision_id"], stamp["subscriber"], stamp["policy_version"], stamp["broker"])
    if stamp.get("details") is None:
        return info
    body = registry.decode(stamp["details"], RELEASE_BODY)
    if (body["decision_id"], body["subscriber"], body["source_msg_id"]) != (
        stamp["decision_id"],
        stamp["subscriber"],
        env["msg_id"],
    ):
        raise PayloadInvalid("the release record is not this release's")
    return replace(
        info,
        late=body["late"],
        agreement_ref=body["agreement_ref"],
        ground=body["ground"],
        family_informed=body["family_informed"],
        purpose=None if body["purpose"] == "UNKNOWN" else body["purpose"],
        decisions=tuple(body["decisions"]),
    )
