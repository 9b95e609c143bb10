"""Aggregates from their parts: London and its sub-regions from their boroughs.

Fingertips publishes a region's figure from the summed counts and denominators of its
local authorities, with the indicator's method applied to the sums (PHE, "Technical
Guidance: Public Health Outcomes Framework", aggregation of local authority data; the
methods are those of :mod:`.stats`: Wilson score limits for proportions, Newcombe 1998;
Poisson limits of the summed count for crude rates, exact below 10 events and Byar's
from 10, Breslow & Day 1987). When a file gives the boroughs' counts but not the
region's row, this module does the same:

- for each parent (the city, e.g. London ``E12000007``, and each of its sub-regions),
  period and breakdown, the boroughs of the parent that have a value are found;
- if every one of them has its count and denominator (the default threshold: all
  boroughs with data; ``minimum`` lowers it to a number of boroughs), the counts and
  denominators are summed and the value and its 95% and 99.8% limits computed with the
  indicator's method; a borough whose figure the publisher combined with another
  (City of London with Hackney: "Value for Hackney and City of London combined") is
  counted as covered by it;
- the row is stored with the value note "Computed from the boroughs (n of N …)", so
  every page, twin and export says how it was obtained (``queries.Point.computed``);
- where the publisher's own row for the parent is present it is kept, and the roll-up
  is checked against it: a difference is reported (``Check``), never silently
  replaced.

Directly standardised rates are rolled up only when the data carry age-specific counts
and populations: for every borough with a figure, rows for each of the 19 ESP2013 age
bands ("0-4 yrs" … "90+ yrs") of the same sex, category and period, each with its count
and denominator. The counts and populations are summed band by band over the boroughs
and the DSR and its Dobson limits computed from the sums with the ESP2013 weights
(:func:`summed_dsr`, :mod:`.stats.dsr`; PHE, "Technical Guidance: Directly standardised
rates"). A Fingertips download rarely carries those rows, and then the page says why
there is no figure (``queries.missing_reason``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from healthycity.outcomes import models as m
from healthycity.outcomes.queries.values import COMPUTED_NOTE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from healthycity.outcomes.ingest.problems import ImportResult

LEVELS = (0.95, 0.998)
ESP_BANDS = 19  # the ESP2013 five-year bands, 0-4 to 90+ (``stats.esp2013``)
ROLLED_UP = (m.PROPORTION, m.CRUDE_RATE)
SOURCE = "computed"
# A published parent row and the roll-up agree when within this relative difference
# (Fingertips publishes values at full precision).
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Summed:
    """The method applied to summed counts: value and limits by level."""

    value: float
    lower: dict[float, float]
    upper: dict[float, float]
    count: float
    denominator: float
    method: str
    # What was summed, for the value note.
    summed: str = "counts and denominators summed"


@dataclass(frozen=True)
class Check:
    """What happened to one parent, period and breakdown of an indicator."""

    indicator_id: str
    area_code: str
    period: str
    breakdown: str
    status: str  # "computed", "published kept", "not computed"
    detail: str
    difference: float | None = None

    def __str__(self) -> str:
        return (
            f"{self.indicator_id} {self.area_code} {self.period} ({self.breakdown}): "
            f"{self.status}: {self.detail}"
        )


def summed(
    counts: Sequence[float],
    denominators: Sequence[float],
    *,
    value_type: str,
    multiplier: float | None = None,
) -> Summed:
    """The indicator's method applied to the summed counts and denominators (pure)."""
    count = float(np.sum(np.asarray(counts, dtype=np.float64)))
    denominator = float(np.sum(np.asarray(denominators, dtype=np.float64)))
    if value_type == m.PROPORTION:
        from healthycity.outcomes.stats.proportion import proportion

        estimate = proportion(
            [count], [denominator], confidence=LEVELS, multiplier=multiplier or 100.0
        )
    elif value_type == m.CRUDE_RATE:
        from healthycity.outcomes.stats.rate import crude_rate

        estimate = crude_rate(
            [count], [denominator], confidence=LEVELS, multiplier=multiplier or 100_000.0
        )
    else:
        raise ValueError(f"a {value_type} is not rolled up from counts")
    return Summed(
        value=float(estimate.value[0]),
        lower={lv: float(estimate.lower[lv][0]) for lv in LEVELS},
        upper={lv: float(estimate.upper[lv][0]) for lv in LEVELS},
        count=count,
        denominator=denominator,
        method=estimate.method,
    )


