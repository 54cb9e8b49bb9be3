"""Where the synthetic town lives: Devon towns and their postcode districts, streets, schools, GP practices
and the public services that cover each area. Institutions are fictional or generic; phone numbers are
from Ofcom's ranges reserved for drama (01632 960xxx, 07700 900xxx), so none of them rings anyone."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from town.model import Address

# Town, postcode districts, relative population, local authority (code, name), area.
TOWNS: tuple[tuple[str, tuple[str, ...], int, int, str], ...] = (
    ("Exeter", ("EX1", "EX2", "EX4"), 130, 878, "Exeter"),
    ("Topsham", ("EX3",), 6, 878, "Exeter"),
    ("Exmouth", ("EX8",), 35, 878, "Exeter"),
    ("Budleigh Salterton", ("EX9",), 6, 878, "Exeter"),
    ("Sidmouth", ("EX10",), 13, 878, "Exeter"),
    ("Honiton", ("EX14",), 12, 878, "Exeter"),
    ("Axminster", ("EX13",), 6, 878, "Exeter"),
    ("Cullompton", ("EX15",), 9, 878, "Mid Devon"),
    ("Tiverton", ("EX16",), 20, 878, "Mid Devon"),
    ("Crediton", ("EX17",), 8, 878, "Mid Devon"),
    ("Okehampton", ("EX20",), 7, 878, "Mid Devon"),
    ("Dawlish", ("EX7",), 13, 878, "South Devon"),
    ("Barnstaple", ("EX31", "EX32"), 32, 878, "North Devon"),
    ("Ilfracombe", ("EX34",), 11, 878, "North Devon"),
    ("Bideford", ("EX39",), 18, 878, "North Devon"),
    ("Teignmouth", ("TQ14",), 15, 878, "South Devon"),
    ("Newton Abbot", ("TQ12",), 26, 878, "South Devon"),
    ("Torquay", ("TQ1", "TQ2"), 65, 880, "Torbay"),
    ("Paignton", ("TQ3", "TQ4"), 50, 880, "Torbay"),
    ("Brixham", ("TQ5",), 17, 880, "Torbay"),
    ("Dartmouth", ("TQ6",), 5, 878, "South Devon"),
    ("Kingsbridge", ("TQ7",), 6, 878, "South Devon"),
    ("Totnes", ("TQ9",), 8, 878, "South Devon"),
    ("Plymouth", ("PL1", "PL2", "PL3", "PL4", "PL5", "PL6", "PL7", "PL9"), 260, 879, "Plymouth"),
    ("Ivybridge", ("PL21",), 12, 878, "Plymouth"),
    ("Tavistock", ("PL19",), 13, 878, "Plymouth"),
)
AUTHORITIES = {878: "Devon County Council", 879: "Plymouth City Council", 880: "Torbay Council"}
HOSPITALS = {
    "Exeter": "Royal Devon and Exeter Hospital",
    "Mid Devon": "Royal Devon and Exeter Hospital",
    "North Devon": "North Devon District Hospital",
    "South Devon": "Torbay Hospital",
    "Torbay": "Torbay Hospital",
    "Plymouth": "Derriford Hospital",
}
COURTS = {
    "Exeter": "Exeter Magistrates' Court",
    "Mid Devon": "Exeter Magistrates' Court",
    "North Devon": "Barnstaple Magistrates' Court",
    "South Devon": "Torquay Magistrates' Court",
    "Torbay": "Torquay Magistrates' Court",
    "Plymouth": "Plymouth Magistrates' Court",
}
CROWN_COURTS = {"Plymouth": "Plymouth Crown Court"}  # elsewhere Exeter Crown Court

_STREET_STEMS_TEXT = (
    "Church Station Mill Park Queen Victoria Chapel Orchard Meadow Beech Oak Elm Ash Willow Barton "
    "Coombe Moor Tor Haldon Dart Exe Teign Taw Torridge Otter Culm Yeo Priory Abbey Castle Market "
    "Fore Bridge Ferry Harbour Quay Marine Cliff Sea Belle Vue Mount Pleasant Springfield Highfield "
    "Greenway Hillside Woodland Fairfield Kingsley Raleigh Drake Grenville Courtenay Clifford Acland "
    "Fortescue Ashburton Buckland Cowick Heavitree Pinhoe Alphington Stoke Devonport Mannamead "
    "Compton Lipson Efford Plympton Ellacombe Babbacombe Preston Goodrington Berry Chelston Shiphay "
    "Milber Wolborough Bradley Pilton Sticklepath Newport Landkey Northam Appledore Westward Lundy "
    "Clovelly Hartland Lynton Hatherleigh Chagford Widecombe Buckfast Ipplepen Denbury Kenton "
    "Starcross Cockwood Lympstone Woodbury Colyton Seaton Branscombe Ottery Feniton Talaton Silverton "
    "Bampton Uffculme Hemyock Morchard Sandford"
)
_STREET_STEMS = tuple(_STREET_STEMS_TEXT.split())
_STREET_KINDS_TEXT = (
    "Road Road Road Street Street Lane Lane Close Close Avenue Drive Way Gardens Crescent Terrace "
    "Place Rise Hill View Park Grove Court Walk Mews"
)
_STREET_KINDS = tuple(_STREET_KINDS_TEXT.split())
_BUILDINGS_TEXT = "House Court Lodge Mansions Heights Point Quay Place"
_BUILDINGS = tuple(_BUILDINGS_TEXT.split())
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters an inward code may use


@dataclass(frozen=True)
class School:
    name: str
    urn: str
    la_code: int
    estab: int
    phase: str  # PRIMARY or SECONDARY
    phone: str
    email: str


@dataclass(frozen=True)
class Practice:
    name: str
    code: str


@dataclass(frozen=True)
class Town:
    name: str
    districts: tuple[str, ...]
    weight: int
    la_code: int
    area: str
    primaries: tuple[School, ...]
    secondaries: tuple[School, ...]
    practices: tuple[Practice, ...]

    @property
    def authority(self) -> str:
        return AUTHORITIES[self.la_code]

    @property
    def hospital(self) -> str:
        return HOSPITALS[self.area]

    @property
    def court(self) -> str:
        return COURTS[self.area]


@dataclass
class Catalogue:
    """The town's fixed places, built once from the seed; addresses are handed out unique."""

    towns: tuple[Town, ...]
    streets: dict[str, tuple[str, ...]]  # district -> street names
    reserved: set[tuple[tuple[str, ...], str]] = field(default_factory=set)  # (lines, postcode) in use
    _inward: dict[tuple[str, int, int], str] = field(default_factory=dict)
    _schools: dict[str, School] = field(default_factory=dict)
    _uprn: int = 0

    @classmethod
    def build(cls, seed: int, households: int) -> Catalogue:
        rng = random.Random(f"catalogue:{seed}")  # noqa: S311 - synthetic data, seeded on purpose
        total = sum(t[2] for t in TOWNS)
        # 960000-960099 are the services' team lines (contact.py); schools take the rest.
        phones = iter(rng.sample(range(960100, 961000), 900))
        codes = iter(rng.sample(range(100, 1000), 900))
        towns, streets = [], {}
        taken: set[str] = set()
        for name, districts, weight, la_code, area in TOWNS:
            share = households * weight / total
            primaries = tuple(
                _school(rng, name, la_code, "PRIMARY", next(phones), taken)
                for _ in range(max(1, round(share / 1100)))
            )
            secondaries = tuple(
                _school(rng, name, la_code, "SECONDARY", next(phones), taken)
                for _ in range(max(1, round(share / 4000)))
            )
            practices = tuple(
                Practice(_practice_name(rng, name), f"L83{next(codes):03d}")
                for _ in range(max(1, min(8, round(share / 3000))))
            )
            towns.append(Town(name, districts, weight, la_code, area, primaries, secondaries, practices))
            for district in districts:
                count = max(40, round(share / len(districts) / 30))
                streets[district] = tuple(_street(rng) for _ in range(count))
        return cls(tuple(towns), streets)

    def school(self, name: str) -> School | None:
        if not self._schools:
            self._schools = {s.name: s for t in self.towns for s in (*t.primaries, *t.secondaries)}
        return self._schools.get(name)

    def pick_town(self, rng: random.Random) -> Town:
        return rng.choices(self.towns, weights=[t.weight for t in self.towns])[0]

    def address(self, rng: random.Random, town: Town) -> Address:
        """A new address in ``town``, not used by anyone else, with its own UPRN."""
        while True:
            district = rng.choice(town.districts)
            street_no = rng.randrange(len(self.streets[district]))
            street = self.streets[district][street_no]
            number = rng.randint(1, 160)
            if rng.random() < 0.15:
                lines: tuple[str, ...] = (
                    f"Flat {rng.randint(1, 24)}",
                    f"{street.split()[0]} {rng.choice(_BUILDINGS)}",
                    f"{number} {street}",
                )
            else:
                lines = (f"{number} {street}",)
            postcode = f"{district} {self._inward_code(rng, district, street_no, number // 40)}"
            if (lines, postcode) not in self.reserved:
                self.reserved.add((lines, postcode))
                self._uprn += 1
                # Spread over Devon's UPRN ranges rather than counting up from one.
                return Address(lines, town.name, postcode, str(100040000000 + self._uprn * 7919 % 9_999_991))

    def _inward_code(self, rng: random.Random, district: str, street: int, block: int) -> str:
        key = (district, street, block)
        if key not in self._inward:
            letters = "".join(rng.choice(_INWARD_LETTERS) for _ in range(2))
            self._inward[key] = f"{rng.randint(1, 9)}{letters}"
        return self._inward[key]


