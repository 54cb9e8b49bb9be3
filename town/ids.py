"""Identifiers for the synthetic town, each unique and valid, and never one a scenario person already has."""

from __future__ import annotations

import random
from collections.abc import Iterable

from connectors.sdk.identifiers import (
    make_pnc,
    nhs_check_digit,
    normalise_nhs,
    normalise_pnc,
    normalise_upn,
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
