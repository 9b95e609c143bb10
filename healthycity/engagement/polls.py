"""Polls: series entered with their disclosure, shown with honest intervals and a trend.

A poll is not a consultation. A poll samples a defined population (its sampling frame)
and weights the answers; a consultation hears from whoever chooses to answer. So polls
live in their own tables and nothing here reads consultation answers.

The interval of a wave is Wilson's (PHE's method for proportions) on the *effective*
sample size, n / design effect, when the agency gives a design effect: weighting widens
the interval, and an interval on the raw n would overstate the poll's precision. The
change between two waves gets Newcombe's interval (method 10, built from the two Wilson
intervals), which is what progress to the target is judged on.

How the ambition is read (docs/decisions/0014-engagement.md): aspiration 9's "10 basis
point improvement" is taken as written, +0.10 percentage point (a basis point is a
hundredth of a percentage point), and is judged met only when the whole 95% interval of
the change lies above it. The reading "10 percentage points" is shown beside it, so a
reader can see the answer either way and nobody can claim the target on noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid, NotFound
from healthycity.engagement.models import PollSeries, PollWave
from healthycity.engagement.schemas import PollFormIn, PollSeriesIn, PollWaveIn
from healthycity.outcomes.stats import proportion

BASIS_POINT = 0.01  # of a percentage point
AMBITION_BASIS_POINTS = 10
TARGET_CHANGE = AMBITION_BASIS_POINTS * BASIS_POINT  # +0.10 percentage point, as written
ALTERNATIVE_CHANGE = 10.0  # the reading "10 percentage points", shown alongside


@dataclass(frozen=True)
class WaveEstimate:
    wave: PollWave
    effective_n: float
    lower: float
    upper: float

    @property
    def label(self) -> str:
        return self.wave.fieldwork_end.isoformat()


def estimate(wave: PollWave) -> WaveEstimate:
    """The wave's 95% Wilson interval on its effective sample size."""
    effective = wave.sample_size / (wave.design_effect or 1.0)
    count = wave.percent / 100 * effective
    result = proportion([count], [effective], multiplier=100)
    return WaveEstimate(
        wave,
        round(effective, 1),
        round(float(result.lower[0.95][0]), 2),
        round(float(result.upper[0.95][0]), 2),
    )


@dataclass(frozen=True)
class Change:
    """From the first wave to the latest, with Newcombe's 95% interval, in points."""

    first: WaveEstimate
    latest: WaveEstimate
    change: float
    lower: float
    upper: float

    def verdict(self, target: float) -> str:
        if self.lower > target:
            return "met"
        if self.upper < 0:
            return "moved away"
        if self.upper <= target:
            return "not met"
        return (
            "not distinguishable from no change" if self.lower <= 0 else "improved, short of proof"
        )


def change(first: WaveEstimate, latest: WaveEstimate) -> Change:
    p1, p2 = first.wave.percent, latest.wave.percent
    d = p2 - p1
    lower = d - math.sqrt((p2 - latest.lower) ** 2 + (first.upper - p1) ** 2)
    upper = d + math.sqrt((latest.upper - p2) ** 2 + (p1 - first.lower) ** 2)
    return Change(first, latest, round(d, 2), round(lower, 2), round(upper, 2))


def series_list(session: Session) -> list[PollSeries]:
    return list(session.scalars(select(PollSeries).order_by(PollSeries.title)))


def get_series(session: Session, slug: str) -> PollSeries:
    row = session.scalars(select(PollSeries).where(PollSeries.slug == slug)).first()
    if row is None:
        raise NotFound(f"no poll series {slug}")
    return row


def waves(session: Session, series: PollSeries) -> list[WaveEstimate]:
    query = (
        select(PollWave).where(PollWave.series_id == series.id).order_by(PollWave.fieldwork_start)
    )
    return [estimate(w) for w in session.scalars(query)]


def trend(estimates: list[WaveEstimate]) -> Change | None:
    return change(estimates[0], estimates[-1]) if len(estimates) > 1 else None


def _messages(exc: Any, prefix: str) -> dict[str, str]:
    """One plain message per field: "sample_size: give the sample size"."""
    out: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "document"
        reason = "this is required" if error["type"] == "missing" else str(error["msg"])
        out[f"{prefix}{field}"] = f"{prefix}{field.replace('_', ' ')}: {reason}".strip()
    return out


