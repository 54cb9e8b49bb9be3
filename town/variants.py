"""How an agency comes to hold a name that is not quite the legal one: a typo, a nickname, a double-barrelled
surname hyphenated or not (or cut to one part), given and family names swapped, or another spelling."""

from __future__ import annotations

import random
from dataclasses import dataclass

from town.model import Spelling
from town.names import NICKNAMES, SPELLINGS

KINDS = ("typo", "nickname", "double_barrel", "swapped", "spelling")
_PARTICLES = frozenset({"de", "da", "di", "du", "van", "von", "der", "den", "la", "le", "st"})

# How often each agency's record of a person differs from the legal name. Health and education copy names
# from the national registers they feed; the police take them as people give them, often in a hurry.
RATES = {
    "police": 0.22,
    "health": 0.05,
    "education": 0.08,
    "socialcare": 0.12,
    "probation": 0.10,
    "youthjustice": 0.14,
    "housing": 0.15,
}


@dataclass(frozen=True)
class Variant(Spelling):
    """A :class:`Spelling` the generator made, with the kind of difference (for the ground truth)."""

    kind: str = "other"


def vary(rng: random.Random, agency: str, given: str, family: str) -> Variant | None:
    """The agency's spelling of the name, or None when it holds the legal name."""
    # Forms and databases with one surname field mangle a double-barrelled name far more often.
    if rng.random() >= RATES[agency] * (3 if is_double_barrelled(family) else 1):
        return None
    kinds = [k for k in KINDS if _applies(k, given, family)]
    weights = {"typo": 4, "nickname": 3, "double_barrel": 8, "swapped": 0.6, "spelling": 3}
    for kind in rng.choices(kinds, weights=[weights[k] for k in kinds], k=len(kinds)):
        spelt = _apply(rng, kind, given, family)
        if spelt is not None and spelt != (given, family):
            return Variant(spelt[0], spelt[1], kind)
    return None


def is_double_barrelled(family: str) -> bool:
    parts = family.replace("-", " ").split()
    return len(parts) == 2 and not (set(p.lower() for p in parts) & _PARTICLES)


def _applies(kind: str, given: str, family: str) -> bool:
    first = given.split()[0]
    if kind == "nickname":
        return first in NICKNAMES
    if kind == "spelling":
        return first in SPELLINGS
    if kind == "double_barrel":
        return is_double_barrelled(family)
    return True


def _apply(rng: random.Random, kind: str, given: str, family: str) -> tuple[str, str] | None:
    first, *rest = given.split()
    if kind == "typo":
        if rng.random() < 0.6:
            return " ".join([typo(rng, first), *rest]), family
        return given, typo(rng, family)
    if kind == "nickname":
        # Someone known by a nickname gives it alone, without the middle names.
        return rng.choice(NICKNAMES[first]), family
    if kind == "spelling":
        return " ".join([rng.choice(SPELLINGS[first]), *rest]), family
    if kind == "double_barrel":
        parts = family.replace("-", " ").split()
        options = [" ".join(parts), parts[0], parts[1]] if "-" in family else ["-".join(parts), parts[1]]
        return given, rng.choice(options)
    return family, given  # swapped: the family name recorded as the forename


def typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: two adjacent letters swapped, a letter dropped, or a letter doubled."""
    if len(word) < 4:
        return word + word[-1]
    for _ in range(6):
        i = rng.randrange(1, len(word) - 1)  # the first letter is rarely the one mistyped
        slip = rng.choice(("swap", "drop", "double"))
        if slip == "swap":
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif slip == "drop":
            out = word[:i] + word[i + 1 :]
        else:
            out = word[: i + 1] + word[i] + word[i + 1 :]
        if out.lower() != word.lower() and out[i - 1 : i + 1] != "'":
            return out
    return word + word[-1]
