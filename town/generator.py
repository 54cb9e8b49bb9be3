"""``generate``: a seeded synthetic town, written as each agency's system holds it.

The same seed, size and ``today`` give the same files. Households are made and written in chunks, so a
town of 100,000 households needs no more memory than one of 1,000. The scenario households
(:mod:`town.scenarios`) are written first, exactly as given, through the same writer.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from town import (
    domestic_abuse_records,
    health_records,
    housing_records,
    police_records,
    scenarios,
    school_records,
    social_care_records,
)
from town.deployment import AGENCIES
from town.households import Builder, Home, Member, draw
from town.ids import Allocator
from town.model import Household, Person, Spelling
from town.places import Catalogue
from town.schema import STORES
from town.story import Story
from town.variants import vary
from town.writer import Writer

CHUNK = 2_000  # households per write transaction
Progress = Callable[[int, int], object]  # (households written, households in all)


@dataclass
class Summary:
    out: Path
    seed: int
    today: date
    households: int
    scenario_households: int
    people: int
    agency_people: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, int]] = field(default_factory=dict)  # agency -> records key -> rows
    seconds: float = 0.0
    bytes: int = 0


def generate(out: Path, households: int, seed: int, today: date, progress: Progress | None = None) -> Summary:
    """Write a town of ``households`` random households (plus the scenarios) into ``out``."""
    if households < 0:
        raise ValueError("households must be zero or more")
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    given = scenarios.households(today)
    catalogue = Catalogue.build(seed, households)
    catalogue.reserved.update((p.address.lines, p.address.postcode) for h in given for p in h.people)
    ids = Allocator(seed, _identifiers(given))
    people = 0
    with Writer(out, today, catalogue) as writer:
        if given:
            writer.write(given)
            people += sum(len(h.people) for h in given)
        done = 0
        for chunk, kinds in _chunks(households, seed, today, ids, catalogue):
            writer.write(chunk, kinds)
            done += len(chunk)
            people += sum(len(h.people) for h in chunk)
            if progress is not None:
                progress(done, households)
        counts = writer.counts
    summary = Summary(
        out=out,
        seed=seed,
        today=today,
        households=households,
        scenario_households=len(given),
        people=people,
        agency_people={a: counts.people[a] for a in AGENCIES},
        records={
            a: {k: n for (agency, k), n in sorted(counts.items.items()) if agency == a} for a in AGENCIES
        },
    )
    _manifest(summary)
    summary.seconds = time.perf_counter() - started
    summary.bytes = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return summary


def _chunks(
    households: int, seed: int, today: date, ids: Allocator, catalogue: Catalogue
) -> Iterable[tuple[list[Household], dict[str, str]]]:
    chunk: list[Household] = []
    kinds: dict[str, str] = {}
    made = index = 0
    while made < households:
        rng = random.Random(f"{seed}:household:{index}")  # noqa: S311 - synthetic data, seeded on purpose
        b = Builder(rng, today, ids, catalogue)
        keys = [f"h{made + 1:07d}", f"h{made + 2:07d}"][: households - made]
        homes = draw(b, keys)
        live(b, homes)
        for home in homes:
            chunk.append(_freeze(b.rng, home))
            kinds[home.key] = home.kind
        made += len(homes)
        index += 1
        if len(chunk) >= CHUNK or made >= households:
            yield chunk, kinds
            chunk, kinds = [], {}


def live(b: Builder, homes: list[Home]) -> None:
    """What befalls the households of one draw, in the order agencies come to record it."""
    main = Story(b, homes[0])
    stories = [main, *(Story(b, h) for h in homes[1:])]
    kids = main.children()
    lone = main.home.kind == "LONE_PARENT"
    if kids and main.chance(0.05 if lone else 0.02):
        main.flags.add("neglect")
    victim, perpetrator = _da_pair(main)
    if victim is not None:
        main.flags.add("da")
    rent = 0.4 if lone else 0.15
    for story in stories:
        if story.chance(0.5 if main.flags else rent):
            story.flags.add("social_rent")
        school_records.education(story)
    if victim is not None and perpetrator is not None:
        level = domestic_abuse_records.domestic_abuse(main, victim, perpetrator)
        if perpetrator is main.home.absent_parent:
            domestic_abuse_records.flee(main, victim, level)
        severity = {"STANDARD": "low", "MEDIUM": "medium", "HIGH": "high"}[level]
        social_care_records.social_care(main, kids, "Domestic abuse", severity)
    if "neglect" in main.flags:
        social_care_records.social_care(
            main, kids, "Neglect", main.pick({"low": 40, "medium": 40, "high": 20})
        )
    if main.home.kind == "KINSHIP":
        social_care_records.kinship_care(main)
    social_care_records.previous_removal(main)
    for story in stories:
        _people(story, perpetrator)
    for story in stories:
        health_records.health(story)
        housing_records.housing(story)


def _da_pair(story: Story) -> tuple[Member | None, Member | None]:
    """Victim and perpetrator, when the household lives with domestic abuse."""
    home = story.home
    if home.absent_parent is not None and story.chance(0.2):
        return home.members[0], home.absent_parent
    if home.kind in ("FAMILY", "COUPLE", "MULTIGEN") and len(home.adults(story.today)) >= 2:
        first, second = home.members[0], home.members[1]
        if story.chance(0.04 if story.children() else 0.015):
            # Most victims are women; the first member of a couple is always female.
            return (first, second) if story.chance(0.85) or first.sex == second.sex else (second, first)
    return None, None


def _people(story: Story, perpetrator: Member | None) -> None:
    """Each person's own encounters: offending, crime, going missing, a worry reported to children's
    services."""
    troubled = bool(story.flags & {"da", "neglect"})
    for m in story.members():
        age = m.age(story.today)
        if age >= 18:
            young, male = age <= 30, m.sex == "MALE"
            rate = (0.05 if young else 0.03) if male else (0.02 if young else 0.01)
            if male and 25 <= age <= 80 and m is not perpetrator and story.chance(0.003):
                police_records.sex_offender(story, m)
            elif m is not perpetrator and age <= 60 and story.chance(rate * (2 if troubled else 1)):
                police_records.offending(story, m)
            if story.chance(0.04):
                police_records.victim(story, m)
        elif age >= 11:
            if story.chance(0.06 if troubled else 0.006):
                police_records.missing(story, m)
            if age >= 12 and story.chance(0.05 if troubled else 0.01):
                police_records.youth_offending(story, m)
        if age < 18 and not troubled and story.chance(0.015):
            social_care_records.social_care(
                story, [m], story.rng.choice(("Emotional wellbeing", "Parental mental health")), "low"
            )


def _freeze(rng: random.Random, home: Home) -> Household:
    address = replace(home.address, confidential=True) if home.refuge else home.address
    people = []
    for m in home.members:
        spellings: dict[str, Spelling] = {}
        for agency in sorted(m.known):
            variant = vary(rng, agency, m.given, m.family)
            if variant is not None:
                spellings[agency] = variant
        people.append(
            Person(
                key=m.key,
                given_names=m.given,
                family_name=m.family,
                dob=m.dob,
                sex="MALE" if m.sex == "MALE" else "FEMALE",
                address=address,
                nhs=m.nhs,
                upn=m.upn,
                pnc=m.pnc,
                known_to=frozenset(m.known),
                spellings=spellings,
                confidential_address=m.confidential,
            )
        )
    return Household(home.key, people, home.relationships, home.held)


def _identifiers(given: list[Household]) -> list[str]:
    return [v for h in given for p in h.people for v in (p.nhs, p.upn, p.pnc) if v]


def _clear(out: Path) -> None:
    """Remove what an earlier run wrote here (and only that)."""
    for store in STORES.values():
        target = out / store.path
        if store.csv and target.is_dir():
            for table in (store.people, *([store.contacts] if store.contacts else []), *store.tables):
                (target / table.name).unlink(missing_ok=True)
        else:
            target.unlink(missing_ok=True)
    (out / "town.sqlite").unlink(missing_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)


def _manifest(summary: Summary) -> None:
    doc = {
        "generator": "jigsaw-synth/1",
        "seed": summary.seed,
        "today": summary.today.isoformat(),
        "households": summary.households,
        "scenario_households": summary.scenario_households,
        "people": summary.people,
        "agencies": {
            agency: {
                "people": summary.agency_people.get(agency, 0),
                "records": summary.records.get(agency, {}),
            }
            for agency in AGENCIES
        },
    }
    (summary.out / "manifest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