def load_series(session: Session, body: dict[str, Any]) -> PollSeries:
    """Add or replace a series and its waves from one document, refusing it whole if any
    part lacks its disclosure (the question wording, a wave's sample size…)."""
    from pydantic import ValidationError

    raw_waves = body.get("waves", [])
    if not isinstance(raw_waves, list) or not raw_waves:
        raise Invalid({"waves": "give at least one wave of fieldwork"})
    errors: dict[str, str] = {}
    try:
        series_in = PollSeriesIn.model_validate({k: v for k, v in body.items() if k != "waves"})
    except ValidationError as exc:
        errors |= _messages(exc, "")
    waves_in = []
    for number, item in enumerate(raw_waves, start=1):
        try:
            waves_in.append(PollWaveIn.model_validate(item))
        except ValidationError as exc:
            errors |= _messages(exc, f"wave {number} ")
    if errors:
        raise Invalid(errors)
    row = session.scalars(select(PollSeries).where(PollSeries.slug == series_in.slug)).first()
    if row is None:
        row = PollSeries()
        session.add(row)
    for name, value in series_in.model_dump().items():
        setattr(row, name, value)
    session.flush()
    have = {
        w.fieldwork_start: w
        for w in session.scalars(select(PollWave).where(PollWave.series_id == row.id))
    }
    for wave_in in waves_in:
        wave = have.get(wave_in.fieldwork_start) or PollWave(series_id=row.id)
        for name, value in wave_in.model_dump().items():
            setattr(wave, name, value)
        session.add(wave)
    session.flush()
    return row


# ---------------------------------------------------------------- the workspace form


def get_series_by_id(session: Session, series_id: int) -> PollSeries:
    row = session.get(PollSeries, series_id)
    if row is None:
        raise NotFound(f"no poll series {series_id}")
    return row


def stored_waves(session: Session, series: PollSeries) -> list[PollWave]:
    query = (
        select(PollWave).where(PollWave.series_id == series.id).order_by(PollWave.fieldwork_start)
    )
    return list(session.scalars(query))


def as_input(row: PollSeries) -> dict[str, Any]:
    """The stored series as the workspace form takes it (waves as the form's lines)."""
    from sqlalchemy.orm import object_session

    from healthycity.engagement.schemas import WAVE_FIELDS, format_wave_lines

    session = object_session(row)
    found = stored_waves(session, row) if session is not None and row.id else []
    values: dict[str, Any] = {name: getattr(row, name) for name in PollSeriesIn.model_fields}
    values["waves"] = format_wave_lines([{k: getattr(w, k) for k in WAVE_FIELDS} for w in found])
    return values


def save_form(session: Session, row: PollSeries | None, data: PollFormIn) -> PollSeries:
    """Create or change a series from the workspace form: the stored waves become exactly
    the form's (each added, changed or removed wave is its own audited change)."""
    clash = session.scalars(select(PollSeries).where(PollSeries.slug == data.slug)).first()
    if clash is not None and (row is None or clash.id != row.id):
        raise Invalid({"slug": f"another poll series already uses the address {data.slug}"})
    if row is None:
        row = PollSeries()
        session.add(row)
    for name in PollSeriesIn.model_fields:
        setattr(row, name, getattr(data, name))
    session.flush()
    have = {w.fieldwork_start: w for w in stored_waves(session, row)}
    wanted = {w.fieldwork_start for w in data.waves}
    for start, wave in have.items():
        if start not in wanted:
            session.delete(wave)
    session.flush()
    for wave_in in data.waves:
        wave = have.get(wave_in.fieldwork_start) or PollWave(series_id=row.id)
        for name, value in wave_in.model_dump().items():
            setattr(wave, name, value)
        session.add(wave)
    session.flush()
    return row


def update_form(session: Session, row: PollSeries, data: PollFormIn) -> None:
    save_form(session, row, data)


def remove(session: Session, row: PollSeries) -> None:
    """Delete a series and its waves (each deletion audited, waves first)."""
    for wave in stored_waves(session, row):
        session.delete(wave)
    session.flush()
    session.delete(row)
    session.flush()
