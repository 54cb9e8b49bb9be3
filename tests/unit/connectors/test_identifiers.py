"""NHS number, UPN, PNC ID and NINO validation against published examples, and generator properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.sdk.identifiers import (
    nhs_check_digit,
    normalise_nhs,
    normalise_ni,
    normalise_pnc,
    normalise_upn,
    pnc_check_char,
    upn_check_letter,
)
from town.ids import make_nhs, make_pnc, make_upn

seeds = st.integers(min_value=0, max_value=2**32)

# --- NHS number -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9434765919", "9434765919"),  # the NHS Data Dictionary's example
        ("943-476-5870", "9434765870"),  # python-stdnum's example
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 9434765919\n", "9434765919"),
        # 4*10 + 0*9 + 1*8 + 0*7 + 2*6 + 3*5 + 2*4 + 1*3 + 3*2 = 92; 92 % 11 = 4; 11 - 4 = 7
        ("401 023 2137", "4010232137"),
        # 2*10 + 1*2 = 22; 22 % 11 = 0; 11 - 0 = 11, which becomes check digit 0
        ("2000000010", "2000000010"),
    ],
)
def test_valid_nhs_numbers_normalise_to_ten_digits(text: str, expected: str) -> None:
    assert normalise_nhs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "9434765918",  # wrong check digit
        "9434765871",
        "4010232138",
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "94347659I9",  # a letter
        "943/476/5919",
        "",
        "\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669",  # Arabic-Indic digits of 9434765919
        # 1*10 + 1*2 = 12; 12 % 11 = 1; 11 - 1 = 10: no check digit can make these valid
        "1000000010",
        "1000000011",
        # repdigits pass mod 11 but are placeholders
        "0000000000",
        "4444444444",
        "9999999999",
    ],
)
def test_invalid_nhs_numbers_are_rejected(text: str) -> None:
    assert normalise_nhs(text) is None


def test_nhs_check_digit_values() -> None:
    assert nhs_check_digit("943476591") == 9
    assert nhs_check_digit("401023213") == 7
    assert nhs_check_digit("200000001") == 0
    assert nhs_check_digit("100000001") is None


def test_no_completion_of_a_remainder_10_prefix_is_valid() -> None:
    assert [d for d in range(10) if normalise_nhs(f"100000001{d}")] == []


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "12345678a"])
def test_nhs_check_digit_refuses_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError, match="nine"):
        nhs_check_digit(bad)


@given(seeds)
def test_generated_nhs_numbers_validate_and_are_test_range(seed: int) -> None:
    nhs = make_nhs(random.Random(seed))
    assert normalise_nhs(nhs) == nhs
    assert nhs.startswith("999")


@given(seeds, st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_invalidates_an_nhs_number(seed: int, position: int, delta: int) -> None:
    nhs = make_nhs(random.Random(seed))
    changed = nhs[:position] + str((int(nhs[position]) + delta) % 10) + nhs[position + 1 :]
    assert normalise_nhs(changed) is None


@given(seeds, st.integers(min_value=0, max_value=8))
def test_transposing_adjacent_distinct_digits_invalidates_an_nhs_number(seed: int, position: int) -> None:
    nhs = make_nhs(random.Random(seed))
    a, b = nhs[position], nhs[position + 1]
    swapped = nhs[:position] + b + a + nhs[position + 2 :]
    assert (normalise_nhs(swapped) is None) == (a != b)


# --- UPN --------------------------------------------------------------------------------------------------
# B801200005001: the python-stdnum documentation's valid example. Characters 2-13 weighted 2..13:
# 8*2 + 0*3 + 1*4 + 2*5 + 0*6 + 0*7 + 0*8 + 0*9 + 5*10 + 0*11 + 0*12 + 1*13 = 93; 93 % 23 = 1 -> "B".
# 207000016049 is the worked example in school MIS vendors' guidance for CBDS rule 1510, which corrects
# B207000016049 to Q207000016049. That worked example is internally inconsistent: the sum it shows is really
# 2*2 + 7*4 + 1*9 + 6*10 + 4*12 + 9*13 = 266 (it prints 267), and 266 % 23 = 13, which its own table maps to
# P (A=0 ... H=7, J=8 ... N=12, P=13, Q=14). P207000016049 is the valid form; Q207... and B207... are not.
# Temporary N80120000500T: 8*2 + 1*4 + 2*5 + 5*10 = 80, plus T (16 in the table, not 19 as in the
# alphabet) * 13 = 208; 288 % 23 = 12 -> "N". Y80120000500Z: 80 + 22*13 = 366; 366 % 23 = 21 -> "Y".


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B801200005001", "B801200005001"),
        ("b801200005001", "B801200005001"),
        ("B 801 2000 05 001", "B801200005001"),
        ("P207000016049", "P207000016049"),
        ("N80120000500T", "N80120000500T"),
        ("Y80120000500Z", "Y80120000500Z"),
        ("M80120000500A", "M80120000500A"),  # 80 + 0*13 = 80; 80 % 23 = 11 -> M
    ],
)
def test_valid_upns(text: str, expected: str) -> None:
    assert normalise_upn(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "A801200005001",  # python-stdnum's invalid example
        "B207000016049",  # the MIS guidance's example before correction
        "Q207000016049",  # ... and after its miscalculated correction
        "F80120000500T",  # what the plain alphabet (T = 19) would give: 80 + 247 = 327; 327 % 23 = 5 -> F
        "B80120000A001",  # a letter in the middle
        "B80120000500S",  # S is never used
        "B80120000500I",
        "B80120000500",  # 12 characters
        "B8012000050011",  # 14 characters
        "1801200005001",  # no check letter
        "",
    ],
)
def test_invalid_upns(text: str) -> None:
    assert normalise_upn(text) is None


def test_upn_check_letter_values() -> None:
    assert upn_check_letter("801200005001") == "B"
    assert upn_check_letter("207000016049") == "P"
    assert upn_check_letter("80120000500T") == "N"


@pytest.mark.parametrize("bad", ["80120000500", "8012000050011", "80120000A001", "80120000500O"])
def test_upn_check_letter_refuses_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError, match="11 digits"):
        upn_check_letter(bad)


@given(
    seeds,
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=9999),
    st.integers(min_value=0, max_value=99),
    st.booleans(),
)
def test_generated_upns_validate(seed: int, la: int, estab: int, year: int, temporary: bool) -> None:
    upn = make_upn(random.Random(seed), la, estab, year, temporary=temporary)
    assert normalise_upn(upn) == upn
    assert upn[1:10] == f"{la:03d}{estab:04d}{year:02d}"
    assert upn[-1].isalpha() == temporary


@given(seeds, st.integers(min_value=1, max_value=11), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_invalidates_a_upn(seed: int, position: int, delta: int) -> None:
    upn = make_upn(random.Random(seed), 801, 2000, 24)
    changed = upn[:position] + str((int(upn[position]) + delta) % 10) + upn[position + 1 :]
    assert normalise_upn(changed) is None


@pytest.mark.parametrize(("la", "estab", "year"), [(1000, 1, 1), (1, 10000, 1), (1, 1, 100), (-1, 1, 1)])
def test_make_upn_refuses_out_of_range_parts(la: int, estab: int, year: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        make_upn(random.Random(0), la, estab, year)


# --- PNC ID -----------------------------------------------------------------------------------------------
# 98/1234567: 23 * 42662372 = 981234556 and 981234567 - 981234556 = 11, so the check character is index 11
# of ZABCDEFGHJKLMNPQRTUVWXY, "L". 79/0163001: 790163001 % 23 = 2 -> "B".
# The remaining valid examples are from the Ministry of Justice's hmpps-person-record PNC tests.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("98/1234567L", "98/1234567L"),
        ("79/163001B", "79/0163001B"),
        ("79/0163001B", "79/0163001B"),
        ("1979/0163001B", "79/0163001B"),
        ("02/73319Z", "02/0073319Z"),  # 20073319 % 23 = 0 -> Z
        ("2002/0073319Z", "02/0073319Z"),
        ("81/34U", "81/0000034U"),
        ("00/223R", "00/0000223R"),
        ("67/9893091D", "67/9893091D"),
        ("67/9893091d", "67/9893091D"),
        (" 67 / 9893091D ", "67/9893091D"),
    ],
)
def test_valid_pnc_ids(text: str, expected: str) -> None:
    assert normalise_pnc(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "98/1234567X",  # wrong check character
        "79/163001C",
        "02/9Z",  # format-only fixture elsewhere: 20000009 % 23 = 14 -> P, not Z
        "79163001B",  # no slash: the year cannot be told from the serial
        "98/12345678L",  # eight-digit serial
        "9/1234567L",  # one-digit year
        "1898/1234567L",  # only 19xx and 20xx four-digit years
        "98/L",
        "98/1234567",
        "",
    ],
)
def test_invalid_pnc_ids(text: str) -> None:
    assert normalise_pnc(text) is None


def test_pnc_check_char_values() -> None:
    assert pnc_check_char(98, 1234567) == "L"
    assert pnc_check_char(79, 163001) == "B"
    assert pnc_check_char(2, 73319) == "Z"


@pytest.mark.parametrize(("year", "serial"), [(100, 1), (-1, 1), (98, 10**7), (98, -1)])
def test_pnc_check_char_refuses_out_of_range(year: int, serial: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        pnc_check_char(year, serial)


@given(seeds, st.integers(min_value=1950, max_value=2030))
def test_generated_pnc_ids_validate_with_or_without_padding(seed: int, year: int) -> None:
    pnc = make_pnc(random.Random(seed), year)
    assert normalise_pnc(pnc) == pnc
    assert pnc[:2] == f"{year % 100:02d}"
    unpadded = f"{pnc[:3]}{int(pnc[3:10])}{pnc[10]}"
    assert normalise_pnc(unpadded) == pnc


@given(seeds, st.sampled_from([0, 1, 3, 4, 5, 6, 7, 8, 9]), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_invalidates_a_pnc_id(seed: int, position: int, delta: int) -> None:
    pnc = make_pnc(random.Random(seed), 2015)
    changed = pnc[:position] + str((int(pnc[position]) + delta) % 10) + pnc[position + 1 :]
    assert normalise_pnc(changed) is None


# --- National Insurance number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("AB123456C", "AB123456C"), ("ab 12 34 56 c", "AB123456C"), ("OA123456D", "OA123456D")],
)
def test_valid_ninos(text: str, expected: str) -> None:
    assert normalise_ni(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "QQ123456C",  # HMRC's specimen number, deliberately unallocatable
        "GB123456A",  # excluded prefix
        "TN123456A",  # temporary number
        "ZZ123456A",
        "AO123456A",  # O is never the second letter
        "DA123456A",  # D is never a prefix letter
        "AB123456E",  # suffix is A-D
        "AB12345C",
        "",
    ],
)
def test_invalid_ninos(text: str) -> None:
    assert normalise_ni(text) is None
