"""Other cities' figures: loaded from the pack, read by the annual review.

The pack's ``global_cities.csv`` is validated by the pack reader before anything is
written (a figure without a source or a year refuses the whole pack, naming the file,
line and reason); this loader then brings the table in line with the file inside the
pack's one transaction, so loading twice changes nothing and a failure writes nothing.

The review shows the figures measure by measure, never as a combined league table: the
figures differ in geography, standardisation and year, and each chart says how.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.sync import Sync, count_rows
from healthycity.reports.models import GlobalCityFigure

if TYPE_CHECKING:
    from healthycity.packs.schema import Pack

GEOGRAPHY_LABELS = {
    "city-proper": "the city itself",
    "metropolitan-area": "the metropolitan area",
    "national": "the whole country, standing in for the city",
}
STANDARDISATION_LABELS = {
    "age-standardised": "age-standardised",
    "crude": "crude (not adjusted for age)",
    "life-table": "from a life table",
}


def load_cities(session: Session, pack: Pack, sync: Sync | None = None) -> None:
    """The pack's figures, upserted by (city, measure, year); rows the pack no longer
    names are deleted. Idempotent."""
    sync = sync or Sync(session)
    wanted: set[tuple[str, str, int]] = set()
    for row in pack.global_cities:
        key = (row.city, row.measure, row.year)
        wanted.add(key)
        sync.upsert(
            GlobalCityFigure,
            {"city": row.city, "measure": row.measure, "year": row.year},
            {
                "country": row.country,
                "measure_name": row.measure_name,
                "value": None
                if row.value is None
                else Decimal(row.value).quantize(Decimal("0.0001")),
                "unit": row.unit,
                "geography": row.geography,
                "standardisation": row.standardisation,
                "collection": row.collection,
                "source_title": row.source_title,
                "source_url": row.source_url,
                "retrieved": row.retrieved,
                "caveat": row.caveat,
                "pack_id": pack.id,
            },
        )
    for stale in session.scalars(select(GlobalCityFigure)):
        if (stale.city, stale.measure, stale.year) not in wanted:
            session.delete(stale)
            sync.deleted += 1


def pack_counts(session: Session) -> dict[str, int]:
    return {"global_city_figures": count_rows(session, select(GlobalCityFigure))}


@dataclass(frozen=True)
class CityValue:
    """One city's figure on a measure's chart, with everything said beside it."""

    city: str
    country: str
    value: float
    year: int
    geography: str
    standardisation: str
    collection: str
    source_title: str
    source_url: str
    retrieved: str
    caveat: str | None

    @property
    def geography_label(self) -> str:
        return GEOGRAPHY_LABELS.get(self.geography, self.geography)


@dataclass
class Measure:
    """One measure across the cities: the figures, and the cities with none (and why)."""

    slug: str
    name: str
    unit: str
    values: list[CityValue]
    gaps: list[tuple[str, str]]
    home: CityValue | None

    @property
    def all_national(self) -> bool:
        return all(v.geography == "national" for v in self.values)

    @property
    def years(self) -> list[int]:
        return sorted({v.year for v in self.values})

    @property
    def sources(self) -> list[tuple[str, str]]:
        """Each distinct (title, address) cited, in the order first cited."""
        return list(dict.fromkeys((v.source_title, v.source_url) for v in self.values))

    @property
    def retrieved(self) -> list[str]:
        return sorted({v.retrieved for v in self.values})

    @property
    def caveats(self) -> list[tuple[list[str], str]]:
        """Each distinct caveat with the cities it applies to (said once, not per city)."""
        grouped: dict[str, list[str]] = {}
        for v in self.values:
            if v.caveat:
                grouped.setdefault(v.caveat, []).append(v.city)
        return [(cities, text) for text, cities in grouped.items()]

    @property
    def collections(self) -> list[str]:
        return sorted({v.collection for v in self.values})


def measures(session: Session, home_city: str, up_to: int | None = None) -> list[Measure]:
    """Every measure with its cities' figures (for each city the latest year on or
    before ``up_to``), ordered by name; ``gaps`` gives each of the pack's cities without
    a figure and the reason (the pack's own words for a recorded gap)."""
    rows = [
        r for r in session.scalars(select(GlobalCityFigure)) if up_to is None or r.year <= up_to
    ]
    cities = sorted({r.city for r in rows}, key=lambda c: (c != home_city, c))
    chosen: dict[str, dict[str, GlobalCityFigure]] = defaultdict(dict)
    names: dict[str, tuple[str, str]] = {}
    for row in rows:
        names.setdefault(row.measure, (row.measure_name, row.unit))
        best = chosen[row.measure].get(row.city)
        if best is None or row.year > best.year:
            chosen[row.measure][row.city] = row
    found = []
    for slug in sorted(chosen, key=lambda s: names[s][0]):
        by_city = chosen[slug]
        values = [
            CityValue(
                city=r.city,
                country=r.country,
                value=float(r.value),
                year=r.year,
                geography=r.geography,
                standardisation=r.standardisation,
                collection=r.collection,
                source_title=r.source_title,
                source_url=r.source_url,
                retrieved=r.retrieved,
                caveat=r.caveat,
            )
            for r in (by_city[c] for c in cities if c in by_city)
            if r.value is not None
        ]
        gaps = [
            (c, by_city[c].caveat or "No comparable figure.")
            if c in by_city
            else (c, "No figure in the pack for this measure.")
            for c in cities
            if c not in by_city or by_city[c].value is None
        ]
        found.append(
            Measure(
                slug=slug,
                name=names[slug][0],
                unit=names[slug][1],
                values=values,
                gaps=gaps,
                home=next((v for v in values if v.city == home_city), None),
            )
        )
    return found
