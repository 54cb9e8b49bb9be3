"""Every topic name Jigsaw uses. No other module spells a topic name out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jigsaw.errors import ConfigError
from jigsaw.ids import TopicName

_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The topic attribute each kind other than INTEL and REPORT (an agency's own topic) travels on.
_KIND_TOPIC = {
    "REFERRAL": "referrals",
    "ENQUIRY": "enquiries",
    "CONSENT": "consent",
    "ASSIGNMENT": "assignments",
    "DECISION": "decisions",
}


@dataclass(frozen=True)
class TopicSpec:
    name: TopicName
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """Topic names under an optional prefix (a test's or a tenant's)."""

    prefix: str = ""

    def _t(self, name: str) -> TopicName:
        return TopicName(f"{self.prefix}.{name}" if self.prefix else name)

    @staticmethod
    def _segment(value: str, what: str) -> str:
        # Participant ids look like "police.devon": the dot becomes a dash so a topic stays one segment.
        seg = value.replace(".", "-")
        if not _SEGMENT.match(seg):
            raise ConfigError(f"{what} {value!r} cannot be part of a topic name")
        return seg

    @property
    def referrals(self) -> TopicName:
        return self._t("jigsaw.referrals.v1")

    @property
    def enquiries(self) -> TopicName:
        return self._t("jigsaw.enquiries.v1")

    def intel(self, agency: str) -> TopicName:
        return self._t(f"jigsaw.intel.{self._segment(agency, 'agency')}.v1")

    @property
    def consent(self) -> TopicName:
        return self._t("jigsaw.consent.v1")

    @property
    def assignments(self) -> TopicName:
        return self._t("jigsaw.assignments.v1")

    def release(self, subscriber: str) -> TopicName:
        return self._t(f"jigsaw.release.{self._segment(subscriber, 'subscriber')}.v1")

    @property
    def audit(self) -> TopicName:
        return self._t("jigsaw.audit.v1")

    @property
    def decisions(self) -> TopicName:
        return self._t("jigsaw.decisions.v1")

    @property
    def dlq(self) -> TopicName:
        return self._t("jigsaw.dlq.v1")

    @property
    def keys(self) -> TopicName:
        return self._t("jigsaw.keys.v1")

    def for_kind(self, kind: str, agency: str | None = None) -> TopicName:
        """The one topic a message of ``kind`` travels on (an agency's own, for its returns and reports)."""
        if kind in ("INTEL", "REPORT"):
            if agency is None:
                raise ConfigError(f"a {kind} travels on its agency's topic: name the agency")
            return self.intel(agency)
        attr = _KIND_TOPIC.get(kind)
        if attr is None:
            raise ConfigError(f"no topic carries messages of kind {kind!r}")
        name: TopicName = getattr(self, attr)
        return name

    def group(self, participant: str, purpose: str = "") -> str:
        """A participant's consumer group (under the prefix, like the topics): the ACLs give each group to
        its own participant only, so one participant cannot join, or move the offsets of, another's."""
        return self._t(f"jigsaw.{participant}" + (f".{purpose}" if purpose else ""))

    def specs(self, agencies: list[str], subscribers: list[str], partitions: int = 3) -> list[TopicSpec]:
        """Every topic of one deployment. Joined topics share one partition count."""
        keyed = [self.referrals, self.enquiries, self.consent, self.assignments, self.decisions]
        keyed += [self.intel(a) for a in agencies] + [self.release(s) for s in subscribers]
        specs = [TopicSpec(t, partitions) for t in keyed]
        specs.append(TopicSpec(self.audit, partitions, {"retention.ms": "-1"}))
        specs.append(TopicSpec(self.dlq, 1, {"retention.ms": str(30 * 24 * 3600 * 1000)}))
        specs.append(TopicSpec(self.keys, 1, {"cleanup.policy": "compact", "retention.ms": "-1"}))
        return specs
