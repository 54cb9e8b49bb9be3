"""Social landlords' records of their tenants: tenancies, arrears and notices, anti-social behaviour; and
the refuge a household has fled to, as temporary accommodation at a confidential address."""

from __future__ import annotations

from datetime import timedelta

from town.households import Member
from town.story import Story, concerned

_LANDLORDS = ("Exe Valley Homes", "Tamar Housing Association", "Moorland Homes", "Coastline Housing Trust")
_REFUGE = "Devon domestic abuse refuge partnership"
_ASB = (
    "Noise nuisance",
    "Verbal abuse",
    "Drug-related activity",
    "Criminal damage",
    "Harassment",
    "Vehicle nuisance",
)


def housing(story: Story) -> None:
    if "social_rent" not in story.flags:
        return
    adults = story.adults()
    if not adults:
        return
    lead = adults[0]
    tenure = story.pick(
        {
            "SECURE": 50,
            "ASSURED": 25,
            "INTRODUCTORY": 8,
            "FLEXIBLE": 5,
            "TEMPORARY_ACCOMMODATION": 8 if concerned(story) else 3,
            "LICENCE": 2,
        }
    )
    council = tenure in ("SECURE", "INTRODUCTORY", "FLEXIBLE", "TEMPORARY_ACCOMMODATION")
    landlord = story.home.town.authority if council else story.rng.choice(_LANDLORDS)
    start = story.ago(60, 20 * 365, after=lead.dob + timedelta(days=18 * 365))
    if "refuge" in story.flags:
        # Placed in a refuge since the abuse: the property is flagged, so its address is withheld.
        tenure, landlord, start = "TEMPORARY_ACCOMMODATION", _REFUGE, story.ago(7, 120)
    arrears, status = 0, "NONE"
    if story.chance(0.45 if concerned(story) else 0.28):
        arrears = story.rng.randint(2_000, 300_000)
        status = story.pick({"IN_ARREARS": 60, "ARRANGEMENT_IN_PLACE": 30, "LEGAL_ACTION": 10})
    flags = [f for f, p in (("DAMP_MOULD", 0.08), ("DISREPAIR", 0.05), ("HOARDING", 0.01)) if story.chance(p)]
    if len(story.members()) > 4 and story.chance(0.4):
        flags.append("OVERCROWDING")
    if "drugs" in story.flags:
        flags += ["DRUG_ACTIVITY", "CUCKOOING_RISK"] if story.chance(0.5) else ["DRUG_ACTIVITY"]
    if "violent" in story.flags and story.chance(0.5):
        flags.append("STAFF_SAFETY")
    for member in story.members():
        story.add(
            "housing",
            member,
            "housing.tenancies",
            start,
            tenure_type=tenure,
            tenancy_start=start,
            tenancy_end=None,
            landlord=landlord,
            lead_tenant=member is lead,
            postcode=story.home.address.postcode,
            uprn=story.home.address.uprn,
            household_size=len(story.members()),
            arrears_pence=arrears,
            arrears_status=status,
            property_flags=flags,
        )
    if status == "LEGAL_ACTION":
        served = story.ago(14, 200)
        story.add(
            "housing",
            lead,
            "housing.notices",
            served,
            notice_type="NOTICE_SEEKING_POSSESSION",
            served_date=served,
            expiry_date=served + timedelta(days=28),
            grounds="Ground 10: rent arrears",
        )
    _asb(story, lead)


def _asb(story: Story, lead: Member) -> None:
    if not story.chance(0.25 if story.flags & {"offending", "drugs"} else 0.04):
        return
    older = [m for m in story.members() if m.age(story.today) >= 12]
    alleged = story.rng.choice(older)
    for _ in range(story.rng.choice((1, 1, 2, 3))):
        day = story.ago(7, 700)
        if story.chance(0.7):
            story.add(
                "housing",
                alleged,
                "housing.asb_complaints",
                day,
                "ALLEGATION",
                complaint_date=day,
                complaint_type=story.rng.choice(_ASB),
                subject_role="ALLEGED_PERPETRATOR",
                outcome=story.rng.choice(
                    ("Warning letter", "Acceptable behaviour contract", "No further action", None)
                ),
            )
        else:
            story.add(
                "housing",
                lead,
                "housing.asb_complaints",
                day,
                complaint_date=day,
                complaint_type=story.rng.choice(_ASB),
                subject_role="VICTIM",
                outcome="Case opened; neighbour spoken to",
            )
    if "drugs" in story.flags and story.chance(0.2):
        served = story.ago(7, 300)
        story.add(
            "housing",
            lead,
            "housing.notices",
            served,
            notice_type="CLOSURE_ORDER" if story.chance(0.3) else "INJUNCTION",
            served_date=served,
            expiry_date=served + timedelta(days=90),
            grounds="Anti-social behaviour: drug-related activity",
        )
