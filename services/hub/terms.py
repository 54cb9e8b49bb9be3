"""What the intake needs of the information sharing agreement: its reference, each purpose's lawful basis
and legal reason, which categories are special-category or criminal-offence data, which participants are
competent authorities, what each agency publishes, and what screening may ask for.

Read from the same policy file as the roster, as a plain mapping: the broker owns the agreement's model
and its rules, and a service does not import another (docs/architecture.md). Only the fields named here
are read; the broker validates the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jigsaw.errors import ConfigError
from jigsaw.roster import read_yaml_mapping


@dataclass(frozen=True)
class Purpose:
    article_6: str
    legal_reason: str
    article_9: str | None = None
    article_10: str | None = None
    dpa_condition: str | None = None
    part_3: str | None = None


@dataclass(frozen=True)
class Terms:
    reference: str
    purposes: Mapping[str, Purpose]
    special: frozenset[str] = frozenset()
    criminal: frozenset[str] = frozenset()
    competent: frozenset[str] = frozenset()
    publishes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    screening: tuple[str, ...] = ("identity", "contact")

    def purpose(self, name: str) -> Purpose:
        found = self.purposes.get(name)
        if found is None:
            raise ConfigError(f"the agreement has no purpose {name}")
        return found

    def lawful_basis(self, purpose: str, categories: Iterable[str], participant: str) -> str:
        """The basis an enquiry relies on, as the broker states one for a release: Article 6; Article 9
        and the DPA 2018 condition when special-category data is asked for; Article 10 and the condition
        for criminal-offence data; DPA 2018 Part 3 when the one asked is a competent authority."""
        p = self.purpose(purpose)
        asked = set(categories)
        parts = [p.article_6]
        if asked & self.special and p.article_9:
            parts += [p.article_9, p.dpa_condition or ""]
        if asked & self.criminal and p.article_10:
            parts += [p.article_10, p.dpa_condition or ""]
        if participant in self.competent and p.part_3:
            parts.append(p.part_3)
        return "; ".join(dict.fromkeys(x for x in parts if x))


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} is missing")
    return value


def _optional(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def load_terms(path: Path) -> Terms:
    raw = read_yaml_mapping(path, "policy file")
    agreement = raw.get("agreement") or {}
    purposes: dict[str, Purpose] = {}
    for name, p in (raw.get("purposes") or {}).items():
        if not isinstance(p, Mapping):
            raise ConfigError(f"{path}: purposes.{name} must be a mapping")
        where = f"{path}: purposes.{name}"
        purposes[str(name)] = Purpose(
            article_6=_text(p, "article_6", where),
            legal_reason=_text(p, "legal_reason", where),
            article_9=_optional(p, "article_9"),
            article_10=_optional(p, "article_10"),
            dpa_condition=_optional(p, "dpa_condition"),
            part_3=_optional(p, "part_3"),
        )
    categories = raw.get("categories") or {}
    participants = raw.get("participants") or {}
    return Terms(
        reference=_text(agreement, "reference", f"{path}: agreement"),
        purposes=purposes,
        special=frozenset(c for c, v in categories.items() if (v or {}).get("special_category")),
        criminal=frozenset(c for c, v in categories.items() if (v or {}).get("criminal_offence")),
        competent=frozenset(p for p, v in participants.items() if (v or {}).get("competent_authority")),
        publishes={p: tuple((v or {}).get("publishes") or ()) for p, v in participants.items()},
        screening=tuple(raw.get("screening_categories") or ("identity", "contact")),
    )
