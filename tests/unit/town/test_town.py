"""The generated town: deterministic, valid identifiers, each agency its own view, names that vary as
they do between real systems, scenario households written exactly."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.sdk.identifiers import (
    normalise_nhs,
    normalise_pnc,
    normalise_upn,
    pnc_check_char,
    upn_check_letter,
)
from devkit.testkit.town import store_rows
from tests.unit.town.conftest import HOUSEHOLDS, TODAY
from town import Summary, generate, sensitive_values
from town import generator as town_module
from town.deployment import AGENCIES
from town.ids import Allocator
from town.model import Address, Held, Household, Person, Relationship, Spelling
from town.schema import STORES
from town.variants import KINDS
from town.writer import HeldInvalid

PNC = f"12/0034567{pnc_check_char(12, 34567)}"
UPN = upn_check_letter("878200116001") + "878200116001"

# What each agency's system may hold, as the ground truth records it (SOURCE_ID is the system's own id).
SCHEMES = {
    "police": {"SOURCE_ID", "PNC"},
    "health": {"SOURCE_ID", "NHS"},
    "education": {"SOURCE_ID", "UPN"},
    "socialcare": {"SOURCE_ID", "COUNCIL_ID", "NHS"},
    "probation": {"SOURCE_ID", "CRN", "PNC"},
    "youthjustice": {"SOURCE_ID", "YOT_ID"},
    "housing": {"SOURCE_ID", "HOUSING_REF"},
}


def _truth(town: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(town / "town.sqlite") as conn:
        return conn.execute(sql, args).fetchall()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def test_the_same_seed_size_and_day_give_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 150, 9, TODAY)
    again = generate(tmp_path / "b", 150, 9, TODAY)
    assert _digests(first.out) == _digests(again.out)
    other = generate(tmp_path / "c", 150, 10, TODAY)
    sql = "SELECT given_names, family_name, dob FROM people ORDER BY key"
    assert _truth(other.out, sql) != _truth(first.out, sql)


def test_generating_again_into_the_same_folder_replaces_the_town(tmp_path: Path) -> None:
    generate(tmp_path, 120, 4, TODAY)
    before = _digests(tmp_path)
    generate(tmp_path, 60, 5, TODAY)
    generate(tmp_path, 120, 4, TODAY)
    assert _digests(tmp_path) == before


def test_every_nhs_number_upn_and_pnc_id_passes_its_check(town: Summary) -> None:
    checks = {"NHS": normalise_nhs, "UPN": normalise_upn, "PNC": normalise_pnc}
    found: Counter[str] = Counter()
    for agency, scheme, value in _truth(town.out, "SELECT agency, scheme, value FROM identifiers"):
        if scheme in checks:
            assert checks[scheme](value) is not None, f"{agency} {scheme} fails its check"
            found[scheme] += 1
    stored = [
        ("police", "persons", "pnc", normalise_pnc),
        ("health", "patients", "nhs_number", normalise_nhs),
        ("education", "pupils.csv", "upn", normalise_upn),
        ("socialcare", "people", "nhs_number", normalise_nhs),
        ("probation", "offenders", "pnc", normalise_pnc),
    ]
    for agency, table, column, check in stored:
        values = [row[column] for row in store_rows(town.out, agency, table) if row[column]]
        assert values, f"{agency} stores no {column}"
        assert all(check(v) is not None for v in values), f"{agency} {table}.{column}"
    assert min(found.values()) > 0
    assert set(found) == set(checks)
    nhs = [v for (v,) in _truth(town.out, "SELECT nhs FROM people")]
    assert None not in nhs, "everyone has an NHS number"
    assert len(set(nhs)) == len(nhs), "of their own"


def test_each_agency_holds_only_its_own_identifier_schemes(town: Summary) -> None:
    by_agency: dict[str, set[str]] = defaultdict(set)
    for agency, scheme in _truth(town.out, "SELECT DISTINCT agency, scheme FROM identifiers"):
        by_agency[agency].add(scheme)
    for agency, allowed in SCHEMES.items():
        assert by_agency[agency] <= allowed, agency
    # And no other scheme's value in any format, anywhere in the agency's own files.
    canonical = {scheme: set() for scheme in ("NHS", "UPN", "PNC")}  # type: dict[str, set[str]]
    for scheme, value in _truth(
        town.out, "SELECT scheme, value FROM identifiers WHERE scheme IN ('NHS','UPN','PNC')"
    ):
        canonical[scheme].add(value)
        canonical[scheme].add(value.replace(" ", ""))
    for agency, allowed in SCHEMES.items():
        foreign = set().union(*(values for scheme, values in canonical.items() if scheme not in allowed))
        store = STORES[agency]
        tables = [store.people, *([store.contacts] if store.contacts else []), *store.tables]
        for table in tables:
            for row in store_rows(town.out, agency, table.name):
                leaked = {str(v) for v in row.values() if v is not None} & foreign
                assert not leaked, f"{agency} {table.name} holds another agency's identifier"


def test_agency_spellings_differ_from_the_legal_names_in_every_way_real_systems_do(town: Summary) -> None:
    rows = _truth(
        town.out,
        "SELECT r.agency, r.variant, r.given_names, r.family_name, p.given_names, p.family_name"
        " FROM agency_records r JOIN people p ON p.key = r.person",
    )
    share: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    kinds: Counter[str] = Counter()
    for agency, variant, given, family, legal_given, legal_family in rows:
        share[agency][1] += 1
        if variant is None:
            assert (given, family) == (legal_given, legal_family)
            continue
        assert (given, family) != (legal_given, legal_family)
        share[agency][0] += 1
        kinds[variant] += 1
    assert set(KINDS) <= set(kinds), f"variant kinds seen: {dict(kinds)}"
    for agency in ("police", "health", "education", "housing"):
        varied, total = share[agency]
        assert 0.02 < varied / total < 0.35, agency
    assert share["police"][0] / share["police"][1] > share["health"][0] / share["health"][1]


def test_dates_of_birth_are_the_same_in_every_system(town: Summary) -> None:
    truth = dict(
        _truth(
            town.out,
            "SELECT r.agency || ':' || r.source_id, p.dob"
            " FROM agency_records r JOIN people p ON p.key = r.person",
        )
    )
    checked = 0
    for agency, store in STORES.items():
        for table in (store.people, *([store.contacts] if store.contacts else [])):
            for row in store_rows(town.out, agency, table.name):
                stored = row.get("dob") or row["date_of_birth"]
                if "/" in stored:
                    day, month, year = stored.split("/")
                    stored = f"{year}-{month}-{day}"
                assert truth[f"{agency}:{row[store.id_column]}"] == stored
                checked += 1
    assert checked == len(truth)


def test_most_people_are_known_to_no_one_but_health_and_education(town: Summary) -> None:
    known: dict[str, set[str]] = defaultdict(set)
    for person, agency in _truth(town.out, "SELECT person, agency FROM agency_records"):
        known[person].add(agency)
    assert all("health" in agencies for agencies in known.values())
    quiet = sum(1 for agencies in known.values() if agencies <= {"health", "education"})
    assert quiet / len(known) > 0.7
    assert 0.03 < sum("police" in a for a in known.values()) / len(known) < 0.15


def test_pncs_only_for_people_the_police_know_and_upns_only_for_pupils(town: Summary) -> None:
    with_pnc = {p for (p,) in _truth(town.out, "SELECT key FROM people WHERE pnc IS NOT NULL")}
    police = {p for (p,) in _truth(town.out, "SELECT person FROM agency_records WHERE agency = 'police'")}
    assert with_pnc
    assert with_pnc <= police
    probation = _truth(
        town.out, "SELECT person FROM agency_records WHERE agency = 'probation' AND person LIKE 'h%'"
    )
    assert probation
    assert {p for (p,) in probation} <= with_pnc
    upn = {p for (p,) in _truth(town.out, "SELECT key FROM people WHERE upn IS NOT NULL")}
    pupils = {p for (p,) in _truth(town.out, "SELECT person FROM agency_records WHERE agency = 'education'")}
    assert upn
    assert upn <= pupils


def test_sensitive_values_hold_every_kind_of_personal_data_of_a_person(town: Summary) -> None:
    values = sensitive_values(town.out)
    key, given, family, dob, lines, postcode, nhs = _truth(
        town.out,
        "SELECT p.key, p.given_names, p.family_name, p.dob, p.address_lines, p.postcode, p.nhs FROM people p"
        " JOIN agency_records r ON r.person = p.key AND r.agency = 'police' WHERE p.pnc IS NOT NULL LIMIT 1",
    )[0]
    day = date.fromisoformat(dob)
    assert {given, family, dob, day.strftime("%d/%m/%Y"), postcode, nhs, *json.loads(lines)} <= values
    assert given.split()[0] in values
    stored = {v for (v,) in _truth(town.out, "SELECT value FROM identifiers WHERE person = ?", key)}
    assert stored <= values
    assert any("/" in v and len(v) == 13 for v in stored), "the police's PNC format too"
    spaced = nhs[:3] + " " + nhs[3:6] + " " + nhs[6:]
    assert spaced in values, "the NHS number as health stores it"
    assert "Exeter" not in values, "a town is not personal data"


def test_the_manifest_counts_what_was_written(town: Summary) -> None:
    doc = json.loads((town.out / "manifest.json").read_text())
    assert (doc["seed"], doc["today"], doc["households"]) == (town.seed, TODAY.isoformat(), HOUSEHOLDS)
    assert doc["people"] == len(_truth(town.out, "SELECT key FROM people"))
    for agency in AGENCIES:
        store = STORES[agency]
        assert doc["agencies"][agency]["people"] == len(
            _truth(town.out, "SELECT 1 FROM agency_records WHERE agency = ?", agency)
        )
        for table in store.tables:
            assert doc["agencies"][agency]["records"].get(table.source, 0) == len(
                store_rows(town.out, agency, table.name)
            )


# --- scenario households ----------------------------------------------------------------------------------


def _scenario(nhs: list[str]) -> Household:
    home = Address(("Flat 2", "7 Quay Lane"), "Exeter", "EX2 4AN", "100040000001")
    mum = Person(
        "t.mum",
        "Joanne",
        "Doe-Carter",
        date(1990, 1, 2),
        "FEMALE",
        home,
        nhs=nhs[0],
        pnc=PNC,
        known_to=frozenset({"health", "police", "education"}),
        spellings={"police": Spelling("Jo", "Doe Carter")},
    )
    kid = Person(
        "t.kid",
        "Tom",
        "Doe",
        date(2016, 5, 6),
        "MALE",
        home,
        nhs=nhs[1],
        upn=UPN,
        known_to=frozenset({"health", "education"}),
    )
    held = [
        Held(
            "police",
            "t.mum",
            "police_incidents",
            {
                "incident_ref": "T-1",
                "incident_date": date(2026, 10, 1),
                "incident_type": "Domestic incident",
                "subject_role": "VICTIM",
                "child_present": True,
                "domestic_abuse": True,
                "summary": "Test",
                "ppn_submitted": True,
            },
            date(2026, 10, 1),
        ),
        Held(
            "education",
            "t.kid",
            "education_attendance.attendance",
            {
                "school_name": "Test Primary",
                "academic_year": "2026/27",
                "attendance_percent": 88.5,
                "unauthorised_absence_sessions": 9,
                "persistent_absence": True,
                "severe_absence": False,
                "on_roll_from": date(2021, 9, 1),
            },
            date(2026, 10, 30),
        ),
        Held(
            "education",
            "t.kid",
            "contact",
            {
                "known": True,
                "agency": "education",
                "contact_team": "Test Primary DSL",
                "currently_open": True,
            },
            date(2026, 10, 30),
        ),
    ]
    return Household("t", [mum, kid], [Relationship("t.kid", "t.mum", "MOTHER", True, True)], held)


def test_scenario_households_are_written_exactly_through_the_same_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Allocator(3)
    # The NHS numbers the random households would otherwise be given first.
    household = _scenario([first.nhs(), first.nhs()])
    monkeypatch.setattr(town_module.scenarios, "households", lambda today: [household])
    summary = generate(tmp_path, 100, 3, TODAY)
    assert summary.scenario_households == 1
    people = {
        row[0]: row
        for row in _truth(
            tmp_path, "SELECT key, given_names, family_name, dob, nhs, upn, pnc, postcode FROM people"
        )
    }
    mum, kid = household.people
    assert people["t.mum"] == ("t.mum", "Joanne", "Doe-Carter", "1990-01-02", mum.nhs, None, PNC, "EX2 4AN")
    assert people["t.kid"][5] == UPN
    records = {
        (p, a): (g, f)
        for p, a, g, f in _truth(
            tmp_path,
            "SELECT person, agency, given_names, family_name FROM agency_records WHERE person LIKE 't.%'",
        )
    }
    assert records == {
        ("t.mum", "health"): ("Joanne", "Doe-Carter"),
        ("t.mum", "police"): ("Jo", "Doe Carter"),
        ("t.mum", "education"): ("Joanne", "Doe-Carter"),
        ("t.kid", "health"): ("Tom", "Doe"),
        ("t.kid", "education"): ("Tom", "Doe"),
    }
    assert _truth(
        tmp_path,
        "SELECT person, other, relationship, lives_with, parental_responsibility FROM relationships"
        " WHERE person LIKE 't.%'",
    ) == [("t.kid", "t.mum", "MOTHER", 1, 1)]
    ids = dict(
        _truth(
            tmp_path, "SELECT agency || ':' || person, source_id FROM agency_records WHERE person LIKE 't.%'"
        )
    )
    (incident,) = [
        r for r in store_rows(tmp_path, "police", "incidents") if r["person_id"] == ids["police:t.mum"]
    ]
    assert incident == {
        "person_id": ids["police:t.mum"],
        "incident_ref": "T-1",
        "incident_date": "2026-10-01",
        "incident_type": "Domestic incident",
        "subject_role": "VICTIM",
        "child_present": 1,
        "domestic_abuse": 1,
        "weapons_involved": None,
        "summary": "Test",
        "location_postcode": None,
        "crime_ref": None,
        "police_action": None,
        "ppn_submitted": 1,
        "kind": "FACT",
        "recorded_on": "2026-10-01",
    }
    (person,) = [
        r for r in store_rows(tmp_path, "police", "persons") if r["person_id"] == ids["police:t.mum"]
    ]
    assert (person["forename"], person["surname"], person["pnc"]) == ("Jo", "Doe Carter", "20" + PNC)
    kid_id = ids["education:t.kid"]
    (attendance,) = [
        r for r in store_rows(tmp_path, "education", "attendance.csv") if r["person_id"] == kid_id
    ]
    assert (
        attendance["attendance_percent"],
        attendance["persistent_absence"],
        attendance["on_roll_from"],
    ) == ("88.5", "true", "01/09/2021")
    (contact,) = [r for r in store_rows(tmp_path, "education", "involvement.csv") if r["person_id"] == kid_id]
    assert (contact["contact_team"], contact["currently_open"], contact["contact_phone"]) == (
        "Test Primary DSL",
        "true",
        "",
    )
    taken = {v for (v,) in _truth(tmp_path, "SELECT nhs FROM people WHERE key NOT LIKE 't.%'")}
    assert not taken & {mum.nhs, kid.nhs}, "random people never take a scenario person's identifiers"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"source": "police_incidents", "fields": {"incident_ref": "x", "colour": "red"}},
            "no column for ['colour']",
        ),
        ({"source": "no_such_key"}, "no records key"),
        ({"agency": "probation", "source": "probation"}, "not in known_to"),
        ({"source": "domestic_abuse.cases", "fields": {"victim_safe_contact": {"phone": "x"}}}, "must leave"),
    ],
)
def test_a_scenario_item_the_writer_cannot_place_is_refused_by_key_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], message: str
) -> None:
    household = _scenario(["9990000018", "9990000026"])
    item = household.held[0]
    household.held[0] = Held(
        change.get("agency", item.agency),
        item.person,
        change.get("source", item.source),
        change.get("fields", item.fields),
        item.recorded_on,
    )
    monkeypatch.setattr(town_module.scenarios, "households", lambda today: [household])
    with pytest.raises(HeldInvalid, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        generate(tmp_path, 0, 1, TODAY)
    assert "Joanne" not in str(caught.value)
    assert "red" not in str(caught.value)


def test_the_demo_s_scenarios_are_in_the_town_as_given(town: Summary) -> None:
    given = town_module.scenarios.households(TODAY)
    assert len(given) >= 7, "the demo's scenarios (town/scenarios/), each household once"
    assert len({h.key for h in given}) == len(given)
    people = {
        row[0]: row[1:]
        for row in _truth(town.out, "SELECT key, given_names, family_name, dob, nhs FROM people")
    }
    records = {
        (p, a): (g, f, s)
        for p, a, g, f, s in _truth(
            town.out, "SELECT person, agency, given_names, family_name, source_id FROM agency_records"
        )
    }
    for household in given:
        for p in household.people:
            assert people[p.key] == (p.given_names, p.family_name, p.dob.isoformat(), p.nhs)
            for agency in p.known_to:
                spelling = p.spellings.get(agency, Spelling(p.given_names, p.family_name))
                assert records[(p.key, agency)][:2] == (spelling.given_names, spelling.family_name)
        for item in household.held:
            store = STORES[item.agency]
            table = store.table(item.source)
            assert table is not None
            sid = records[(item.person, item.agency)][2]
            rows = [r for r in store_rows(town.out, item.agency, table.name) if r[store.id_column] == sid]
            wanted = sum(
                1
                for h in household.held
                if (h.agency, h.person, h.source) == (item.agency, item.person, item.source)
            )
            assert len(rows) == wanted, f"{item.person} {item.source}"
