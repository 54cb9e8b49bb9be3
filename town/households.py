"""Random households: who lives together, how they are related, and where.

Shares follow the census for England: nearly three in ten households are one person living alone, about one
in five a couple with dependent children (some of them step-families), one in ten a lone parent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from town import names
from town.ids import Allocator
from town.model import Address, Held, Relationship
from town.places import Catalogue, School, Town

KINDS = {
    "ALONE": 29,
    "COUPLE": 28,
    "FAMILY": 19,
    "LONE_PARENT": 10,
    "ADULT_CHILDREN": 7,
    "MULTIGEN": 3,
    "KINSHIP": 1,
    "SHARERS": 3,
}


@dataclass
class Member:
    """A person while their household is being built; frozen into a model Person when done."""

    key: str
    given: str
    family: str
    dob: date
    sex: str
    nhs: str
    upn: str | None = None
    pnc: str | None = None
    known: set[str] = field(default_factory=lambda: {"health"})
    school: School | None = None
    year_group: int | None = None  # 0 = reception ... 13 = upper sixth
    admitted: date | None = None  # to the current school
    parent: bool = False  # a parent or carer of a child in the household
    confidential: bool = False  # has fled: health records carry a confidential address marker

    def age(self, on: date) -> int:
        return on.year - self.dob.year - ((on.month, on.day) < (self.dob.month, self.dob.day))


@dataclass
class Home:
    key: str
    kind: str
    town: Town
    address: Address
    members: list[Member] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    absent_parent: Member | None = None  # lives in the next household, the father of the children
    refuge: bool = False  # the address is a refuge the household fled to: housing flags it confidential

    def children(self, today: date) -> list[Member]:
        return [m for m in self.members if m.age(today) < 18]

    def adults(self, today: date) -> list[Member]:
        return [m for m in self.members if m.age(today) >= 18]


class Builder:
    def __init__(self, rng: random.Random, today: date, ids: Allocator, catalogue: Catalogue) -> None:
        self.rng = rng
        self.today = today
        self.ids = ids
        self.catalogue = catalogue

    def home(self, key: str, kind: str, town: Town | None = None) -> Home:
        town = town or self.catalogue.pick_town(self.rng)
        return Home(key, kind, town, self.catalogue.address(self.rng, town))

    def person(self, home: Home, sex: str, age: int, family: str) -> Member:
        rng = self.rng
        dob = self.today - timedelta(days=age * 365 + age // 4 + rng.randrange(365))
        member = Member(
            key=f"{home.key}.p{len(home.members) + 1}",
            given=names.given_names(rng, dob.year, sex),
            family=family,
            dob=dob,
            sex=sex,
            nhs=self.ids.nhs(),
        )
        home.members.append(member)
        return member

    def relate(
        self,
        home: Home,
        a: Member,
        b: Member,
        b_to_a: str,
        a_to_b: str,
        *,
        lives_with: bool = True,
        pr: bool | None = None,
    ) -> None:
        """``b`` is ``b_to_a`` to ``a`` (MOTHER), and ``a`` is ``a_to_b`` to ``b`` (CHILD)."""
        home.relationships.append(Relationship(a.key, b.key, b_to_a, lives_with, pr))
        home.relationships.append(Relationship(b.key, a.key, a_to_b, lives_with, None))


def draw(b: Builder, keys: list[str]) -> list[Home]:
    """One household, or two when a lone parent's ex-partner lives alone nearby. ``keys`` are the household
    keys to use, in order."""
    rng = b.rng
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    if kind == "LONE_PARENT" and len(keys) < 2:
        kind = "FAMILY"
    home = b.home(keys[0], kind)
    homes = [home]
    if kind == "ALONE":
        _alone(b, home)
    elif kind == "COUPLE":
        _couple(b, home, rng.randint(22, 88))
    elif kind in ("FAMILY", "ADULT_CHILDREN", "MULTIGEN"):
        _family(b, home)
    elif kind == "LONE_PARENT":
        absent = _lone_parent(b, home, keys[1])
        if absent is not None:
            homes.append(absent)
    elif kind == "KINSHIP":
        _kinship(b, home)
    else:
        _sharers(b, home)
    return homes


def _alone(b: Builder, home: Home) -> Member:
    rng = b.rng
    age = rng.randint(65, 95) if rng.random() < 0.45 else rng.randint(19, 64)
    return b.person(home, rng.choice(("MALE", "FEMALE")), age, names.surname(rng))


def _couple(b: Builder, home: Home, age: int) -> tuple[Member, Member]:
    rng = b.rng
    family = names.surname(rng)
    same_sex = rng.random() < 0.02
    first = b.person(home, "FEMALE", age, family)
    partner_family = family if rng.random() < 0.7 else names.surname(rng)
    partner_age = max(18, age + round(rng.gauss(2, 3)))
    second = b.person(home, "FEMALE" if same_sex else "MALE", partner_age, partner_family)
    b.relate(home, first, second, "PARTNER", "PARTNER")
    return first, second


def _children(
    b: Builder, home: Home, mother_age: int, family: str, count: int, max_age: int = 17
) -> list[Member]:
    rng = b.rng
    oldest = min(max_age, mother_age - 18)
    ages = sorted((rng.randint(0, max(0, oldest)) for _ in range(count)), reverse=True)
    kids = [b.person(home, rng.choice(("MALE", "FEMALE")), age, family) for age in ages]
    for i, kid in enumerate(kids):
        for other in kids[i + 1 :]:
            b.relate(home, kid, other, "SIBLING", "SIBLING")
    return kids


def _count(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4, 5), weights=(44, 38, 12, 4, 2))[0]


def _children_surname(rng: random.Random, father: str, mother: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return names.double_barrelled(rng, mother, father)
    return mother if roll < 0.15 else father


def _family(b: Builder, home: Home) -> None:
    """A couple and their children; some step-families; grown-up children or a grandparent at home."""
    rng = b.rng
    adult_children = home.kind == "ADULT_CHILDREN"
    mother_age = rng.randint(40, 62) if adult_children else rng.randint(21, 52)
    mother, father = _couple(b, home, mother_age)
    kids_family = _children_surname(rng, father.family, mother.family)
    if adult_children:
        kids = [
            b.person(
                home, rng.choice(("MALE", "FEMALE")), rng.randint(18, min(32, mother_age - 19)), father.family
            )
            for _ in range(rng.choice((1, 1, 2)))
        ]
    else:
        kids = _children(b, home, mother_age, kids_family, _count(rng))
    step = not adult_children and father.sex == "MALE" and rng.random() < 0.15
    pr = None if adult_children else True  # parental responsibility ends at 18
    for kid in kids:
        b.relate(home, kid, mother, "MOTHER", "CHILD", pr=pr)
        if step:
            b.relate(home, kid, father, "STEP_PARENT", "OTHER_RELATIVE", pr=False)
        else:
            b.relate(home, kid, father, "FATHER" if father.sex == "MALE" else "MOTHER", "CHILD", pr=pr)
    if step:
        # The children keep their own father's surname, not their stepfather's.
        other = names.surname(rng)
        for kid in kids:
            kid.family = other
        if rng.random() < 0.5 and mother_age > 28:
            baby = b.person(home, rng.choice(("MALE", "FEMALE")), rng.randint(0, 3), father.family)
            b.relate(home, baby, mother, "MOTHER", "CHILD", pr=True)
            b.relate(home, baby, father, "FATHER", "CHILD", pr=True)
            for kid in kids:
                b.relate(home, baby, kid, "HALF_SIBLING", "HALF_SIBLING")
    mother.parent = father.parent = bool(kids)
    if home.kind == "MULTIGEN":
        gran = b.person(home, "FEMALE", mother_age + rng.randint(20, 32), mother.family)
        b.relate(home, mother, gran, "MOTHER", "CHILD")
        for kid in kids:
            b.relate(home, kid, gran, "GRANDPARENT", "OTHER_RELATIVE")


def _lone_parent(b: Builder, home: Home, absent_key: str) -> Home | None:
    rng = b.rng
    sex = "FEMALE" if rng.random() < 0.9 else "MALE"
    parent_age = rng.randint(19, 55)
    parent = b.person(home, sex, parent_age, names.surname(rng))
    parent.parent = True
    other_family = names.surname(rng)
    kids_family = rng.choice((parent.family, parent.family, other_family))
    if rng.random() < 0.1:
        kids_family = names.double_barrelled(rng, parent.family, other_family)
    kids = _children(b, home, parent_age if sex == "FEMALE" else parent_age - 2, kids_family, _count(rng))
    for kid in kids:
        b.relate(home, kid, parent, "MOTHER" if sex == "FEMALE" else "FATHER", "CHILD", pr=True)
    if sex == "MALE" or rng.random() >= 0.4:
        return None
    # The children's father, living alone nearby: where domestic abuse by an ex-partner comes from.
    away = b.home(absent_key, "ALONE", home.town)
    father = b.person(away, "MALE", max(19, parent_age + round(rng.gauss(2, 3))), other_family)
    father.parent = True
    home.absent_parent = father
    pr = rng.random() < 0.7
    for kid in kids:
        b.relate(home, kid, father, "FATHER", "CHILD", lives_with=False, pr=pr)
    b.relate(home, parent, father, "EX_PARTNER", "EX_PARTNER", lives_with=False)
    return away


def _kinship(b: Builder, home: Home) -> None:
    """Grandparents bringing up grandchildren whose parents cannot."""
    rng = b.rng
    gran_age = rng.randint(48, 72)
    if rng.random() < 0.6:
        gran, grandad = _couple(b, home, gran_age)
        carers = [gran, grandad]
    else:
        gran = b.person(home, "FEMALE", gran_age, names.surname(rng))
        carers = [gran]
    kids_family = gran.family if rng.random() < 0.5 else names.surname(rng)
    kids = _children(b, home, gran_age - 22, kids_family, rng.choice((1, 1, 2, 3)), max_age=16)
    guardian = rng.random() < 0.5
    for carer in carers:
        carer.parent = True
        for kid in kids:
            b.relate(
                home,
                kid,
                carer,
                "SPECIAL_GUARDIAN" if guardian else "GRANDPARENT",
                "OTHER_RELATIVE",
                pr=guardian,
            )


def _sharers(b: Builder, home: Home) -> None:
    rng = b.rng
    people = [
        b.person(home, rng.choice(("MALE", "FEMALE")), rng.randint(19, 45), names.surname(rng))
        for _ in range(rng.randint(2, 4))
    ]
    for i, a in enumerate(people):
        for other in people[i + 1 :]:
            b.relate(home, a, other, "HOUSEHOLD_MEMBER", "HOUSEHOLD_MEMBER")