_BAND = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|\+)")


def esp_band(age: str) -> int | None:
    """The ESP2013 band (0 for 0-4 … 18 for 90+) an age label names exactly, else None:
    "5-9 yrs" is band 1, "90+ yrs" band 18; "0-15 yrs" and "18+ yrs" are no band."""
    from healthycity.outcomes.stats.esp2013 import ESP2013_START_AGES

    found = _BAND.match(age)
    if found is None:
        return None
    start = int(found.group(1))
    if start not in ESP2013_START_AGES:
        return None
    end = found.group(2)
    if start == ESP2013_START_AGES[-1]:
        return len(ESP2013_START_AGES) - 1 if end is None else None
    if end is None or int(end) != start + 4:
        return None
    return ESP2013_START_AGES.index(start)


def summed_dsr(
    parts: Sequence[dict[int, tuple[float, float]]], *, multiplier: float | None = None
) -> Summed:
    """The DSR of a whole from its parts' age-specific counts and populations (pure):
    each part maps an ESP2013 band (``esp_band``) to (count, population); every band
    must be present in every part. Counts and populations are summed band by band, then
    the DSR with Dobson limits is computed from the sums with the ESP2013 weights."""
    from healthycity.outcomes.stats.dsr import dsr
    from healthycity.outcomes.stats.esp2013 import ESP2013_WEIGHTS

    bands = range(len(ESP2013_WEIGHTS))
    missing = [b for b in bands for part in parts if b not in part]
    if not parts or missing:
        raise ValueError("every part needs a count and population for all 19 ESP2013 bands")
    counts = np.array([sum(part[b][0] for part in parts) for b in bands], dtype=np.float64)
    people = np.array([sum(part[b][1] for part in parts) for b in bands], dtype=np.float64)
    estimate = dsr(
        counts,
        people,
        standard_population=np.asarray(ESP2013_WEIGHTS, dtype=np.float64),
        confidence=LEVELS,
        multiplier=multiplier or 100_000.0,
    )
    return Summed(
        value=float(estimate.value[0]),
        lower={lv: float(estimate.lower[lv][0]) for lv in LEVELS},
        upper={lv: float(estimate.upper[lv][0]) for lv in LEVELS},
        count=float(counts.sum()),
        denominator=float(people.sum()),
        method=estimate.method,
        summed="age-specific counts and populations summed band by band (ESP2013 weights)",
    )


@dataclass
class _Cell:
    parent: m.Observation | None = None
    members: dict[str, m.Observation] = field(default_factory=dict)


def roll_up(
    session: Session, indicator_ids: Sequence[str], *, minimum: int | None = None
) -> list[Check]:
    """Compute, store or check the city's and its sub-regions' rows from their boroughs,
    in the caller's transaction; returns what was done for each."""
    from sqlalchemy import select

    from healthycity.geography.models import Area
    from healthycity.geography.service import city_code
    from healthycity.outcomes.queries.reading import areas_within

    city = city_code(session)
    if session.get(Area, city) is None:
        return []
    parents = [city, *(a.code for a in areas_within(session, city, "sub_region"))]
    members = {p: [a for a in areas_within(session, p, "local_authority")] for p in parents}
    names = {a.code: a.name for group in members.values() for a in group}
    member_codes = {p: {a.code for a in group} for p, group in members.items()}
    checks: list[Check] = []
    rows: list[dict[str, object]] = []
    stale: list[m.Observation] = []
    for indicator_id in indicator_ids:
        indicator = session.get(m.Indicator, indicator_id)
        if indicator is None:
            continue
        wanted = set(parents) | set(names)
        found = session.scalars(
            select(m.Observation).where(
                m.Observation.indicator_id == indicator_id,
                m.Observation.area_code.in_(sorted(wanted)),
            )
        ).all()
        cells: dict[tuple[str, str, str, str, str, str], _Cell] = defaultdict(_Cell)
        for obs in found:
            key = (obs.sex, obs.age, obs.category_type, obs.category, obs.period)
            for parent in parents:
                if obs.area_code == parent:
                    cells[(*key, parent)].parent = obs
                elif obs.area_code in member_codes[parent]:
                    cells[(*key, parent)].members[obs.area_code] = obs
        banded = _bands(cells) if indicator.value_type == m.DSR else {}
        for (sex, age, ctype, cat, period, parent), cell in sorted(cells.items()):
            if banded and esp_band(age) is not None:
                continue  # an age band of a DSR: the parts of the headline figure
            label = ", ".join(x for x in (sex, age, cat) if x)
            check = _one(
                indicator,
                parent,
                period,
                label,
                cell,
                len(members[parent]),
                minimum,
                names,
                banded.get((sex, ctype, cat, period, parent)),
            )
            if check is None:
                continue
            checks.append(check[0])
            if check[1] is not None:
                rows.append(
                    {
                        "indicator_id": indicator_id,
                        "area_code": parent,
                        "period": period,
                        "sex": sex,
                        "age": age,
                        "category_type": ctype,
                        "category": cat,
                        **check[1],
                    }
                )
            elif (
                cell.parent is not None
                and _is_computed(cell.parent)
                and (check[0].status == "not computed")
            ):
                stale.append(cell.parent)
    for obs in stale:
        session.delete(obs)
    if rows:
        _write(session, rows)
    return checks


