"""NHS number validation and the reproducible test-range generator."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthycity.exchange.identity import nhsnumber

# NHS England's published sandbox test patients (PDS FHIR API), all valid.
PUBLISHED_TEST_PATIENTS = ["9000000009", "9000000025", "9000000033", "9449305552"]


@pytest.mark.parametrize("number", PUBLISHED_TEST_PATIENTS)
def test_published_test_patients_are_valid(number: str) -> None:
    assert nhsnumber.is_valid(number)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 9434765919 ", "9434765919"),
        ("943476591", None),
        ("94347659190", None),
        ("94347659l9", None),
        ("", None),
    ],
)
def test_normalise(value: str, expected: str | None) -> None:
    assert nhsnumber.normalise(value) == expected


def test_wrong_check_digit_is_invalid() -> None:
    assert nhsnumber.is_valid("9434765919")
    assert not nhsnumber.is_valid("9434765918")


def test_remainder_ten_has_no_valid_number() -> None:
    # When 11 - (weighted sum mod 11) is 10 there is no check digit: no number is valid.
    first_nine = next(
        f"{n:09d}"
        for n in range(100_000_000, 100_010_000)
        if nhsnumber.check_digit(f"{n:09d}") is None
    )
    assert all(not nhsnumber.is_valid(first_nine + str(d)) for d in range(10))


def test_generator_is_reproducible_distinct_and_in_test_range() -> None:
    first = nhsnumber.generate_test_numbers(500, seed=7)
    assert first == nhsnumber.generate_test_numbers(500, seed=7)
    assert first != nhsnumber.generate_test_numbers(500, seed=8)
    assert len(set(first)) == 500
    for number in first:
        assert nhsnumber.is_valid(number)
        assert nhsnumber.TEST_RANGE_START <= int(number) <= nhsnumber.TEST_RANGE_END


def _modulus_11(number: str) -> bool:
    """The NHS Data Dictionary rule, written out independently as an oracle."""
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


# Below 320 000 0000 lie Scotland's CHI numbers, which also encode a date of birth; the
# package checks that too, so compare the pure checksum only above that range.
@given(st.integers(min_value=320_000_000, max_value=999_999_999))
def test_matches_an_independent_modulus_11_for_every_check_digit(first: int) -> None:
    nine = f"{first:09d}"
    for digit in range(10):
        candidate = nine + str(digit)
        assert nhsnumber.is_valid(candidate) == _modulus_11(candidate)


@given(st.integers(min_value=0, max_value=10_000))
def test_keying_errors_are_always_caught(seed: int) -> None:
    rng = random.Random(seed)
    number = nhsnumber.generate_test_numbers(1, seed=seed)[0]
    assert not nhsnumber.is_valid(nhsnumber.corrupt(number, rng))


def test_format_spaced_and_validated() -> None:
    assert nhsnumber.format_spaced("9434765919") == "943 476 5919"
    assert nhsnumber.validated("943 476 5919") == "9434765919"
    assert nhsnumber.validated("943 476 5918") is None
    assert nhsnumber.validated(None) is None
    with pytest.raises(ValueError):
        nhsnumber.format_spaced("123")
