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

Directly standardised rates are not rolled up here: that needs age-specific counts and
populations, which a Fingertips file does not carry (see ``docs/statistics.md``).
"""

from __future__ import annotations

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
        for (sex, age, ctype, cat, period, parent), cell in sorted(cells.items()):
            label = ", ".join(x for x in (sex, age, cat) if x)
            check = _one(
                indicator, parent, period, label, cell, len(members[parent]), minimum, names
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
    note = f"{COMPUTED_NOTE} ({how}): counts and denominators summed; {total.method}"
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