def _bands(
    cells: dict[tuple[str, str, str, str, str, str], _Cell],
) -> dict[tuple[str, str, str, str, str], dict[str, dict[int, tuple[float, float]]]]:
    """Each borough's age-specific (count, population) by ESP2013 band, for every sex,
    category, period and parent: the parts a DSR is rolled up from."""
    found: dict[tuple[str, str, str, str, str], dict[str, dict[int, tuple[float, float]]]] = (
        defaultdict(lambda: defaultdict(dict))
    )
    for (sex, age, ctype, cat, period, parent), cell in cells.items():
        band = esp_band(age)
        if band is None:
            continue
        for code, obs in cell.members.items():
            if obs.count is not None and obs.denominator is not None and obs.denominator > 0:
                found[(sex, ctype, cat, period, parent)][code][band] = (
                    float(obs.count),
                    float(obs.denominator),
                )
    return found


def _is_computed(obs: m.Observation) -> bool:
    return bool(obs.value_note and obs.value_note.startswith(COMPUTED_NOTE))


def _one(
    indicator: m.Indicator,
    parent: str,
    period: str,
    label: str,
    cell: _Cell,
    size: int,
    minimum: int | None,
    names: dict[str, str],
    bands: dict[str, dict[int, tuple[float, float]]] | None = None,
) -> tuple[Check, dict[str, object] | None] | None:
    published = cell.parent if cell.parent is not None and not _is_computed(cell.parent) else None
    with_data = {c: o for c, o in cell.members.items() if o.value is not None}
    if not with_data:
        return None
    covered = _combined(cell.members, names)
    usable = {
        c: o
        for c, o in with_data.items()
        if o.count is not None and o.denominator is not None and o.denominator > 0
    }
    check = _checker(indicator.id, parent, period, label)
    if indicator.value_type == m.DSR and bands:
        return _one_dsr(indicator, cell, with_data, bands, size, covered, names, check)
    if indicator.value_type not in ROLLED_UP:
        if published is not None:
            return None
        return check("not computed", f"a {indicator.value_type} is not summed from boroughs"), None
    needed = len(with_data) if minimum is None else minimum
    if not usable or len(usable) < needed:
        if published is not None:
            return check("published kept", "the boroughs' counts cannot check it"), None
        missing = len(with_data) - len(usable)
        return check(
            "not computed",
            f"{missing} of the {len(with_data)} boroughs with data have no count and "
            "denominator to sum",
        ), None
    total = summed(
        [o.count or 0.0 for o in usable.values()],
        [o.denominator or 0.0 for o in usable.values()],
        value_type=indicator.value_type,
        multiplier=indicator.multiplier,
    )
    return _finish(check, cell, with_data, usable, size, covered, names, published, total)


