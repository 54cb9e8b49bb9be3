"""Match an enquiry's subject to an agency's person records: exact on validated identifiers, else scored.

Nothing here logs: every input is personal data. ``Match.reasons`` name the evidence, never a value.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

import jellyfish
from rapidfuzz.distance import JaroWinkler

from connectors.sdk.identifiers import normalise_nhs, normalise_ni, normalise_pnc, normalise_upn

DEFAULT_THRESHOLD: Final = 0.9


class MatchMethod:
    """The wire enum ``MatchMethod`` (schemas/body/IntelReturn). UNKNOWN is a reader fallback only."""

    EXACT_NHS: Final = "EXACT_NHS"
    EXACT_UPN: Final = "EXACT_UPN"
    EXACT_PNC: Final = "EXACT_PNC"
    EXACT_NI: Final = "EXACT_NI"
    EXACT_LOCAL_ID: Final = "EXACT_LOCAL_ID"
    PROBABILISTIC: Final = "PROBABILISTIC"
    NONE: Final = "NONE"
    UNKNOWN: Final = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Person:
    """One record in the agency's own system. ``local_id`` is that system's id."""

    source_id: str
    given_names: str
    family_name: str
    dob: date | None
    postcode: str | None
    nhs: str | None = None
    upn: str | None = None
    pnc: str | None = None
    ni: str | None = None
    local_id: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """The enquiry's view of a person. A ``local_id`` must be one issued by the system being searched."""

    subject_ref: str
    given_names: str
    family_name: str
    dob: date | None
    postcode: str | None
    nhs: str | None = None
    upn: str | None = None
    pnc: str | None = None
    ni: str | None = None
    local_id: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    person: Person
    method: str
    confidence: float
    reasons: tuple[str, ...]


def _normalise_local_id(text: str) -> str | None:
    return text.strip() or None


# Priority order for an exact match.
_IDENTIFIERS: Final[tuple[tuple[str, str, Callable[[str], str | None]], ...]] = (
    ("nhs", MatchMethod.EXACT_NHS, normalise_nhs),
    ("upn", MatchMethod.EXACT_UPN, normalise_upn),
    ("pnc", MatchMethod.EXACT_PNC, normalise_pnc),
    ("ni", MatchMethod.EXACT_NI, normalise_ni),
    ("local_id", MatchMethod.EXACT_LOCAL_ID, _normalise_local_id),
)
# A person holds one of each, so two different valid values mean two people (or a data error a person must
# resolve). Local ids are excluded: ids from different systems differ without meaning anything.
_CONFLICTING: Final = ("nhs", "upn", "pnc", "ni")


@dataclass(frozen=True, slots=True)
class _Level:
    """One comparison outcome; ``weight`` is log2(m/u), m = P(outcome | same person), u = P(... | not)."""

    reason: str
    weight: float
    agrees: bool = False  # counts towards the agreement needed to match without review


# u values assume a common name (there are no frequency tables), so a rare name is under-rewarded, never over.
_GIVEN = {
    "exact": _Level("given name agrees", 5.5, True),  # m .9, u .02
    "nickname": _Level("given name is a known nickname", 4.5, True),  # m .05, u .002
    "fuzzy": _Level("given name similar", 4.0, True),  # m .05, u .003
    "other": _Level("another given name agrees", 3.0, True),  # a middle name used as the first
    "phonetic": _Level("given name sounds alike", 1.5),  # Tom/Tim agree phonetically
    "differs": _Level("given name differs", -5.0),
    "missing": _Level("given name missing", 0.0),
}
_FAMILY = {
    "exact": _Level("family name agrees", 6.5, True),  # m .9, u .01
    "partial": _Level("family name shares a part", 4.0, True),  # double-barrelled vs one part
    "fuzzy": _Level("family name similar", 4.5, True),
    "phonetic": _Level("family name sounds alike", 2.0),
    "differs": _Level("family name differs", -5.0),  # children's surnames do change (care, adoption)
    "missing": _Level("family name missing", 0.0),
}
_DOB = {
    "exact": _Level("date of birth agrees", 11.5, True),  # m .97, u ~1/3650 among children
    "near": _Level("date of birth nearly agrees", 2.0),  # day/month swapped or one field mistyped
    "differs": _Level("date of birth differs", -11.0),  # m ~.0005 once near-misses are excluded
    "missing": _Level("date of birth missing", 0.0),
}
_POSTCODE = {
    "exact": _Level("postcode agrees", 8.0),  # m .75, u .003
    "outward": _Level("postcode district agrees", 1.5),
    "differs": _Level("postcode differs", -2.0),  # families move; weak evidence against
    "missing": _Level("postcode missing", 0.0),
}
_PRIOR: Final = -10.0  # log2 odds that a candidate the source returned is the subject, before evidence
_SWAP_PENALTY: Final = 1.5
_CONFLICT_WEIGHT: Final = -20.0
_FUZZY_MIN: Final = 0.9  # Jaro-Winkler; Jonathon/Jonathan 0.95, Jack/Jake 0.87
_MAX_PROBABILISTIC: Final = math.nextafter(1.0, 0.0)  # 1.0 is reserved for a validated identifier
_REVIEW_MARGIN: Final = 0.01

