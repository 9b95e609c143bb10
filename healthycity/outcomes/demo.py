"""Illustrative demonstration data: plausible, deterministic, and always labelled.

A fresh install has a catalogue but no data, and an empty dashboard teaches nobody
anything. ``load_demo`` generates data for every catalogue indicator without real data,
for the country, the city, its sub-regions and its local authorities (as far as each
indicator's ``area_levels`` go), over eight periods labelled as the indicator's
frequency suggests. Every row, and the release, is marked illustrative; pages and
exports say so. Real data replace it indicator by indicator as they are loaded.

Why it looks real enough to be useful, without pretending to be:

- Values start from the pack's ``demo`` hint (a typical city value and the spread across
  the country) and move over time in a plausible direction; each local authority keeps
  a persistent offset and its own drift, so some are better and some worse, and trends
  differ.
- Counts and denominators are consistent with the value type, and values and 95% /
  99.8% intervals come from the statistics package (Wilson for proportions, Byar's or
  exact Poisson for rates, counts and indirectly standardised ratios, Dobson for
  directly standardised rates, Chiang II for life expectancy, t for means), so a
  comparison on a demo page behaves like one on real data. Sub-region and city figures
  are sums of their local authorities' counts, as they would be.
- The generator is seeded per indicator: the same seed gives the same data, and adding
  an indicator does not change the others.
- Indicators Fingertips publishes by deprivation also get figures for the city and the
  country by IMD2019 decile, with a social gradient in the direction that is worse for
  the most deprived, so the inequalities page has a slope index of inequality to show.
  They come from a stream of their own, so the area-level figures are unchanged by them.
- A "Resident population" indicator (this generator's own, never a pack's) gives every
  area a population total for every period and, for the latest year, a split by sex
  and five-year age band, which is what the area page's population pyramid reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.geography.service import city_code
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.demo_series import (
    _BY_DEPRIVATION,
    _COUNTED,
    CITY_DECILES,
    COUNTRY,
    COUNTRY_DECILES,
    DECILES,
    NOTE,
    PERIODS,
    POPULATION_BANDS,
    POPULATION_ID,
    SOURCE,
    DemoResult,
    Geography,
    Series,
    _counted,
    _deprivation,
    _direct,
    _estimate,
    _levels,
    _levels_series,
    _rng,
    demo_geography,
    periods_for,
    population_frame,
    population_seed,
)

__all__ = [
    "CITY_DECILES",
    "COUNTRY_DECILES",
    "DECILES",
    "NOTE",
    "POPULATION_BANDS",
    "POPULATION_ID",
    "DemoResult",
    "by_deprivation",
    "clear_demo",
    "generate",
    "indicator_frame",
    "load_demo",
    "periods_for",
]

if TYPE_CHECKING:
    import polars as pl


def indicator_frame(
    indicator: m.Indicator, geo: Geography, seed: int, n: int = PERIODS
) -> pl.DataFrame:
    """The illustrative observation frame of one indicator (with its deprivation deciles
    where :func:`by_deprivation` says Fingertips would publish them)."""
    import polars as pl

    rng = _rng(seed, indicator.id)
    truth = _levels_series(indicator, geo, rng, n)
    sexes = list(indicator.sexes or [m.ALL_PERSONS])
    if indicator.value_type in _COUNTED:
        series = _counted(indicator, geo, truth, rng, n, sexes)
    else:
        series = _direct(indicator, geo, truth, rng, n, sexes)
    frame = _frame(indicator, series, n)
    if not by_deprivation(indicator):
        return frame
    # A stream of its own, so that adding deciles changed none of the figures above.
    deciles = _deprivation(indicator, geo, truth, _rng(seed, f"{indicator.id}/deprivation"), n)
    return pl.concat([frame, _frame(indicator, deciles, n)], how="vertical")


def _frame(indicator: m.Indicator, series: Series, n: int) -> pl.DataFrame:
    """Observation rows of a generated series, values and intervals computed."""
    import polars as pl

    figures = _estimate(indicator, series)
    labels = periods_for(indicator.frequency, n)
    rows = len(series.area)
    frame = pl.DataFrame(
        {
            "indicator_id": indicator.id,
            "area_code": series.area,
            "period": [labels[t] for t in series.period],
            "sex": series.sex,
            "age": indicator.age or m.ALL_AGES,
            "category_type": series.category_type or [""] * rows,
            "category": series.category or [""] * rows,
            "time_period_sortable": [fc.sortable_period(labels[t]) for t in series.period],
            **{k: v for k, v in figures.items() if k != "notes"},
            "value_note": list(figures["notes"]),
        }
    )
    numbers = ["value", "lower_ci95", "upper_ci95", "lower_ci998", "upper_ci998"]
    return frame.with_columns(
        *(pl.col(c).fill_nan(None) for c in numbers),
        pl.col("count").fill_nan(None),
        pl.col("denominator").fill_nan(None),
    )


# ------------------------------------------------------------------ deprivation deciles


def by_deprivation(indicator: m.Indicator) -> bool:
    """Whether to illustrate an indicator by deprivation decile: a Fingertips indicator
    (its ids are numbers) built from events among people, with a direction that is good,
    published for the city. Fingertips breaks such indicators down by IMD decile; the
    partnership's own measures (gaps, counts, surveys of services) it does not."""
    fingertips = bool(indicator.fingertips_id) or indicator.id.isdigit()
    return (
        fingertips
        and indicator.value_type in _BY_DEPRIVATION
        and indicator.polarity in (m.HIGH_IS_GOOD, m.LOW_IS_GOOD)
        and "region" in _levels(indicator)
    )


