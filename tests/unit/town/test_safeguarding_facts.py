"""What the generated town holds for the hub's flags and the broker's markers to find, and how each
agency's systems hold it: fled victims marked in health and their refuge flagged in housing, mothers who
had a child removed, sex offenders managed by the police alone, and contact teams whose names the
connectors scope. Each test names the rule it checks and where the rule comes from."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from connectors.sdk.adapters import build_adapter
from connectors.sdk.contacts import PLAIN
from connectors.sdk.records import MARKERS
from devkit.testkit.town import deploy_config, health_api, store_rows
from town import Summary
from town.schema import STORES


def _truth(town: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(town / "town.sqlite") as conn:
        return conn.execute(sql, args).fetchall()


def _ids(town: Path, agency: str) -> dict[str, str]:
    """Person key -> the agency's id for them."""
    rows = _truth(town, "SELECT person, source_id FROM agency_records WHERE agency = ?", agency)
    return dict(rows)


def test_a_fled_victim_and_her_children_are_marked_in_health_and_their_refuge_flagged_in_housing(
    town: Summary,
) -> None:
    # DOMAIN.md "Victims who have fled": a refuge's address is confidential; health records use a
    # "confidential address" marker, and a person or an address can carry it. In the town a victim of an
    # ex-partner's abuse may flee with the children: health marks each of them, housing flags the refuge.
    marked = {k for (k,) in _truth(town.out, "SELECT key FROM people WHERE confidential_address = 1")}
    assert marked
    refuges = {k for (k,) in _truth(town.out, "SELECT key FROM households WHERE confidential = 1")}
    assert {
        h for (h,) in _truth(town.out, "SELECT household FROM people WHERE confidential_address = 1")
    } <= refuges
    health = {
        r["patient_id"] for r in store_rows(town.out, "health", "patients") if r["confidential_address"]
    }
    assert health == {_ids(town.out, "health")[k] for k in marked}
    housing_ids = _ids(town.out, "housing")
    flagged = {
        r["person_ref"] for r in store_rows(town.out, "housing", "people") if r["address_confidential"]
    }
    assert flagged
    assert flagged <= {housing_ids[k] for k in marked if k in housing_ids}
    tenancies = [r for r in store_rows(town.out, "housing", "tenancies") if r["person_ref"] in flagged]
    assert {t["tenure_type"] for t in tenancies} == {"TEMPORARY_ACCOMMODATION"}
    # The one she fled from is no one's confidential address: he lives at his own.
    police = _ids(town.out, "police")
    victims = {
        r["person_id"] for r in store_rows(town.out, "police", "da_cases") if r["subject_role"] == "VICTIM"
    }
    assert any(police.get(k) in victims for k in marked), "a marked person is a victim the police know"
    perpetrators = {
        r["person_id"]
        for r in store_rows(town.out, "police", "da_cases")
        if r["subject_role"] == "PERPETRATOR"
    }
    assert not {police.get(k) for k in marked} & perpetrators


async def test_the_health_and_housing_connectors_read_each_marker_with_its_scope(town: Summary) -> None:
    # IntelReturn.v3 confidential_addresses: PERSON marks the person (every agency's locating details about
    # them are withheld), ADDRESS only the addresses in that return. Health's marker is on the patient,
    # housing's on the property.
    marked = {k for (k,) in _truth(town.out, "SELECT key FROM people WHERE confidential_address = 1")}
    with health_api(town.out) as url:
        for agency, scope in (("health", "PERSON"), ("housing", "ADDRESS")):
            config = deploy_config(agency, town.out, url)
            model = config.connector_class().records[MARKERS]
            ids = _ids(town.out, agency)
            asked = sorted(ids[k] for k in marked if k in ids)
            async with build_adapter(config.source) as adapter:
                rows = await adapter.records(MARKERS, [*asked, *sorted(ids.values())[:20]])
            markers = [model.model_validate(r) for r in rows]
            assert markers, agency
            assert {m.source_id for m in markers} <= set(asked), f"{agency}: only the marked"
            assert {m.item()["scope"] for m in markers} == {scope}


def test_a_mother_who_had_a_child_removed_is_known_to_children_s_social_care(town: Summary) -> None:
    # DOMAIN.md "Stages, outcomes and late information": a previous child removed from the parent's care
    # raises the risk of a new contact sharply (SocialCareHistory v2 children_removed, on the parent).
    removed = store_rows(town.out, "socialcare", "children_removed")
    assert removed
    people = {r["person_id"]: r for r in store_rows(town.out, "socialcare", "people")}
    for row in removed:
        parent = people[row["person_id"]]
        assert (parent["person_type"], parent["gender"]) == ("ADULT", "F")
        assert row["order"]
        assert row["removed_on"] < parent["created_on"] or row["removed_on"] == parent["created_on"]