# Groups of interchangeable given names; a name may sit in several (Alex, Charlie, Sam).
_NICKNAME_GROUPS: Final = (
    "william bill will billy willy liam; robert bob rob bobby robbie bert; "
    "elizabeth liz beth betty lizzie eliza libby bess elsie; margaret maggie peggy meg madge; "
    "james jim jimmy jamie; katherine catherine kathryn kate katie kathy cathy kat kitty; "
    "michael mike mickey mick mikey; alexander alex sasha sandy alec xander; "
    "alexandra alex sasha lexi sandra; thomas tom tommy; jessica jess jessie; daniel dan danny; "
    "charlotte charlie lottie; charles charlie chas chuck; richard rick ricky rich richie dick; "
    "edward ed eddie ted teddy ned; jonathan jon jonny johnny; john jack johnny; joseph joe joey; "
    "samuel sam sammy; samantha sam sammy; christopher chris kit; "
    "christine christina chris chrissie; benjamin ben benny benji; matthew matt matty; "
    "nicholas nick nicky; anthony tony; andrew andy drew; stephen steven steve stevie; "
    "david dave davey; patrick pat paddy; rebecca becky becca; victoria vicky tori; "
    "abigail abby abbie; oliver ollie olly; jennifer jen jenny; henry harry hal; "
    "frederick fred freddie; isabella isabel izzy bella; eleanor ellie nell nora; timothy tim timmy"
)
# Particles are shared by unrelated surnames (de Souza, de Silva), so they never count as a shared part.
_PARTICLES: Final = frozenset(
    {"de", "da", "das", "do", "dos", "di", "du", "del", "della", "der", "den", "van", "von"}
    | {"la", "le", "al", "el", "bin", "bint", "ap", "st"}
)
_POSTCODE_RE: Final = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})")


def _nickname_index() -> dict[str, frozenset[int]]:
    index: dict[str, set[int]] = {}
    for group, names in enumerate(_NICKNAME_GROUPS.split(";")):
        for name in names.split():
            index.setdefault(name, set()).add(group)
    return {name: frozenset(groups) for name, groups in index.items()}


_NICKNAMES: Final = _nickname_index()


def _tokens(text: str) -> tuple[str, ...]:
    """Case-, accent- and punctuation-free name parts: "O'Brien-Núñez" -> ("obrien", "nunez")."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c) and c not in "'’‘`")
    return tuple("".join(c if c.isalpha() else " " for c in bare).split())


def _similar(a: str, b: str) -> bool:
    return JaroWinkler.similarity(a, b) >= _FUZZY_MIN


def _sounds_alike(a: str, b: str) -> bool:
    code = jellyfish.metaphone(a)
    return bool(code) and code == jellyfish.metaphone(b)


def _given_level(a: str, b: str) -> _Level:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return _GIVEN["missing"]
    if ta[0] == tb[0] or "".join(ta) == "".join(tb):
        return _GIVEN["exact"]
    if _NICKNAMES.get(ta[0], frozenset()) & _NICKNAMES.get(tb[0], frozenset()):
        return _GIVEN["nickname"]
    if _similar(ta[0], tb[0]):
        return _GIVEN["fuzzy"]
    if {t for t in ta if len(t) > 1} & set(tb):
        return _GIVEN["other"]
    return _GIVEN["phonetic"] if _sounds_alike(ta[0], tb[0]) else _GIVEN["differs"]


def _family_level(a: str, b: str) -> _Level:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return _FAMILY["missing"]
    joined_a, joined_b = "".join(ta), "".join(tb)
    if joined_a == joined_b:  # Smith-Jones, Smith Jones, SMITHJONES
        return _FAMILY["exact"]
    if (set(ta) & set(tb)) - _PARTICLES:
        return _FAMILY["partial"]
    if _similar(joined_a, joined_b):
        return _FAMILY["fuzzy"]
    return _FAMILY["phonetic"] if _sounds_alike(joined_a, joined_b) else _FAMILY["differs"]


def _names(subject: Subject, person: Person) -> tuple[list[_Level], bool]:
    """Name levels as recorded, or with the subject's given and family names swapped if that fits better."""
    straight = [_given_level(subject.given_names, person.given_names)]
    straight.append(_family_level(subject.family_name, person.family_name))
    crossed = [_given_level(subject.family_name, person.given_names)]
    crossed.append(_family_level(subject.given_names, person.family_name))
    if _total(crossed) - _SWAP_PENALTY > _total(straight):
        return crossed, True
    return straight, False


def _total(levels: Iterable[_Level]) -> float:
    return sum(level.weight for level in levels)


def _dob_level(a: date | None, b: date | None) -> _Level:
    if a is None or b is None:
        return _DOB["missing"]
    if a == b:
        return _DOB["exact"]
    fields_a, fields_b = (a.year, a.month, a.day), (b.year, b.month, b.day)
    swapped = fields_a == (b.year, b.day, b.month)
    one_off = sum(x != y for x, y in zip(fields_a, fields_b, strict=True)) == 1
    return _DOB["near"] if swapped or one_off else _DOB["differs"]


