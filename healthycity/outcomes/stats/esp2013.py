"""The 2013 European Standard Population (ESP2013), in 19 five-year bands.

Source: Eurostat, "Revision of the European Standard Population: report of Eurostat's
task force", 2013 edition (Publications Office of the EU, ISBN 978-92-79-31094-2).
Eurostat's 0 and 1-4 bands are merged into 0-4 and its 90-94 and 95+ into 90+, as PHE
does for Fingertips DSRs. The weights total 100,000.
"""

from __future__ import annotations

#: (start age, weight) for 0-4, 5-9, ..., 85-89, 90+.
ESP2013: tuple[tuple[int, int], ...] = (
    (0, 5000),
    (5, 5500),
    (10, 5500),
    (15, 5500),
    (20, 6000),
    (25, 6000),
    (30, 6500),
    (35, 7000),
    (40, 7000),
    (45, 7000),
    (50, 7000),
    (55, 6500),
    (60, 6000),
    (65, 5500),
    (70, 5000),
    (75, 4000),
    (80, 2500),
    (85, 1500),
    (90, 1000),
)

ESP2013_WEIGHTS: tuple[int, ...] = tuple(weight for _, weight in ESP2013)
ESP2013_START_AGES: tuple[int, ...] = tuple(age for age, _ in ESP2013)
ESP2013_LABELS: tuple[str, ...] = tuple(
    f"{age}-{age + 4}" if age < 90 else "90+" for age in ESP2013_START_AGES
)


def band_start_age(label: str) -> int | None:
    """The start age written at the front of a band label: '05-09' -> 5, '90+' -> 90.

    Only the leading number is read, so a label such as '55-69' (a known typo for 55-59
    in PHE's test data) still finds its band by where it starts.
    """
    digits = ""
    for char in label.strip():
        if char.isdigit():
            digits += char
        else:
            break
    return int(digits) if digits else None


def weight_for_start_age(age: int) -> int | None:
    for start, weight in ESP2013:
        if start == age:
            return weight
    return None
