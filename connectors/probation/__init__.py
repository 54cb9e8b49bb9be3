"""The probation reference connector, over an nDelius-like case management database
(deploy/connectors/probation.yaml): supervision, MAPPA, risk of serious harm, licence conditions.
MAPPA data is controlled by its originator; the policy says who may see it. Being known to probation at
all is probation's fact, so every contact travels as ``contact_probation`` (deploy/connectors/probation.yaml
``contacts``); the PNC ID as ``identifier_pnc`` and the case reference number as ``identifier_local``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Blank, JsonList, OptDate, OptStr

DELIUS = "probation case management system (nDelius)"

RiskLevel = Literal["LOW", "MEDIUM", "HIGH", "VERY_HIGH", "NOT_ASSESSED"]


class Contact(records.Contact):
    source_system: ClassVar[str] = DELIUS

    agency: str = "probation"


class Supervision(records.UkSourceRecord):
    list_field: ClassVar[str] = "records"
    source_system: ClassVar[str] = DELIUS

    mappa_category: Annotated[Literal["CATEGORY_1", "CATEGORY_2", "CATEGORY_3", "UNKNOWN"] | None, Blank] = (
        None
    )
    mappa_level: Annotated[Literal["LEVEL_1", "LEVEL_2", "LEVEL_3", "UNKNOWN"] | None, Blank] = None
    custody_status: Literal[
        "IN_CUSTODY",
        "REMANDED",
        "ON_LICENCE",
        "POST_SENTENCE_SUPERVISION",
        "COMMUNITY_ORDER",
        "SUSPENDED_SENTENCE",
        "NOT_SUPERVISED",
        "UNKNOWN",
    ]
    release_date: OptDate = None
    sentence_end_date: OptDate = None
    offence_type: str
    registered_sex_offender: bool
    rosh_level: RiskLevel
    rosh_to_children: Annotated[RiskLevel | None, Blank] = None
    licence_conditions: JsonList = Field(default_factory=list)
    approved_premises: OptStr = None
    exclusion_zones: JsonList = Field(default_factory=list)
    offender_manager_role: str


class ProbationConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(DELIUS, "identifier_pnc", "identifier_local"),
        "contact": Contact,
        "probation": Supervision,
    }
