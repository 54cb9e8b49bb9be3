"""Scoped screening answers: which category each of an agency's contacts travels as.

"Known / not known + contact" is itself a disclosure: the name of a team can reveal what its data would (a
sex offender management team, a drug and alcohol service, CAMHS). The broker never reads a payload, so a
contact whose team or service names another category's fact travels as that category's own contact,
``contact_<category>``, which the broker releases only to a desk that may know the fact. The plain
``contact`` says only that the agency knows the person, and a route that reveals nothing more.

The mapping is the connector's configuration (``contacts:`` in its YAML file), checked when it loads:

.. code-block:: yaml

    contacts:
      default: contact            # what a contact no rule matches travels as
      reveals:                    # the first rule that matches a contact decides; case-insensitive
        - category: police_intelligence
          match: [MOSOVO, ViSOR, sex offender, intelligence]
      route:                      # the plain answer, for a person whose every contact is scoped
        contact_team: Police MASH liaison
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from jigsaw.wire.categories import CONTACT_REVEALS

PLAIN = "contact"
# What a rule reads of a contact item: every text that could name a team or a service.
_TEXT_FIELDS = ("agency", "contact_team", "contact_role", "contact_email")
_STRICT = ConfigDict(extra="forbid", frozen=True)
_Pattern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]


def scoped(category: str) -> str:
    """The contact category that reveals ``category``: ``contact_mental_health`` for mental_health."""
    return f"contact_{category}"


def _revealable(category: str) -> str:
    if category not in CONTACT_REVEALS:
        raise ValueError(
            f"{category!r} is not a category a screening answer can reveal; one of {list(CONTACT_REVEALS)}"
        )
    return category


class RevealRule(BaseModel):
    """A contact whose text contains any of ``match`` travels as ``contact_<category>``."""

    model_config = _STRICT

    category: str = Field(description="The category the team's name reveals, e.g. mental_health.")
    match: Annotated[tuple[_Pattern, ...], Field(min_length=1)] = Field(
        description="Words or phrases of a team's or service's name, e.g. CAMHS; case-insensitive."
    )

    _known = field_validator("category")(_revealable)

    def matches(self, text: str) -> bool:
        return any(p.casefold() in text for p in self.match)


class PlainRoute(BaseModel):
    """The agency's own front door: a team that says the agency knows the person, and nothing more."""

    model_config = _STRICT

    contact_team: _Pattern
    contact_role: str | None = None
    contact_phone: str | None = None  # a team's number, never a person's own
    contact_email: str | None = None


class ContactRouting(BaseModel):
    """Which category each contact travels as. The default keeps every contact plain: right for an
    agency whose team names reveal nothing beyond the agency (tenancy services, a police MASH liaison)."""

    model_config = _STRICT

    default: str = Field(
        default=PLAIN,
        description="What a contact no rule matches travels as: contact, or a category every one of this "
        "agency's contacts reveals (probation: being known to probation at all is probation's fact).",
    )
    reveals: tuple[RevealRule, ...] = ()
    route: PlainRoute | None = Field(
        default=None,
        description="The plain answer sent for a known person whose every contact is scoped, so that a "
        "desk that may not know the fact still learns the agency knows them and whom to call.",
    )

    @field_validator("default")
    @classmethod
    def _default(cls, category: str) -> str:
        return category if category == PLAIN else _revealable(category)

    def categories(self) -> set[str]:
        """Every category a contact can travel as under this configuration."""
        found = {self.category_of_default()}
        found |= {scoped(rule.category) for rule in self.reveals}
        if self.route is not None:
            found.add(PLAIN)
        return found

    def category_of_default(self) -> str:
        return PLAIN if self.default == PLAIN else scoped(self.default)

    def category(self, item: dict[str, Any]) -> str:
        """The category ``item`` (a Contact payload item) travels as: the first rule that matches it."""
        text = " ".join(str(item.get(f) or "") for f in _TEXT_FIELDS).casefold()
        rule = next((r for r in self.reveals if r.matches(text)), None)
        return scoped(rule.category) if rule is not None else self.category_of_default()

    def route_items(self, agency: str, items: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """One person's contact items by the category each travels as. A person known only through scoped
        contacts also gets the plain route, when one is configured: "known to the agency" is no secret."""
        routed: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            routed.setdefault(self.category(item), []).append(item)
        if PLAIN not in routed and self.route is not None and _known(items):
            routed[PLAIN] = [self._plain(agency, items)]
        return routed

    def _plain(self, agency: str, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        assert self.route is not None  # noqa: S101 - the caller checks
        first = items[0]
        return {
            "kind": "FACT",
            "source": first.get("source"),
            "recorded_on": max(i["recorded_on"] for i in items),
            "source_ref": None,
            "known": True,
            "agency": agency,
            # Whether a scoped service is open, and when it last saw the person, are the scoped facts.
            "currently_open": None,
            "last_involvement": None,
            **self.route.model_dump(),
        }


def _known(items: Iterable[dict[str, Any]]) -> bool:
    return any(i.get("known") for i in items)
