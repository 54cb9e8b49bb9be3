"""Check-digit validation and canonical forms for NHS numbers, UPNs, PNC IDs and NINOs.

Every ``normalise_*`` returns the canonical form, or ``None`` when the text is malformed or fails its check:
an identifier that is not valid must never be used for an exact match.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s-]+")


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", text).upper()


# --- NHS number -------------------------------------------------------------------------------------------
# NHS Data Model and Dictionary, "NHS Number": 10 digits, the tenth a modulus 11 check digit.

_NHS = re.compile(r"[0-9]{10}")  # not \d, which also accepts non-ASCII digits


def nhs_check_digit(first9: str) -> int | None:
    """The check digit for the first nine digits, or ``None`` when no check digit exists (remainder 10)."""
    if not re.fullmatch(r"[0-9]{9}", first9):
        raise ValueError("need exactly nine ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first9, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return None
    return 0 if check == 11 else check


def normalise_nhs(text: str) -> str | None:
    """Ten digits with spaces and hyphens removed, or ``None`` if malformed or failing the check."""
    compact = _compact(text)
    # Every repdigit (0000000000, 9999999999...) passes mod 11; they are placeholders, never a person.
    if not _NHS.fullmatch(compact) or len(set(compact)) == 1:
        return None
    return compact if nhs_check_digit(compact[:9]) == int(compact[9]) else None


# --- UPN --------------------------------------------------------------------------------------------------
# DfE, "Unique Pupil Numbers (UPNs): A guide for schools and local authorities", check letter algorithm
# (also the Common Basic Data Set validation rule 1510): characters 2-13 are weighted 2..13; a letter in
# character 13 (a temporary UPN) counts as its index in the table below; the weighted sum mod 23 indexes the
# same table for the check letter. I, O and S are never used.

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_REST = re.compile(r"[0-9]{11}[0-9ABCDEFGHJKLMNPQRTUVWXYZ]")


def upn_check_letter(rest12: str) -> str:
    """The check letter for characters 2-13 (11 digits, then a digit or a temporary UPN's letter)."""
    if not _UPN_REST.fullmatch(rest12):
        raise ValueError("need 11 digits then a digit or a UPN letter")
    total = sum(weight * _upn_value(char) for weight, char in enumerate(rest12, start=2))
    return UPN_LETTERS[total % 23]


def _upn_value(char: str) -> int:
    return int(char) if char.isdigit() else UPN_LETTERS.index(char)


def normalise_upn(text: str) -> str | None:
    """The 13-character upper-case UPN, or ``None`` if malformed or the check letter is wrong."""
    compact = _compact(text)
    if len(compact) != 13 or not _UPN_REST.fullmatch(compact[1:]):
        return None
    return compact if upn_check_letter(compact[1:]) == compact[0] else None


# --- PNC ID -----------------------------------------------------------------------------------------------
# Police National Computer ID, as in the criminal justice data standards: the 2-digit year and the 7-digit
# zero-padded serial read as one 9-digit number, mod 23, index into the table below (0 = Z, 1 = A...).
# Accepts a 4-digit year (1979/0163001B) and an unpadded serial (79/163001B), as police systems print both.

_PNC_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
_PNC = re.compile(r"(?:19|20)?([0-9]{2})/([0-9]{1,7})([A-Z])")


def pnc_check_char(year: int, serial: int) -> str:
    """The check character for a 2-digit year (0-99) and a serial number (0-9999999)."""
    if not (0 <= year <= 99 and 0 <= serial < 10**7):
        raise ValueError("year or serial out of range")
    return _PNC_LETTERS[int(f"{year:02d}{serial:07d}") % 23]


def normalise_pnc(text: str) -> str | None:
    """Canonical ``YY/NNNNNNNX`` (serial zero-padded to 7), or ``None`` if malformed or failing the check."""
    found = _PNC.fullmatch(_compact(text))
    if found is None:
        return None
    year, serial, check = int(found[1]), int(found[2]), found[3]
    return f"{year:02d}/{serial:07d}{check}" if pnc_check_char(year, serial) == check else None


# --- National Insurance number ----------------------------------------------------------------------------
# HMRC National Insurance Manual NIM39110: no check digit, so only the format is validated. D, F, I, Q, U, V
# are never prefix letters, O never the second; BG, GB, KN, NK, NT, TN and ZZ are not allocated (TN and ZZ
# mark temporary or unknown numbers, which many people share). The suffix is A-D.

_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]")


def normalise_ni(text: str) -> str | None:
    """The nine-character upper-case NINO without spaces, or ``None`` if it is not an allocatable format."""
    compact = _compact(text)
    return compact if _NINO.fullmatch(compact) else None
