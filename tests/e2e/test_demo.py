"""Every scenario end to end: ``jigsaw demo --once`` as a real process, which starts the broker, four hubs,
seven connectors and the health system's API as real processes on the real Kafka.

Once it exits, each subscriber's view is rendered from that subscriber's own hub store, and checked two
ways: against the scenario's expectations (what it sees, what is withheld and by which rule, what came
late, the flags, the deadlines in working hours), and against facts stated here independently of that
table, each with the rule it shows. Then every record on every topic of the run is scanned for the
synthetic people's personal data in plaintext.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apps.demo import expect
from apps.demo.scan import Needles, scan, scan_sync
from apps.demo.stack import POLICY
from devkit.localprom import LocalPrometheus
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings
from jigsaw.roster import load_roster
from jigsaw.topics import Topics, TopicSpec
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import micros, now_micros
from services.broker.audit import trail
from services.hub.view import render
from town import sensitive_values
from town.deployment import AGENCIES
from town.scenarios import CSC, HEALTH, PARTNER, POLICE, SUBSCRIBERS, Scenario, scenarios

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    dir: Path
    status: int
    output: str
    kafka: KafkaSettings
    today: date
    referrals: dict[str, str]
    scenarios: dict[str, Scenario]

    def view(self, key: str, subscriber: str) -> dict[str, Any] | None:
        with sqlite3.connect(self.dir / "state" / f"hub-{subscriber}.sqlite") as conn:
            return render(conn, self.referrals[key], now_micros())


@pytest.fixture(scope="module")
def run(kafka_admin: KafkaSettings, tmp_path_factory: pytest.TempPathFactory) -> Run:
    where = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIGSAW_")}
    done = subprocess.run(
        [sys.executable, "-m", "apps.cli", "demo", "--once", "--households", "150",
         "--dir", str(where), "--bootstrap", kafka_admin.bootstrap, "--timeout", "300"],
        cwd=ROOT, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert (where / "run.json").exists(), done.stdout[-4000:] + done.stderr[-4000:]
    info = json.loads((where / "run.json").read_text())
    today = date.fromisoformat(info["today"])
    return Run(
        where,
        done.returncode,
        done.stdout + done.stderr,
        kafka_admin.model_copy(update={"topic_prefix": info["topic_prefix"]}),
        today,
        info["referrals"],
        {s.key: s for s in scenarios(today)},
    )


def test_the_demo_exits_0_with_every_scenario_as_expected(run: Run) -> None:
    assert run.status == 0, run.output[-4000:]
    assert "every scenario as expected" in run.output
    assert re.search(r"values looked for: 0 found", run.output)  # its own plaintext scan


def test_the_demo_says_which_token_has_which_scopes(run: Run) -> None:
    lines = {
        line.split()[0]: line for line in run.output.splitlines() if " token " in line and "scopes" in line
    }
    assert lines["csc-mash"].endswith("scopes read,intake,triage,review,consent")
    for desk in ("police-mash", "health-mash", "partner-hub"):
        assert lines[desk].endswith("scopes read,review"), lines[desk]


def test_every_scenario_is_in_the_run(run: Run) -> None:
    assert set(run.referrals) == {
        "bike-theft", "drug-house", "sex-offender", "domestic-abuse", "early-help", "early-help-refused",
        "anonymous-caller", "late-police-return", "strategy-discussion", "fled-victim",
        "professional-referrer", "public-referrer", "young-person-refuses", "scoped-answers",
        "first-contact", "re-referral",
    }  # fmt: skip


CASES = [(key, sub) for key, s in ((s.key, s) for s in scenarios(date.today())) for sub in SUBSCRIBERS]


@pytest.mark.parametrize(("key", "subscriber"), CASES)
def test_each_subscriber_sees_what_the_scenario_says(run: Run, key: str, subscriber: str) -> None:
    scenario = run.scenarios[key]
    view = run.view(key, subscriber)
    assert expect.problems(scenario, subscriber, view) == []
    if subscriber in scenario.unassigned:
        assert view is None  # need to know: it never learns the referral exists
        return
    assert view is not None
    # The referral's own enquiries are due the RAG's timescale, in working hours, from its receipt (an
    # unrated contact the most urgent); one about a subject added later, from when it was asked.
    # The opening enquiry to an agency is the first to it: a desk not told of every agency sees fewer.
    received = datetime.fromisoformat(view["received_at"])
    not_told = scenario.expect[subscriber].not_told
    opening: dict[str, dict[str, Any]] = {}
    for e in sorted(view["enquiries"], key=lambda e: e["sent_at"]):
        opening.setdefault(e["agency"], e)
    assert set(opening) | not_told >= set(AGENCIES), sorted(opening)
    for agency, e in opening.items():
        if agency in not_told:
            continue
        due = expect.CLOCK.add(received, scenario.deadline_hours)
        assert abs(datetime.fromisoformat(e["deadline"]) - due) <= timedelta(milliseconds=1), agency
    # Every agency answered in time; one whose involvement is a fact this desk may not know (known to
    # probation at all) is never shown to have answered.
    for e in view["enquiries"]:
        assert e["outstanding"] is (e["agency"] in not_told), e["agency"]
        assert not e["breached"]
    # Every subject of the referral was found by at least one agency.
    for subject in view["subjects"]:
        assert subject["matches"], subject["subject_ref"]


def _released(view: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [s["payload"] for sections in view["contributions"].values() for s in sections
            if s["category"] == category]  # fmt: skip


def _reasons(view: dict[str, Any], category: str) -> set[str]:
    return {w["reason"] for w in view["withheld"] if w["category"] == category}


def test_bike_theft_release_date_and_mothers_engagement(run: Run) -> None:
    csc, police, health = (run.view("bike-theft", s) for s in (CSC, POLICE, HEALTH))
    assert csc
    assert police
    assert health
    due = (run.today + timedelta(days=19)).isoformat()
    (record,) = [r for p in _released(csc, "probation") for r in p["records"]]
    assert record["release_date"] == due
    assert "Curfew 19:00 to 07:00 with electronic monitoring" in record["licence_conditions"]
    assert any(due in f["why"] for f in csc["flags"] if f["flag"] == "release_within_28_days")
    episodes = [e for p in _released(health, "mental_health") for e in p["episodes"]]
    assert [e["engagement"] for e in episodes] == ["DISENGAGED"]
    assert _released(police, "mental_health") == []
    attendance = [a for p in _released(csc, "education_attendance") for a in p["attendance"]]
    assert [a["attendance_percent"] for a in attendance] == [93.4]


def test_drug_house_pieces_from_four_agencies(run: Run) -> None:
    csc = run.view("drug-house", CSC)
    assert csc is not None
    assert {"housing", "police", "education", "health"} <= set(csc["contributions"])
    complaints = [c for p in _released(csc, "housing") for c in p.get("asb_complaints", [])]
    assert len(complaints) == 3
    assert all(c["kind"] == "ALLEGATION" for c in complaints)
    missing = [m for p in _released(csc, "education_attendance") for m in p.get("missing_episodes", [])]
    assert len(missing) == 2
    ae = [a for p in _released(csc, "health_summary") for a in p.get("emergency_attendances", [])]
    assert [a["safeguarding_concern_raised"] for a in ae] == [True]
    intel = [r for p in _released(csc, "police_intelligence") for r in p["reports"]]
    assert {"DRUG_SUPPLY", "CUCKOOING"} <= set(intel[0]["themes"])


def test_sex_offender_mappa_stays_with_whom_probation_allows(run: Run) -> None:
    health, police = run.view("sex-offender", HEALTH), run.view("sex-offender", POLICE)
    assert health
    assert police
    # Refused MAPPA data by originator control, the health desk is not even told that probation answered.
    assert "probation" not in health["contributions"]
    assert not [w for w in health["withheld"] if w["agency"] == "probation"]
    assert all(e["outstanding"] for e in health["enquiries"] if e["agency"] == "probation")
    (record,) = [r for p in _released(police, "probation") for r in p["records"]]
    assert record["registered_sex_offender"] is True
    assert record["mappa_category"] == "CATEGORY_1"


def test_domestic_abuse_safe_contact_is_never_released(run: Run) -> None:
    for sub in (CSC, POLICE, HEALTH):
        view = run.view("domestic-abuse", sub)
        assert view is not None
        assert _released(view, "victim_safe_contact") == []
        assert "07700 900461" not in json.dumps(view)
        assert any("redacted" in r for r in _reasons(view, "victim_safe_contact"))
    csc = run.view("domestic-abuse", CSC)
    assert csc is not None
    (case,) = [c for p in _released(csc, "domestic_abuse") for c in p["cases"]]
    assert (case["dash_score"], case["dash_risk_level"], case["marac_referred"]) == (17, "HIGH", True)
    assert "victim_safe_contact" not in case  # DomesticAbuse v2: the safe contact is its own category only
    encompass = [
        n for p in _released(csc, "education_attendance") for n in p.get("encompass_notifications", [])
    ]
    assert [n["incident_ref"] for n in encompass] == ["DC-26-121905"]
    visits = [c for p in _released(csc, "health_summary") for c in p.get("community_contacts", [])]
    assert {c["service"] for c in visits} == {"HEALTH_VISITING"}
    incidents = {i["incident_ref"] for p in _released(csc, "police_incidents") for i in p["incidents"]}
    assert len(incidents) == 3


def test_early_help_agreed_reaches_the_partner_hub(run: Run) -> None:
    partner = run.view("early-help", PARTNER)
    assert partner is not None
    assert partner["decision"]["outcome"] == "EARLY_HELP"
    tenancies = [t for p in _released(partner, "housing") for t in p["tenancies"]]
    assert [t["arrears_status"] for t in tenancies] == ["IN_ARREARS"]
    assert _released(partner, "health_summary") == []


def _rules(view: dict[str, Any], category: str) -> set[str]:
    return {w["rule_id"] for w in view["withheld"] if w["category"] == category}


def test_early_help_refusal_is_respected_and_an_override_does_not_open_it(run: Run) -> None:
    """Early help is voluntary: a safeguarding override shares for safeguarding, never with early help
    (DOMAIN "Consent, per person")."""
    partner = run.view("early-help-refused", PARTNER)
    assert partner is not None
    for category in ("referral_details", "education_attendance", "housing"):
        assert _released(partner, category) == []
        assert _rules(partner, category) == {"SYS-CONSENT-REFUSED"}


def test_the_front_door_s_view_lists_the_consent_records(run: Run) -> None:
    front = run.view("early-help-refused", CSC)
    assert front is not None
    assert {c["kind"] for c in front["consent"]} >= {"CONSENT_REFUSED", "SAFEGUARDING_OVERRIDE"}


async def test_the_health_desk_s_refusal_of_mappa_data_is_audited(run: Run) -> None:
    rows = await _trail(run, "sex-offender")
    # Before the assignment: not assigned; once assigned, refused by originator control, and never released.
    about = [r for r in rows if r["subscriber"] == HEALTH and r["category"] == "probation"]
    assert "SYS-ORIGINATOR" in {r["rule_id"] for r in about}
    assert all(r["outcome"] == "WITHHOLD" for r in about)


async def test_the_refusal_is_on_the_audit_trail(run: Run) -> None:
    records = await read_to_end(run.kafka, Topics(run.kafka.topic_prefix).audit)
    rows = trail(SchemaRegistry.load(), records, run.referrals["early-help-refused"])
    refused = {
        r["category"] for r in rows if r["subscriber"] == PARTNER and r["rule_id"] == "SYS-CONSENT-REFUSED"
    }
    assert {"referral_details", "education_attendance", "housing"} <= refused
    consents = await read_to_end(run.kafka, Topics(run.kafka.topic_prefix).consent)
    keys = {r.key for r in consents}
    assert run.referrals["early-help-refused"].encode() in keys
    # Each share without consent records its DPA 2018 Sch 1 para 18(2) ground.
    (override,) = [r for r in rows if r["event"] == "CONSENT" and r["rule_id"] == "SAFEGUARDING_OVERRIDE"]
    assert override["ground"] == "WOULD_PREJUDICE_PROTECTION"
    # After it, the early-help hub is still refused, never released anything beyond known / not known.
    after = [
        r
        for r in rows
        if r["subscriber"] == PARTNER and micros(r["decided_at"]) > micros(override["decided_at"])
    ]
    assert all(r["outcome"] != "RELEASE" or r["category"] in ("identity", "contact") for r in after)


def test_anonymous_caller_gets_screening_only_and_the_caller_stays_protected(run: Run) -> None:
    for sub in (CSC, POLICE, HEALTH):
        view = run.view("anonymous-caller", sub)
        assert view is not None
        assert {e["purpose"] for e in view["enquiries"]} == {"SCREENING"}
        # Known / not known and contact, plain or scoped to the agency's teams: nothing else is asked.
        asked = {c for e in view["enquiries"] for c in e["categories"]}
        assert {"identity", "contact"} <= asked
        assert all(c in ("identity", "contact") or c.startswith("contact_") for c in asked)
        assert "Venning" not in json.dumps(view)
        assert _released(view, "referrer_identity") == []


async def _trail(run: Run, key: str) -> list[dict[str, Any]]:
    records = await read_to_end(run.kafka, Topics(run.kafka.topic_prefix).audit)
    return trail(SchemaRegistry.load(), records, run.referrals[key])


def _late(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for sections in view["contributions"].values() for s in sections if s["late"]]


async def test_a_late_police_return_reaches_the_screening_desk_flagged_late(run: Run) -> None:
    """A case is never closed to information: a return after the decision reaches the screening desk,
    marked late, so the decision can be revisited (DOMAIN "Stages, outcomes and late information")."""
    csc, police, health = (run.view("late-police-return", s) for s in (CSC, POLICE, HEALTH))
    assert csc
    assert police
    assert health
    assert csc["decision"]["outcome"] == "NO_FURTHER_ACTION"
    assert csc["late_information"]["since_decision"] is True
    (incident,) = [
        i for s in _late(csc) if s["category"] == "police_incidents" for i in s["payload"]["incidents"]
    ]
    assert (incident["incident_ref"], incident["child_present"]) == ("DC-26-122410", True)
    # Late information is the decision makers' alone: the other desks get nothing of it, not even who he is.
    assert _late(police) == []
    assert _late(health) == []
    assert "DC-26-122410" not in json.dumps(police["contributions"])
    rows = await _trail(run, "late-police-return")
    to_csc = {
        r["category"] for r in rows if r["subscriber"] == CSC and r["late"] and r["outcome"] == "RELEASE"
    }
    assert {"police_incidents", "police_convictions"} <= to_csc
    assert {r["purpose"] for r in rows if r["late"] and r["event"] == "DECISION"} == {"LATE_INFORMATION"}


async def test_a_strategy_discussion_on_green_gives_the_police_the_health_findings(run: Run) -> None:
    """Whatever the RAG (Children Act 1989 s47); police need injuries and medical history to decide on
    a joint investigation (Working Together 2023 ch. 3)."""
    police, partner = run.view("strategy-discussion", POLICE), run.view("strategy-discussion", PARTNER)
    assert police
    assert partner
    assert (police["rag"], police["stage"]) == ("GREEN", "STRATEGY_DISCUSSION")
    # The hospital answered twice (at Green, and again for the strategy discussion): two injuries.
    injuries = {
        (a["attendance_date"], a["injury"])
        for p in _released(police, "health_summary")
        for a in p.get("emergency_attendances", [])
    }
    assert len(injuries) == 2
    assert all(injury for _, injury in injuries)
    assert expect.released(partner) == {"identity", "contact"}
    rows = await _trail(run, "strategy-discussion")
    releases = [
        r
        for r in rows
        if r["subscriber"] == POLICE and r["category"] == "health_summary" and r["outcome"] == "RELEASE"
    ]
    assert releases
    assert {(r["rule_id"], r["purpose"]) for r in releases} == {
        ("R-POLICE-S47-HEALTH", "STRATEGY_DISCUSSION")
    }
    assert all("Art 9(2)(g)" in r["lawful_basis"] for r in releases)


def _payloads(view: dict[str, Any]) -> str:
    return json.dumps([s["payload"] for sections in view["contributions"].values() for s in sections])


_REFUGE = ("EX4 6SW", "100040199218", "Blackboy Road", "Southernhay", "St Sidwell")


def test_a_fled_victim_is_located_by_children_s_social_care_alone(run: Run) -> None:
    """Under a confidential-address marker, addresses, postcodes, property references, a new GP and a new
    school are withheld from every desk a rule does not allow (DOMAIN "Victims who have fled")."""
    csc = run.view("fled-victim", CSC)
    assert csc is not None
    assert all(value in _payloads(csc) for value in _REFUGE)
    # The child's own words travel sealed in the referral's details; the clear body says only that they
    # were recorded, and that the referrer judged the risk immediate (the most urgent timescale).
    (concern,) = [c for p in _released(csc, "referral_details") for c in p["concerns"]]
    assert concern["child_voice"] == run.scenarios["fled-victim"].child_voice
    assert (csc["referral"]["child_voice_recorded"], csc["referral"]["immediate_risk"]) == (True, True)
    for sub in (POLICE, HEALTH):
        view = run.view("fled-victim", sub)
        assert view is not None
        # Nor by a screening answer: the school's would name the new school.
        found = [value for value in _REFUGE if value in _payloads(view)]
        assert found == [], (sub, found)
        assert "SYS-CONFIDENTIAL-ADDRESS" in _rules(view, "address")
    for sub in (CSC, POLICE, HEALTH):
        view = run.view("fled-victim", sub)
        assert view is not None
        assert "07700 900512" not in json.dumps(view)  # the safe contact details, never released


def test_a_professional_referrer_is_known_to_children_s_social_care_at_screening(run: Run) -> None:
    """A professional cannot refer anonymously; asking that the family is not told is about the family,
    not the MASH (DOMAIN "Professional and public referrers")."""
    csc = run.view("professional-referrer", CSC)
    assert csc is not None
    assert csc["stage"] == "SCREENING"
    (referrer,) = [r for p in _released(csc, "referrer_identity") for r in p["referrers"]]
    assert referrer["organisation"] == "Rolle Medical Partnership"
    assert csc["referral"]["referrer_anonymity_from_family"] is True
    for sub in (POLICE, HEALTH):
        view = run.view("professional-referrer", sub)
        assert view is not None
        assert "Nair" not in json.dumps(view)


def test_a_public_referrer_is_known_only_to_the_s47_enquiry(run: Run) -> None:
    csc = run.view("public-referrer", CSC)
    assert csc is not None
    assert csc["stage"] == "S47"
    assert "Lethbridge" in json.dumps(_released(csc, "referrer_identity"))
    for sub in (POLICE, HEALTH):
        view = run.view("public-referrer", sub)
        assert view is not None
        assert "Lethbridge" not in json.dumps(view)
        assert _rules(view, "referrer_identity") == {"SYS-REDACTED"}


async def test_a_gillick_competent_young_person_decides_for_herself(run: Run) -> None:
    """Consent belongs to a person: her refusal decides what is about her, her mother's agreement what is
    about her mother and brother (DOMAIN "Consent, per person")."""
    partner = run.view("young-person-refuses", PARTNER)
    assert partner is not None
    about = {
        (s["subject_ref"], s["category"]) for sections in partner["contributions"].values() for s in sections
    }
    assert {c for ref, c in about if ref == "S2"} <= {"identity", "contact"}
    assert ("S1", "education_attendance") in about
    assert ("S3", "housing") in about
    rows = await _trail(run, "young-person-refuses")
    refusals = {
        r["category"] for r in rows if r["subscriber"] == PARTNER and r["rule_id"] == "SYS-CONSENT-REFUSED"
    }
    assert "education_attendance" in refusals
    assert all(
        "by S2" in r["consent_state"]
        for r in rows
        if r["subscriber"] == PARTNER and r["rule_id"] == "SYS-CONSENT-REFUSED"
    )


def test_screening_answers_and_identifiers_are_scoped_to_what_each_desk_may_know(run: Run) -> None:
    """A team's name can reveal what its data would (DOMAIN "Who a screening answer may tell what"); the UPN
    is for education use only, the PNC ID for the police."""
    scenario = run.scenarios["scoped-answers"]
    views = {sub: run.view("scoped-answers", sub) for sub in (CSC, POLICE, HEALTH, PARTNER)}
    text = {sub: json.dumps(v) for sub, v in views.items()}
    assert "drug and alcohol" in text[CSC]
    assert "probation delivery unit" in text[CSC]
    assert "drug and alcohol" not in text[POLICE]
    assert "probation delivery unit" not in text[HEALTH]
    assert "drug and alcohol" not in text[PARTNER]
    assert "probation delivery unit" not in text[PARTNER]
    upn = scenario.person("tapp.child").upn
    pnc = scenario.person("tapp.mother").pnc
    assert upn
    assert pnc
    assert all(upn not in t for t in text.values())
    digits = pnc.split("/")[1]
    assert [sub for sub, t in text.items() if digits in t] == [POLICE]


def test_the_person_index_shows_a_re_referral_and_a_previous_child_removed(run: Run) -> None:
    """A referral within 12 months of another about the same child is a re-referral (children-in-need
    census); only the front door keeps the index."""
    first, again = run.view("first-contact", CSC), run.view("re-referral", CSC)
    assert first
    assert again
    assert "re_referral_within_12_months" not in expect.flags(first)
    assert {"re_referral_within_12_months", "previous_child_removed"} <= expect.flags(again)
    added = [s for s in again["subjects"] if s["subject_ref"] == "S3"]
    assert added
    assert added[0].get("added_at")
    for sub in (POLICE, HEALTH):
        view = run.view("re-referral", sub)
        assert view is not None
        assert "re_referral_within_12_months" not in expect.flags(view)


def _needles(run: Run) -> Needles:
    values = [("personal data", v) for v in sensitive_values(run.dir / "sources")]
    values += [("referrer", v) for s in run.scenarios.values() for v in s.extra_sensitive]
    return Needles(values)


def test_no_personal_data_in_plaintext_on_any_topic(run: Run) -> None:
    needles = _needles(run)
    result = scan_sync(run.kafka, needles)
    assert result.topics >= 19
    assert result.records > 500
    assert result.hits == []


async def test_the_scan_finds_a_name_that_leaks(run: Run) -> None:
    """The scan above can fail: a record carrying a scenario person's name in the clear is found."""
    person = run.scenarios["domestic-abuse"].person("da.boy")  # a short name: Noah Marsh
    leak = run.kafka.model_copy(update={"topic_prefix": f"{run.kafka.topic_prefix}-leak"})
    topic = f"{leak.topic_prefix}.scratch"
    await ensure_topics(leak, [TopicSpec(topic, partitions=1)])
    async with Producer(leak) as producer:
        await producer.send_and_wait(topic, f"note: {person.given_names} {person.family_name}".encode())
    result = await scan(leak, _needles(run))
    assert [h.where for h in result.hits] == ["value"]


