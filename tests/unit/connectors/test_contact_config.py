"""A connector's configuration says which category each contact travels as, and is checked when it loads;
each reference connector can emit only what its participant ``publishes`` in the agreement. Each test
names the rule it checks and where the rule comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.config import ConnectorConfig, check_payload_lists, load_config
from connectors.sdk.contacts import ContactRouting
from connectors.sdk.records import Address
from jigsaw.errors import ConfigError
from jigsaw.roster import load_roster
from jigsaw.wire.categories import CATEGORIES, CONTACT_REVEALS
from jigsaw.wire.codec import SchemaRegistry

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy" / "connectors"
POLICY = REPO / "deploy" / "policy" / "devon-mash.yaml"
AGENCIES = ("police", "health", "education", "socialcare", "probation", "youthjustice", "housing")


def _write(tmp_path: Path, contacts: dict[str, Any]) -> Path:
    doc = yaml.safe_load((DEPLOY / "police.yaml").read_text())
    doc["contacts"] = contacts
    path = tmp_path / "police.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_contact_mapping_naming_an_unknown_category_is_refused_when_the_config_loads(
    tmp_path: Path,
) -> None:
    # A scoped contact travels as contact_<category>, one of the categories a screening answer can reveal
    # (jigsaw/wire/categories.py CONTACT_REVEALS). A misspelt one would send every such contact plain, to
    # every desk: it is refused at load, naming the field and what it may be.
    path = _write(tmp_path, {"reveals": [{"category": "mental_heath", "match": ["CAMHS"]}]})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "contacts.reveals.0.category" in message
    assert "'mental_heath' is not a category a screening answer can reveal" in message
    assert "mental_health" in message, "the categories it may be are listed"


@pytest.mark.parametrize(
    ("contacts", "field"),
    [
        ({"default": "housing"}, "contacts.default"),
        ({"reveals": [{"category": "probation", "match": []}]}, "contacts.reveals.0.match"),
        ({"reveals": [{"category": "probation"}]}, "contacts.reveals.0.match"),
        ({"route": {"contact_role": "Duty officer"}}, "contacts.route.contact_team"),
        ({"reveal": []}, "contacts.reveal"),
    ],
)
def test_a_contact_mapping_that_cannot_be_followed_is_refused_by_field(
    tmp_path: Path, contacts: dict[str, Any], field: str
) -> None:
    # The same rule: a mapping the connector cannot apply as written stops it before it answers anything.
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(_write(tmp_path, contacts))


def test_the_default_mapping_keeps_every_contact_plain() -> None:
    # The sane default: an agency whose team names reveal nothing beyond the agency (tenancy services)
    # configures nothing, and its contacts stay the plain screening answer.
    routing = ContactRouting()
    assert routing.category({"agency": "housing", "contact_team": "Exeter tenancy services"}) == "contact"
    assert routing.categories() == {"contact"}


@pytest.mark.parametrize("agency", AGENCIES)
def test_a_reference_connector_emits_only_what_its_participant_publishes(agency: str) -> None:
    # deploy/policy/devon-mash.yaml participants.<id>.publishes: the broker refuses a return with any
    # other category (UnauthorizedSender, before any state), so a connector must never produce one.
    config = load_config(DEPLOY / f"{agency}.yaml")
    publishes = set(load_roster(POLICY).participants[config.participant_id].publishes)
    emits = config.categories()
    assert emits <= publishes, sorted(emits - publishes)
    assert emits <= set(CATEGORIES)
    assert "identity" in emits
    assert "address" in emits


# A team's or service's name as a contact row holds it, and the category deploy/connectors/<agency>.yaml
# sends it as. DOMAIN.md "Who a screening answer may tell what": a sex-offender management team, a drug and
# alcohol service, a sexual health clinic or CAMHS reveals what its data would.
ROUTES = [
    ("police", "MASH police desk", "contact"),
    ("police", "Torbay MOSOVO team", "contact_police_intelligence"),
    ("police", "ViSOR unit", "contact_police_intelligence"),
    ("police", "Force intelligence bureau", "contact_police_intelligence"),
    ("police", "Exeter neighbourhood team", "contact"),
    ("health", "Safeguarding children team", "contact"),
    ("health", "Exeter CAMHS", "contact_mental_health"),
    ("health", "Plymouth community mental health team", "contact_mental_health"),
    ("health", "Torbay drug and alcohol service", "contact_mental_health"),
    ("health", "Royal Devon and Exeter Hospital maternity unit", "contact_health_summary"),
    ("health", "Sexual health clinic", "contact_health_summary"),
    ("socialcare", "Children's services front door", "contact"),
    ("socialcare", "Exeter children's social work team", "contact_social_care_history"),
    ("socialcare", "Plymouth children in care team", "contact_social_care_history"),
    ("probation", "Exeter probation delivery unit", "contact_probation"),
    ("youthjustice", "Mid Devon youth justice service", "contact_youth_justice"),
    ("housing", "Exeter tenancy services", "contact"),
    # A school's name locates a pupil who has fled (policy contact_education_attendance, locating): every
    # education contact is the attendance data's own, whatever it is called.
    ("education", "Isca Academy safeguarding lead", "contact_education_attendance"),
    ("education", "Education safeguarding team", "contact_education_attendance"),
]


@pytest.mark.parametrize(("agency", "team", "category"), ROUTES)
def test_each_reference_connector_routes_a_revealing_team_to_its_scoped_contact(
    agency: str, team: str, category: str
) -> None:
    routing = load_config(DEPLOY / f"{agency}.yaml").contacts
    assert routing.category({"agency": agency, "contact_team": team}) == category


def test_educations_plain_answer_is_the_local_authoritys_route_and_names_no_school() -> None:
    # deploy/connectors/education.yaml: a pupil known to education gets the plain answer too, so that a desk
    # that may not learn the school still learns that education knows the child and whom to call; it is
    # the local authority's team, which locates no one.
    routing = load_config(DEPLOY / "education.yaml").contacts
    assert routing.categories() == {"contact", "contact_education_attendance"}
    school = {
        "kind": "FACT",
        "known": True,
        "agency": "education",
        "contact_team": "Isca Academy",
        "contact_role": "Designated Safeguarding Lead",
        "contact_email": "dsl@isca.example",
        "currently_open": True,
        "recorded_on": 20000,
    }
    routed = routing.route_items("education", [school])
    assert routed["contact_education_attendance"] == [school]
    (plain,) = routed["contact"]
    assert plain["contact_team"] == "Devon education safeguarding team"
    assert "isca" not in str(plain).casefold(), "the plain answer must not name the school"
    assert plain["currently_open"] is None, "whether the pupil is on roll is the attendance data's fact"


def test_an_email_or_role_that_names_the_service_scopes_the_contact_too() -> None:
    # A contact's email address or role can name the team as plainly as its team field does.
    routing = load_config(DEPLOY / "police.yaml").contacts
    assert routing.category(
        {"agency": "police", "contact_email": "exeter-mosovo-team@police.devon.example"}
    ) == ("contact_police_intelligence")
    assert routing.category({"agency": "police", "contact_role": "Sex offender manager"}) == (
        "contact_police_intelligence"
    )


def test_the_scoped_contacts_are_the_wire_categories_the_policy_scopes() -> None:
    # jigsaw/wire/categories.py: contact_<c> for each c a screening answer can reveal, on the Contact schema.
    for c in CONTACT_REVEALS:
        assert CATEGORIES[f"contact_{c}"].schema == "jigsaw.payload.Contact"


class _OldIdentity(Connector):
    # Written for Identity v1, which carried the addresses itself.
    records: ClassVar[dict[str, type[SourceRecord]]] = {"identity.addresses": Address}


def test_a_records_key_for_a_list_the_payload_no_longer_has_is_named_at_start(
    registry: SchemaRegistry,
) -> None:
    # Identity v2 (schemas/payload/Identity.v2.avsc) has no identifiers or addresses: a connector still
    # filling them would fail every enquiry when it seals; it is stopped at start with the reason instead.
    with pytest.raises(ConfigError, match=r"'identity\.addresses'.*addresses as address"):
        check_payload_lists(_OldIdentity, registry)
    for agency in AGENCIES:
        check_payload_lists(load_config(DEPLOY / f"{agency}.yaml").connector_class(), registry)


class BadMarker(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {"confidential_addresses": Address}


def test_a_marker_key_must_hold_a_marker_model(tmp_path: Path) -> None:
    # A marker goes in the return's clear body, so it must be nothing but a subject and a scope
    # (IntelReturn.v3 ConfidentialAddress): any other model under the markers key is refused at load.
    doc = yaml.safe_load((DEPLOY / "housing.yaml").read_text())
    doc["connector"] = f"{__name__}:BadMarker"
    config = ConnectorConfig.model_validate(doc)
    with pytest.raises(ConfigError, match="must be a ConfidentialAddress model"):
        config.connector_class()
