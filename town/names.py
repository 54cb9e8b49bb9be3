"""Names for the synthetic town: given names by birth decade (the most popular in England and Wales in each
decade), surnames weighted as in the South West, and the ways agencies come to spell a name differently."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence

# Birth decade -> (boys, girls), most popular first.
GIVEN: dict[int, tuple[str, str]] = {
    1930: (
        "John Peter Michael David Brian Anthony Kenneth Robert Alan Roy Ronald Dennis Derek Raymond "
        "William James George Frank Donald Leslie",
        "Margaret Joan Mary Joyce Jean Dorothy Patricia Barbara Doris Eileen Betty Sheila Audrey Kathleen "
        "Elizabeth Irene Pamela Iris Marjorie Brenda",
    ),
    1940: (
        "John David Michael Peter Robert Anthony Brian Alan William James Richard Kenneth Roger Keith "
        "Colin Christopher Raymond Barry Terence Graham",
        "Margaret Patricia Christine Mary Jean Ann Susan Janet Maureen Barbara Valerie Sheila Pauline "
        "Elizabeth Brenda Sandra Gillian Carol Jennifer Linda",
    ),
    1950: (
        "David John Peter Michael Stephen Robert Paul Alan Christopher Richard Anthony Andrew Ian Graham "
        "Keith Martin Kevin Nigel Philip Trevor",
        "Susan Linda Christine Margaret Janet Patricia Carol Elizabeth Mary Anne Jacqueline Pauline "
        "Gillian Sandra Lesley Valerie Julie Karen Angela Wendy",
    ),
    1960: (
        "Paul David Mark Andrew Richard Stephen Ian Michael Gary Peter Christopher Robert Simon Kevin Neil "
        "Darren Philip Martin Anthony John",
        "Julie Karen Susan Tracey Jacqueline Deborah Sarah Amanda Alison Nicola Joanne Helen Elizabeth "
        "Catherine Sharon Angela Lisa Dawn Claire Wendy",
    ),
    1970: (
        "Christopher James David Daniel Michael Matthew Andrew Richard Paul Mark Stuart Craig Jason Lee "
        "Darren Wayne Gareth Stephen Robert Jonathan",
        "Sarah Claire Nicola Emma Lisa Joanne Michelle Helen Samantha Karen Amanda Rachel Louise Julie "
        "Clare Rebecca Kelly Victoria Kerry Donna",
    ),
    1980: (
        "Christopher James David Daniel Michael Matthew Thomas Andrew Adam Ryan Robert Jonathan Mark "
        "Richard Lee Craig Stephen Benjamin Carl Paul",
        "Sarah Laura Gemma Emma Rebecca Claire Victoria Samantha Rachel Amy Jennifer Nicola Kirsty Hayley "
        "Lisa Stacey Kelly Natalie Louise Charlotte",
    ),
    1990: (
        "Thomas James Jack Daniel Matthew Ryan Joshua Luke Samuel Jordan Adam Michael Alexander "
        "Christopher Benjamin Joseph Liam Jake William Callum",
        "Rebecca Lauren Jessica Charlotte Hannah Sophie Amy Emily Laura Emma Chloe Sarah Megan Katie "
        "Bethany Rachel Danielle Jade Natalie Georgia",
    ),
    2000: (
        "Jack Thomas Joshua Oliver Harry James William Samuel Daniel Charlie Benjamin Joseph Callum George "
        "Jake Alfie Luke Matthew Ethan Lewis",
        "Emily Ellie Jessica Sophie Chloe Lucy Olivia Charlotte Katie Megan Grace Hannah Amy Holly Lauren "
        "Emma Molly Ella Bethany Abigail",
    ),
    2010: (
        "Oliver Harry Jack George Noah Charlie Jacob Alfie Freddie Oscar Leo Archie Thomas Joshua William "
        "James Henry Ethan Theo Isaac Alexander Max Logan Lucas Riley",
        "Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella Sophie Ivy Freya "
        "Harper Willow Charlotte Jessica Isabelle Daisy Florence Phoebe Ruby",
    ),
    2020: (
        "Noah Oliver George Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie Jack Charlie "
        "Theo Alfie Jacob Thomas Finley Arlo",
        "Olivia Amelia Isla Lily Ava Freya Ivy Florence Willow Isabella Mia Elsie Sophia Grace Evie Rosie "
        "Sienna Poppy Daisy Ella",
    ),
}

# Weighted by frequency in the South West; a long tail of Devon and Cornish names, and of families who
# came from elsewhere, keeps blocking on surname realistic.
_SURNAMES = (
    "Smith 60,Jones 30,Williams 30,Taylor 28,Brown 28,Davies 18,Evans 14,Wilson 16,Thomas 15,Johnson 14,"
    "Roberts 14,Robinson 11,Thompson 12,Wright 13,Walker 12,White 13,Edwards 12,Hughes 10,Green 12,Hall 12,"
    "Lewis 11,Harris 13,Clarke 12,Jackson 10,Wood 11,Turner 11,Martin 11,Cooper 11,Hill 12,Ward 10,"
    "Morris 10,Moore 10,Clark 10,Lee 8,King 10,Baker 11,Harrison 9,Morgan 9,Allen 9,James 9,Scott 8,"
    "Phillips 9,Watson 8,Davis 8,Parker 9,Price 7,Bennett 9,Young 8,Griffiths 6,Mitchell 9,Kelly 6,Cook 9,"
    "Carter 8,Richardson 7,Bailey 8,Collins 8,Bell 7,Shaw 7,Murphy 6,Miller 7,Cox 7,Richards 8,Marshall 7,"
    "Anderson 6,Simpson 6,Ellis 7,Adams 7,Wilkinson 5,Foster 7,Chapman 8,Powell 6,Webb 8,Rogers 7,Gray 6,"
    "Mason 7,Hunt 7,Matthews 7,Owen 6,Palmer 8,Holmes 6,Mills 7,Barnes 7,Knight 7,Lloyd 5,Butler 6,"
    "Russell 6,Barker 6,Fisher 6,Stevens 8,Jenkins 6,Dixon 5,Harvey 7,Tucker 9,Hooper 7,Pearce 8,Pascoe 5,"
    "Luxton 4,Heard 4,Quick 3,Vosper 3,Hodge 4,Yeo 4,Doidge 3,Gillard 3,Pengelly 3,Eveleigh 2,Stoneman 3,"
    "Northcott 3,Westcott 4,Dart 2,Pike 4,Crocker 4,Ley 3,Rowe 6,Sercombe 2,Bowden 4,Widdicombe 2,Coombe 3,"
    "Hockin 2,Jewell 3,Glanville 2,Mudge 2,Pearse 4,Kingdon 2,Hamlyn 3,Snell 3,Ware 4,Yelland 2,Passmore 3,"
    "Lock 4,Rendle 2,Bolt 3,Hannaford 2,Cole 6,Harding 5,Squire 3,Hext 2,Chudleigh 2,Tremlett 2,Penrose 2,"
    "Nankivell 1,Trevithick 1,Courtenay 2,Ashford 2,Tozer 3,Lang 3,Cann 3,Endacott 2,Lethbridge 2,Symons 3,"
    "O'Brien 3,O'Neill 3,O'Connor 2,McDonald 3,MacLeod 1,Campbell 4,Stewart 3,Fraser 2,Reid 3,Kennedy 3,"
    "Nowak 2,Kowalski 2,Wiśniewska 1,Lewandowski 1,Kaminski 1,Patel 3,Khan 3,Ali 2,Hussain 2,Begum 2,"
    "Singh 2,Ahmed 2,Chowdhury 1,Rahman 1,Okafor 1,Mensah 1,Adeyemi 1,Nguyen 1,Chen 1,Wong 1,da Silva 1,"
    "De Souza 1,Van der Berg 1,Ferreira 1,Santos 1,Rossi 1,Papadopoulos 1,Novak 1,Horvat 1,Popescu 1"
)
SURNAMES: tuple[str, ...] = tuple(entry.rsplit(" ", 1)[0] for entry in _SURNAMES.split(","))
_SURNAME_CUMULATIVE = list(itertools.accumulate(int(e.rsplit(" ", 1)[1]) for e in _SURNAMES.split(",")))

# Formal name -> what friends call them. An agency told "Alex" records "Alex".
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Alexander": ("Alex", "Alfie"),
    "Elizabeth": ("Beth", "Liz", "Lizzie"),
    "William": ("Will", "Bill"),
    "Robert": ("Rob", "Bob"),
    "Thomas": ("Tom", "Tommy"),
    "James": ("Jim", "Jamie"),
    "Jonathan": ("Jon",),
    "Samuel": ("Sam",),
    "Christopher": ("Chris",),
    "Benjamin": ("Ben",),
    "Matthew": ("Matt",),
    "Nicholas": ("Nick",),
    "Daniel": ("Dan", "Danny"),
    "Michael": ("Mike", "Mick"),
    "Joseph": ("Joe",),
    "Katie": ("Kate",),
    "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Vicky",),
    "Jessica": ("Jess",),
    "Abigail": ("Abbie",),
    "Charlotte": ("Lottie", "Charlie"),
    "Oliver": ("Ollie",),
    "Jennifer": ("Jenny",),
    "Henry": ("Harry",),
    "Frederick": ("Fred", "Freddie"),
    "Isabella": ("Izzy", "Bella"),
    "Eleanor": ("Ellie", "Nell"),
    "Timothy": ("Tim",),
    "Samantha": ("Sam",),
    "Margaret": ("Maggie", "Peggy"),
    "Anthony": ("Tony",),
    "Andrew": ("Andy",),
    "Stephen": ("Steve",),
    "David": ("Dave",),
    "Richard": ("Rich", "Ricky"),
    "Edward": ("Ed", "Eddie"),
    "Patrick": ("Pat",),
    "Catherine": ("Cathy",),
    "Christine": ("Chris",),
    "Theodore": ("Theo",),
    "Gemma": ("Gem",),
    "Susan": ("Sue",),
    "Deborah": ("Debbie",),
    "Jacqueline": ("Jackie",),
    "Kenneth": ("Ken",),
    "Raymond": ("Ray",),
    "Terence": ("Terry",),
    "Gareth": ("Gaz",),
    "Callum": ("Cal",),
    "Joshua": ("Josh",),
    "Lauren": ("Laurie",),
    "Isabelle": ("Izzy",),
    "Florence": ("Flo",),
    "Alfie": ("Alf",),
    "Archie": ("Arch",),
    "Jacob": ("Jake",),
    "Amelia": ("Millie",),
    "Olivia": ("Liv",),
    "Sophia": ("Sophie",),
    "Natalie": ("Nat",),
    "Benedict": ("Ben",),
    "Dorothy": ("Dot",),
    "Patricia": ("Pat", "Trish"),
    "Pamela": ("Pam",),
    "Barbara": ("Babs",),
    "Valerie": ("Val",),
    "Gillian": ("Gill",),
    "Philip": ("Phil",),
}

# The same name, spelled as parents and clerks spell it.
_SPELLINGS = (
    "Aiden Aidan Ayden; Sophie Sofie; Isabelle Isabel Isobel; Zoe Zoë Zoey; Leah Lea; Muhammad Mohammed "
    "Mohammad; Stephen Steven; Philip Phillip; Geoffrey Jeffrey; Sean Shaun Shawn; Jayden Jaden; "
    "Megan Meghan; Ellie Elly; Anne Ann; Sarah Sara; Rebecca Rebekah; Hayley Haley Hailey; "
    "Kirsty Kirstie; Katie Katy Katey; Louise Louisa; Jonathan Jonathon; Catherine Katherine Kathryn; "
    "Clare Claire; Tracey Tracy; Jacqueline Jaqueline; Nicola Nichola; Lewis Louis; Freya Freyja; "
    "Evie Evey; Ava Eva; Amelia Emilia; Isla Islay; Theo Teo; Harvey Harvie; Finley Finlay; Grace Grayce; "
    "Lily Lilly Lillie; Mia Miya; Ruby Rubie; Alison Allison; Matthew Mathew; Gemma Jemma; "
    "Jade Jayde; Chloe Chloë; Kelly Kelley; Darren Daren; Carl Karl; Craig Kraig; Lee Leigh; Neil Neal; "
    "Graham Graeme; Karen Caron; Dawn Dawne; Danielle Daniella; Jordan Jordon; Bethany Bethanie"
)
SPELLINGS: dict[str, tuple[str, ...]] = {}
for _group in _SPELLINGS.split(";"):
    _names = tuple(_group.split())
    for _name in _names:
        SPELLINGS[_name] = tuple(n for n in _names if n != _name)


def decade_of(year: int) -> int:
    return max(1930, min(2020, year // 10 * 10))


def given_name(rng: random.Random, birth_year: int, sex: str) -> str:
    """A first name popular in the birth decade; the most popular names weigh most."""
    boys, girls = GIVEN[decade_of(birth_year)]
    names = (boys if sex == "MALE" else girls).split()
    # Zipf-like: the top name is several times as common as the twentieth.
    if rng.random() < 0.5:
        return names[min(int(rng.paretovariate(1.2)) - 1, len(names) - 1)]
    return rng.choice(names)


def given_names(rng: random.Random, birth_year: int, sex: str) -> str:
    """First name and, usually, a middle name from the same era (never the same name twice)."""
    first = given_name(rng, birth_year, sex)
    if rng.random() < 0.35:
        return first
    for _ in range(5):
        middle = given_name(rng, birth_year - rng.choice((0, 20, 30)), sex)
        if middle != first:
            return f"{first} {middle}"
    return first


def surname(rng: random.Random) -> str:
    if rng.random() < 0.02:
        # Some adults carry a double-barrelled name from birth or marriage.
        return double_barrelled(rng, _one_surname(rng), _one_surname(rng))
    return _one_surname(rng)


def _one_surname(rng: random.Random) -> str:
    point = rng.random() * _SURNAME_CUMULATIVE[-1]
    return SURNAMES[bisect.bisect_right(_SURNAME_CUMULATIVE, point)]


def double_barrelled(rng: random.Random, first: str, second: str, *, hyphen: bool | None = None) -> str:
    if first == second:
        return first
    hyphen = rng.random() < 0.8 if hyphen is None else hyphen
    return f"{first}-{second}" if hyphen else f"{first} {second}"


def pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]