def test_prometheus_scraped_every_service_of_the_run(run: Run) -> None:
    """The demo's Prometheus, started again on the run's data, answers for the run through its HTTP API."""
    info = json.loads((run.dir / "run.json").read_text())["prometheus"]
    at = info["observed_at"]
    prom = LocalPrometheus(Path(info["data"]), progress=lambda _: None)
    prom.start([])
    try:
        up = {s["metric"]["jigsaw_service"]: s["value"][1] for s in prom.query('up{job=~"jigsaw-.*"}', at)}
        services = {"broker", *(f"hub-{s}" for s in SUBSCRIBERS), *(f"connector-{a}" for a in AGENCIES)}
        assert up == dict.fromkeys(services, "1")
        ready = {s["metric"]["service"]: s["value"][1] for s in prom.query("jigsaw_ready", at)}
        assert ready == dict.fromkeys(services, "1")
        # The series the dashboards and alerts stand on, each with the run's data in it.
        assert prom.value("sum(jigsaw_hub_end_to_end_seconds_count)", at) >= len(run.referrals)
        outcomes = {s["metric"]["outcome"] for s in prom.query("jigsaw_broker_decisions_total", at)}
        assert {"RELEASE", "WITHHOLD"} <= outcomes
        lag = prom.query('jigsaw_consumer_lag{service="broker"}', at)
        assert {s["metric"]["partition"] for s in lag} >= {"0"}
        assert all(s["value"][1] == "0" for s in lag)  # caught up by the end
        days = prom.query("jigsaw_key_expiry_days", at)
        participants = set(load_roster(POLICY).participants)
        assert {
            s["metric"]["participant"] for s in days if s["metric"]["service"] == "broker"
        } >= participants
        assert all(364 < float(s["value"][1]) <= 365 for s in days)
        routes = {s["metric"]["route"] for s in prom.query("jigsaw_hub_outcomes_total", at)}
        assert routes
        assert prom.value("max(time() - jigsaw_broker_audit_checkpoint_timestamp_seconds)", at) < 600
    finally:
        prom.stop()