def _street(rng: random.Random) -> str:
    return f"{rng.choice(_STREET_STEMS)} {rng.choice(_STREET_KINDS)}"


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _school(rng: random.Random, town: str, la_code: int, phase: str, phone: int, taken: set[str]) -> School:
    """A school whose name no other school in the county has, so that a name finds one school."""
    while True:
        stem = rng.choice(_STREET_STEMS)
        if phase == "PRIMARY":
            kind = rng.choice(
                ("Primary School", "Community Primary School", "C of E Primary School", "Primary Academy")
            )
            name = f"St {stem}'s {kind}" if kind.startswith("C of E") else f"{stem} {kind}"
        else:
            name = rng.choice(
                (f"{town} Community College", f"{town} Academy", f"{stem} School", f"{stem} College")
            )
        if name not in taken:
            taken.add(name)
            break
    estab = rng.randrange(2000, 3999) if phase == "PRIMARY" else rng.randrange(4000, 5999)
    urn = f"{rng.randrange(110000, 150000)}"
    return School(name, urn, la_code, estab, phase, f"01632 {phone}", f"dsl@{_slug(name)}.devon.sch.example")


def _practice_name(rng: random.Random, town: str) -> str:
    stem = rng.choice(_STREET_STEMS)
    return rng.choice(
        (f"{stem} Surgery", f"{town} Medical Centre", f"{stem} Health Centre", f"The {stem} Practice")
    )
