"""Identifiers for the synthetic town, each unique and valid, and never one a scenario person already has.

The generators of single valid values (``make_*``) live here, beside the allocator, because only the town
and the tests make identifiers; the SDK, which agencies deploy, only validates them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from connectors.sdk.identifiers import (
    UPN_LETTERS,
    nhs_check_digit,
    normalise_nhs,
    normalise_pnc,
    normalise_upn,
    pnc_check_char,
    upn_check_letter,
)

_NHS_SPACE = 10**6  # the 999 range: "999" and six digits, then the check digit


class IdentifiersExhausted(ValueError):
    """The town is larger than a synthetic identifier range can number."""


class Allocator:
    """Hands out NHS numbers, UPNs and PNC IDs in a fixed order for a seed, skipping ``reserved`` ones."""

    def __init__(self, seed: int, reserved: Iterable[str] = ()) -> None:
        rng = random.Random(f"identifiers:{seed}")  # noqa: S311 - synthetic data, seeded on purpose
        # An affine walk over the range visits every number once, in an order that looks random.
        self._step = rng.randrange(100_001, _NHS_SPACE, 2)
        while self._step % 5 == 0:
            self._step += 2
        self._offset = rng.randrange(_NHS_SPACE)
        self._next_nhs = 0
        self._reserved = {_canonical(value) for value in reserved}
        self._upn_serial: dict[tuple[int, int, int], int] = {}
        self._pnc_rng = random.Random(f"pnc:{seed}")  # noqa: S311

    def nhs(self) -> str:
        while self._next_nhs < _NHS_SPACE:
            n = (self._next_nhs * self._step + self._offset) % _NHS_SPACE
            self._next_nhs += 1
            first9 = f"999{n:06d}"
            check = nhs_check_digit(first9)
            value = f"{first9}{check}"
            if check is not None and len(set(value)) > 1 and value not in self._reserved:
                return value
        raise IdentifiersExhausted("the synthetic NHS number range holds about 900,000 people; ask for fewer")

    def upn(self, la_code: int, estab: int, year: int) -> str:
        """The next UPN a school issues in an admission year (serials count up, as a MIS allocates them)."""
        while True:
            key = (la_code, estab, year % 100)
            serial = self._upn_serial.get(key, 0)
            if serial > 999:
                estab = (estab + 1) % 10_000  # a full year spills to the neighbouring number
                continue
            self._upn_serial[key] = serial + 1
            rest = f"{la_code:03d}{estab:04d}{year % 100:02d}{serial:03d}"
            value = upn_check_letter(rest) + rest
            if value not in self._reserved:
                return value

    def pnc(self, year: int) -> str:
        while True:
            value = make_pnc(self._pnc_rng, year)
            if value not in self._reserved:
                self._reserved.add(value)
                return value


def _canonical(value: str) -> str:
    """A reserved identifier in the form this allocator issues, whatever format the scenario wrote."""
    for normalise in (normalise_nhs, normalise_upn, normalise_pnc):
        found = normalise(value)
        if found is not None:
            return found
    return value.replace(" ", "").upper()


def make_nhs(rng: random.Random) -> str:
    """A valid synthetic NHS number in the 999 range, which is reserved for testing and never issued."""
    while True:
        first9 = f"999{rng.randrange(10**6):06d}"
        check = nhs_check_digit(first9)
        candidate = f"{first9}{check}"
        if check is not None and normalise_nhs(candidate) == candidate:
            return candidate


def make_upn(rng: random.Random, la_code: int, estab: int, year: int, *, temporary: bool = False) -> str:
    """A valid synthetic UPN; a temporary one ends in a letter instead of the last serial digit."""
    if not (0 <= la_code <= 999 and 0 <= estab <= 9999 and 0 <= year <= 99):
        raise ValueError("LA code, establishment number or year out of range")
    if temporary:
        serial = f"{rng.randrange(100):02d}{rng.choice(UPN_LETTERS)}"
    else:
        serial = f"{rng.randrange(1000):03d}"
    rest = f"{la_code:03d}{estab:04d}{year:02d}{serial}"
    return upn_check_letter(rest) + rest


def make_pnc(rng: random.Random, year: int) -> str:
    """A valid synthetic PNC ID in canonical form for a 2-digit year."""
    serial = rng.randrange(1, 10**7)
    return f"{year % 100:02d}/{serial:07d}{pnc_check_char(year % 100, serial)}"
