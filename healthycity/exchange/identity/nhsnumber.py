"""NHS numbers: normalising, Modulus 11 validation, and test-range generation.

A *verified* NHS number is the one identifier the exchange trusts to link two records
without looking at demographics, so a number that fails the check digit must never be
treated as an identifier. The checksum itself is delegated to the ``nhs-number`` package
(the NHS Data Dictionary's Modulus 11 rule); this module adds the normalisation the
exchange needs and a *seeded* generator, so test data and demos are reproducible.
Generated numbers are always from the 9xx range that is never issued to people (NHS
England's synthetic and test patients live there), so they can never belong to anyone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from nhs_number.validate import calculate_checksum
from nhs_number.validate import is_valid as _package_is_valid

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

#: 900 000 0000 - 999 999 9999 is "not to be issued": PDS test patients (9000000009,
#: 9449305552, ...) live there. About 91 million of its numbers have a valid check digit.
TEST_RANGE_START = 9_000_000_000
TEST_RANGE_END = 9_999_999_999

_SEPARATORS = re.compile(r"[\s\-]")


def normalise(value: str) -> str | None:
    """Strip spaces and dashes; return the 10 digits, or None if it is not 10 digits."""
    digits = _SEPARATORS.sub("", value or "")
    if len(digits) != 10 or not digits.isdigit():
        return None
    return digits


def check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when none exists (remainder 10)."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("the check digit is computed from exactly nine digits")
    digit = calculate_checksum(first_nine)
    return None if digit is None or digit == 10 else int(digit)


def is_valid(value: str) -> bool:
    """True when ``value`` is ten digits (spaces/dashes allowed) with a correct check digit."""
    digits = normalise(value)
    if digits is None:
        return False
    return bool(_package_is_valid(digits))


def validated(value: str | None) -> str | None:
    """The normalised number if it is valid, else None (unparseable means missing)."""
    if not value:
        return None
    digits = normalise(value)
    return digits if digits is not None and is_valid(digits) else None


def format_spaced(value: str) -> str:
    """``9990001234`` as ``999 000 1234``, the way it is printed for people."""
    digits = normalise(value)
    if digits is None:
        raise ValueError(f"not an NHS number: {value!r}")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def generate_test_numbers(count: int, *, seed: int = 0) -> list[str]:
    """``count`` distinct valid NHS numbers from the test range, reproducibly."""
    return list(_iter_test_numbers(count, random.Random(seed)))


def _iter_test_numbers(count: int, rng: random.Random) -> Iterator[str]:
    span = (TEST_RANGE_END - TEST_RANGE_START) // 10
    if count > span // 2:
        raise ValueError("asked for more test numbers than the range can sensibly give")
    seen: set[str] = set()
    while len(seen) < count:
        first_nine = str(TEST_RANGE_START // 10 + rng.randrange(span + 1))
        digit = check_digit(first_nine)
        if digit is None:
            continue  # remainder 10: no valid number starts with these nine digits
        candidate = first_nine + str(digit)
        if candidate not in seen:
            seen.add(candidate)
            yield candidate


def corrupt(value: str, rng: random.Random) -> str:
    """A plausible keying error (one digit changed or two adjacent swapped).

    Modulus 11 catches every single-digit error and every adjacent transposition of
    different digits, so the result is always invalid; the demo uses it to prove that.
    """
    digits = list(value)
    while True:
        candidate = digits.copy()
        if rng.random() < 0.5:
            i = rng.randrange(10)
            candidate[i] = str((int(candidate[i]) + rng.randrange(1, 10)) % 10)
        else:
            i = rng.randrange(9)
            candidate[i], candidate[i + 1] = candidate[i + 1], candidate[i]
        result = "".join(candidate)
        if result != value:
            return result
