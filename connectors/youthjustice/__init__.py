"""The youth justice reference connector, over the youth justice service's case management database
(deploy/connectors/youthjustice.yaml): allocations and assessments, court orders, interventions and
out-of-court disposals. Being known to youth justice is youth justice's fact, so every contact travels as
``contact_youth_justice``; the YOT number as ``identifier_local``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Blank, Date, JsonList, OptDate, OptStr

YJ_SYSTEM = "youth justice case management system"

RiskLevel = Literal["LOW", "MEDIUM", "HIGH", "VERY_HIGH", "NOT_ASSESSED"]


class Contact(records.Contact):
    source_system: ClassVar[str] = YJ_SYSTEM

    agency: str = "youthjustice"


class Allocation(records.UkSourceRecord):
    list_field: ClassVar[str] = "allocations"
    source_system: ClassVar[str] = YJ_SYSTEM

    case_worker_role: str
    team: OptStr = None
    rosh_level: Annotated[RiskLevel | None, Blank] = None
    safety_wellbeing_level: Annotated[RiskLevel | None, Blank] = None


class Order(records.UkSourceRecord):
    list_field: ClassVar[str] = "orders"
    source_system: ClassVar[str] = YJ_SYSTEM

    order_type: Literal[
        "REFERRAL_ORDER",
        "YOUTH_REHABILITATION_ORDER",
        "DETENTION_AND_TRAINING_ORDER",
        "LONG_TERM_DETENTION",
        "REPARATION_ORDER",
        "CRIMINAL_BEHAVIOUR_ORDER",
        "OTHER",
    ]
    start_date: Date
    end_date: OptDate = None
    offence: OptStr = None
    requirements: JsonList = Field(default_factory=list)


class Intervention(records.UkSourceRecord):
    list_field: ClassVar[str] = "interventions"
    source_system: ClassVar[str] = YJ_SYSTEM

    intervention_type: str
    start_date: OptDate = None
    end_date: OptDate = None
    engagement: Literal["ENGAGED", "PARTIALLY_ENGAGED", "DISENGAGED", "NOT_KNOWN"]


class OutOfCourtDisposal(records.UkSourceRecord):
    list_field: ClassVar[str] = "out_of_court_disposals"
    source_system: ClassVar[str] = YJ_SYSTEM

    disposal_type: Literal[
        "COMMUNITY_RESOLUTION", "OUTCOME_22", "YOUTH_CAUTION", "YOUTH_CONDITIONAL_CAUTION", "OTHER"
    ]
    disposal_date: Date
    offence: str
    conditions: OptStr = None


class YouthJusticeConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(YJ_SYSTEM, "identifier_local"),
        "contact": Contact,
        "youth_justice.allocations": Allocation,
        "youth_justice.orders": Order,
        "youth_justice.interventions": Intervention,
        "youth_justice.out_of_court_disposals": OutOfCourtDisposal,
    }