def test_a_sex_offender_managed_by_the_police_alone_is_marked_and_has_a_mosovo_contact(town: Summary) -> None:
    # The hub flags a sex offender from probation or police data (contract "Hub"): one whose sentence is
    # over is no longer probation's, but the police still hold his sexual conviction, his sex offenders
    # register marker, and the MOSOVO team that manages him.
    police = {v: k for k, v in _ids(town.out, "police").items()}
    marked = {r["person_id"] for r in store_rows(town.out, "police", "markers") if r["marker_code"] == "SO"}
    assert marked
    sexual = {
        r["person_id"]
        for r in store_rows(town.out, "police", "disposals")
        if r["offence_category"] == "SEXUAL" and r["person_id"] in marked
    }
    assert sexual == marked
    mosovo = {
        r["person_id"] for r in store_rows(town.out, "police", "involvement") if "MOSOVO" in r["contact_team"]
    }
    assert marked <= mosovo
    probation = _ids(town.out, "probation")
    assert any(police[pid] not in probation for pid in marked), "one the police manage alone"


def _routed(town: Path, agency: str) -> dict[str, Counter[str]]:
    """Per random-household person of ``agency``, how many contacts travel as each category under the
    agency's deploy config."""
    routing = deploy_config(agency, town).contacts
    random_people = {sid for key, sid in _ids(town, agency).items() if key.startswith("h")}
    store = STORES[agency]
    table = store.table("contact")
    assert table is not None
    routed: dict[str, Counter[str]] = defaultdict(Counter)
    for row in store_rows(town, agency, table.name):
        if row[store.id_column] in random_people:
            routed[row[store.id_column]][routing.category(row)] += 1
    return routed


def _plain_answers(town: Path, agency: str) -> dict[str, list[dict[str, Any]]]:
    """Per random-household person of ``agency``, the plain contact items its connector would send: its own
    plain contacts, or the configured route for a person whose every contact is scoped."""
    routing = deploy_config(agency, town).contacts
    random_people = {sid for key, sid in _ids(town, agency).items() if key.startswith("h")}
    store = STORES[agency]
    table = store.table("contact")
    assert table is not None
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store_rows(town, agency, table.name):
        if row[store.id_column] in random_people:
            rows[row[store.id_column]].append({**row, "known": row["known"] in (True, 1, "true")})
    return {pid: routing.route_items(agency, items).get(PLAIN, []) for pid, items in rows.items()}


def test_every_person_an_agency_knows_has_one_plain_contact_and_specialists_are_scoped(town: Summary) -> None:
    # DOMAIN.md "Who a screening answer may tell what": the plain screening answer says known / not known
    # and a team that reveals nothing beyond the agency; a specialist team's name goes in contact_<c>.
    # Probation and youth justice: being known to them at all is their fact (policy participants.reveals).
    # Education: a school's name locates a pupil who has fled (policy contact_education_attendance), so
    # every school contact is scoped and the plain answer is the local authority's route.
    for agency in ("police", "health", "socialcare", "housing"):
        routed = _routed(town.out, agency)
        assert routed, agency
        assert all(c[PLAIN] == 1 for c in routed.values()), f"{agency}: one plain contact each"
    seen = Counter(
        cat
        for agency in ("police", "health", "socialcare")
        for c in _routed(town.out, agency).values()
        for cat in c
    )
    for scoped in (
        "contact_police_intelligence",
        "contact_mental_health",
        "contact_health_summary",
        "contact_social_care_history",
    ):
        assert seen[scoped], f"the town has someone whose contact is {scoped}"
    for agency, scoped in (
        ("probation", "contact_probation"),
        ("youthjustice", "contact_youth_justice"),
        ("education", "contact_education_attendance"),
    ):
        routed = _routed(town.out, agency)
        assert routed, agency
        assert {cat for c in routed.values() for cat in c} == {scoped}
    plain = _plain_answers(town.out, "education")
    assert plain
    assert all(len(items) == 1 for items in plain.values()), "education: one plain answer each"
    assert {i["contact_team"] for items in plain.values() for i in items} == {
        "Devon education safeguarding team"
    }