def _one_dsr(
    indicator: m.Indicator,
    cell: _Cell,
    with_data: dict[str, m.Observation],
    bands: dict[str, dict[int, tuple[float, float]]],
    size: int,
    covered: set[str],
    names: dict[str, str],
    check: Callable[..., Check],
) -> tuple[Check, dict[str, object] | None]:
    """A DSR from the boroughs' age-specific counts and populations (every borough with
    a figure needs all 19 ESP2013 bands)."""
    published = cell.parent if cell.parent is not None and not _is_computed(cell.parent) else None
    full = {c: o for c, o in with_data.items() if len(bands.get(c, {})) == ESP_BANDS}
    if len(full) < len(with_data):
        if published is not None:
            return check("published kept", "the boroughs' age bands cannot check it"), None
        return check(
            "not computed",
            f"{len(with_data) - len(full)} of the {len(with_data)} boroughs with data have "
            "no count and population for every ESP2013 age band",
        ), None
    total = summed_dsr([bands[c] for c in full], multiplier=indicator.multiplier)
    if total.value != total.value:  # NaN: Dobson's method needs 10 events or more
        return check("not computed", "fewer than 10 events in all: no DSR is published"), None
    return _finish(check, cell, with_data, full, size, covered, names, published, total)


def _finish(
    check: Callable[..., Check],
    cell: _Cell,
    with_data: dict[str, m.Observation],
    usable: dict[str, m.Observation],
    size: int,
    covered: set[str],
    names: dict[str, str],
    published: m.Observation | None,
    total: Summed,
) -> tuple[Check, dict[str, object] | None]:
    """Check a roll-up against the publisher's row, or make the computed row."""
    share = len(usable) + len(covered - set(usable))
    how = f"{len(usable)} of {size} boroughs"
    if covered:
        how += "; " + ", ".join(sorted(names.get(c, c) for c in covered)) + " combined with "
        how += "its neighbour as published"
    if share < size:
        how += f"; {size - share} without data"
    if published is not None:
        if published.value is None:
            return check("published kept", "the published row has no value"), None
        difference = total.value - published.value
        agrees = abs(difference) <= TOLERANCE * max(abs(published.value), 1.0)
        detail = (
            f"the roll-up of {how} agrees with the published row"
            if agrees
            else f"the roll-up of {how} gives {total.value:.6g}, "
            f"the published row {published.value:.6g} (difference {difference:+.3g})"
        )
        return check("published kept", detail, None if agrees else difference), None
    note = f"{COMPUTED_NOTE} ({how}): {total.summed}; {total.method}"
    values: dict[str, object] = {
        "time_period_sortable": next(iter(with_data.values())).time_period_sortable,
        "value": total.value,
        "lower_ci95": total.lower[0.95],
        "upper_ci95": total.upper[0.95],
        "lower_ci998": total.lower[0.998],
        "upper_ci998": total.upper[0.998],
        "count": total.count,
        "denominator": total.denominator,
        "value_note": note,
    }
    return check("computed", note), values


def _checker(indicator_id: str, parent: str, period: str, label: str) -> Callable[..., Check]:
    def make(status: str, detail: str, difference: float | None = None) -> Check:
        return Check(indicator_id, parent, period, label, status, detail, difference)

    return make


def _combined(members: dict[str, m.Observation], names: dict[str, str]) -> set[str]:
    """Boroughs without a value whose figure the publisher combined with another's."""
    notes = [(o.value_note or "").lower() for o in members.values()]
    found = set()
    for code, obs in members.items():
        if obs.value is not None:
            continue
        name = names.get(code, code).lower()
        if "combined" in (obs.value_note or "").lower() or any(
            "combined" in n and name in n for n in notes
        ):
            found.add(code)
    return found


def _write(session: Session, rows: list[dict[str, object]]) -> None:
    import polars as pl

    from healthycity.outcomes.ingest.store import write_observations

    frame = pl.DataFrame(rows, infer_schema_length=None)
    write_observations(session, frame, source=SOURCE, location="computed from the boroughs")


def after_import(session: Session, result: ImportResult, minimum: int | None = None) -> None:
    """Roll up what an import touched; the checks go on the result (reported by the CLI)."""
    if result.illustrative:
        return
    checks = roll_up(session, result.indicator_ids, minimum=minimum)
    result.aggregates = [str(c) for c in checks]
    result.aggregates_computed = sum(c.status == "computed" for c in checks)
    result.aggregate_differences = [str(c) for c in checks if c.difference is not None]