def _postcode_parts(text: str | None) -> tuple[str, str] | None:
    found = _POSTCODE_RE.fullmatch(re.sub(r"\s+", "", text.upper())) if text else None
    return (found[1], found[2]) if found else None


def _postcode_level(a: str | None, b: str | None) -> _Level:
    pa, pb = _postcode_parts(a), _postcode_parts(b)
    if pa is None or pb is None:
        return _POSTCODE["missing"]
    if pa == pb:
        return _POSTCODE["exact"]
    return _POSTCODE["outward"] if pa[0] == pb[0] else _POSTCODE["differs"]


def _identifiers(record: Subject | Person, side: str) -> tuple[dict[str, str], list[str]]:
    """Validated identifiers by kind, and notes on the ones present but invalid (kind only, no value)."""
    valid: dict[str, str] = {}
    notes: list[str] = []
    for kind, _, normalise in _IDENTIFIERS:
        raw: str | None = getattr(record, kind)
        value = normalise(raw) if raw and raw.strip() else None
        if value is not None:
            valid[kind] = value
        elif raw and raw.strip():
            notes.append(f"{side} {kind} invalid, ignored")
    return valid, notes


def _conflicts(ours: dict[str, str], theirs: dict[str, str]) -> list[str]:
    found: list[str] = [
        kind for kind in _CONFLICTING if kind in ours and kind in theirs and ours[kind] != theirs[kind]
    ]
    # A temporary UPN is replaced by a permanent one, so only two permanent UPNs can conflict.
    if "upn" in found and not (ours["upn"][-1].isdigit() and theirs["upn"][-1].isdigit()):
        found.remove("upn")
    return found


def _exact(ours: dict[str, str], theirs: dict[str, str]) -> tuple[str, str] | None:
    for kind, method, _ in _IDENTIFIERS:
        if kind in ours and ours[kind] == theirs.get(kind):
            return kind, method
    return None


def needs_review(match: Match, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when a person must confirm the match before anything is shared or flagged."""
    return match.method == MatchMethod.PROBABILISTIC and match.confidence < threshold


@dataclass(frozen=True, slots=True)
class Matcher:
    """Ranks candidates for one subject. ``threshold``: accept without review; ``floor``: worth returning."""

    threshold: float = DEFAULT_THRESHOLD
    floor: float = 0.5

    def __post_init__(self) -> None:
        # A match capped for review must stay above the floor, or it would silently disappear.
        if not 0.0 <= self.floor < self.threshold - _REVIEW_MARGIN < 1.0:
            raise ValueError("need 0 <= floor < threshold - 0.01 < 1")

    def match(self, subject: Subject, candidates: Iterable[Person]) -> list[Match]:
        """Matches above the floor, best first; ties by source id so the order is reproducible."""
        ours, notes = _identifiers(subject, "subject")
        found = (self._one(subject, ours, notes, person) for person in candidates)
        kept = [m for m in found if m is not None]
        return sorted(kept, key=lambda m: (-m.confidence, m.person.source_id))

    def best(self, subject: Subject, candidates: Iterable[Person]) -> Match | None:
        ranked = self.match(subject, candidates)
        return ranked[0] if ranked else None

    def needs_review(self, match: Match) -> bool:
        return needs_review(match, self.threshold)

    def _one(self, subject: Subject, ours: dict[str, str], notes: list[str], person: Person) -> Match | None:
        theirs, their_notes = _identifiers(person, "candidate")
        conflicts = _conflicts(ours, theirs)
        exact = None if conflicts else _exact(ours, theirs)
        if exact is not None:
            return Match(person, exact[1], 1.0, (f"{exact[0]} agrees", *notes, *their_notes))
        confidence, reasons = self._score(subject, person, conflicts)
        if confidence <= self.floor:
            return None
        return Match(person, MatchMethod.PROBABILISTIC, confidence, (*reasons, *notes, *their_notes))

    def _score(self, subject: Subject, person: Person, conflicts: list[str]) -> tuple[float, list[str]]:
        """Fellegi-Sunter: prior log-odds plus each field's log2(m/u), read back as a probability."""
        names, swapped = _names(subject, person)
        levels = [*names, _dob_level(subject.dob, person.dob)]
        levels.append(_postcode_level(subject.postcode, person.postcode))
        score = _PRIOR + _total(levels) - _SWAP_PENALTY * swapped + _CONFLICT_WEIGHT * bool(conflicts)
        confidence = min(_MAX_PROBABILISTIC, 1.0 / (1.0 + 2.0**-score))
        # Names and an exact date of birth must all agree, with no conflicting identifier, to skip review.
        if conflicts or not all(level.agrees for level in levels[:3]):
            confidence = min(confidence, self.threshold - _REVIEW_MARGIN)
        reasons = [level.reason for level in levels] + ["names swapped"] * swapped
        return confidence, reasons + [f"{kind} conflicts" for kind in conflicts]