# ------------------------------------------------------------------ loading


def real_data_indicators(session: Session) -> set[str]:
    rows = session.scalars(
        select(m.Observation.indicator_id).where(m.Observation.illustrative.is_(False)).distinct()
    )
    return set(rows)


# Releases that come with the package (the published snapshot, and aggregates rolled up
# from it): real figures, yet not data someone loaded, so they do not stop `demo load`;
# the demo then fills only the indicators they do not cover.
SHIPPED_SOURCES = ("published", "computed")


def loaded_real_data(session: Session) -> bool:
    """Whether anyone loaded real data (beyond the published snapshot shipped with us)."""
    query = (
        select(m.Observation.id)
        .outerjoin(m.DataRelease, m.DataRelease.id == m.Observation.release_id)
        .where(
            m.Observation.illustrative.is_(False),
            or_(m.DataRelease.source.is_(None), m.DataRelease.source.not_in(SHIPPED_SOURCES)),
        )
        .limit(1)
    )
    return session.execute(query).first() is not None


def generate(
    session: Session, *, seed: int = 2019, country: str = COUNTRY, city: str | None = None
) -> tuple[pl.DataFrame | None, list[str]]:
    """The whole demo frame for indicators without real data (None if no geography);
    ``city`` defaults to the loaded pack's."""
    import polars as pl

    geo = demo_geography(session, country, city or city_code(session))
    if geo is None:
        return None, []
    real = real_data_indicators(session)
    indicators = [
        i
        for i in session.scalars(select(m.Indicator).order_by(m.Indicator.id))
        if i.id not in real and i.id != POPULATION_ID
    ]
    frames = [indicator_frame(i, geo, seed) for i in indicators]
    if not frames:
        return None, []
    ids = [i.id for i in indicators]
    if POPULATION_ID not in real:
        frames.append(population_frame(session, geo, seed))
        ids.append(POPULATION_ID)
    return pl.concat(frames, how="diagonal_relaxed"), ids


def load_demo(
    engine: Engine,
    *,
    seed: int = 2019,
    force: bool = False,
    country: str = COUNTRY,
    city: str | None = None,
) -> DemoResult:
    """Load illustrative data when no real data exist (``force``: for the indicators
    without real data even when some exist). One transaction; idempotent."""
    from healthycity.outcomes.ingest.store import write_observations

    with transaction(engine) as session:
        if loaded_real_data(session) and not force:
            return DemoResult(False, "real data are loaded: demo data were not loaded")
        frame, ids = generate(session, seed=seed, country=country, city=city)
        if frame is None:
            return DemoResult(
                False,
                "nothing to generate: load a city pack first (`healthycity pack load london`)",
            )
        result = write_observations(
            session,
            frame,
            source=SOURCE,
            location=f"healthycity demo generator (seed {seed})",
            indicators=[population_seed()] if POPULATION_ID in ids else [],
            illustrative=True,
            note=NOTE,
        )
    verb = "loaded" if result.changed else "already loaded (nothing changed)"
    return DemoResult(
        True,
        f"illustrative demo data {verb}: {len(ids)} indicators, {result.rows} rows "
        f"({result.inserted} inserted, {result.updated} updated)",
        rows=result.rows,
        indicators=ids,
        release_id=result.release_id,
    )


def clear_demo(engine: Engine) -> int:
    """Delete every illustrative observation and the demo releases."""
    with transaction(engine) as session:
        count = int(
            session.execute(
                select(func.count())
                .select_from(m.Observation)
                .where(m.Observation.illustrative.is_(True))
            ).scalar_one()
        )
        session.execute(delete(m.Observation).where(m.Observation.illustrative.is_(True)))
        session.execute(delete(m.DataRelease).where(m.DataRelease.illustrative.is_(True)))
        # The demo's own indicator goes with its data (unless someone loaded real data
        # under its id, which then keeps it).
        population = session.get(m.Indicator, POPULATION_ID)
        if population is not None and population.source == SOURCE:
            left = session.execute(
                select(func.count())
                .select_from(m.Observation)
                .where(m.Observation.indicator_id == POPULATION_ID)
            ).scalar_one()
            if not left:
                session.delete(population)
    return count
