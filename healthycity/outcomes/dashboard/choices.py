"""The reader's choices on a page, checked: benchmark, area, sex, age, period and
comparison method, carried as one `IndicatorQuery` from the route to the page builders.

A value a page cannot offer raises `BadChoice` (the page answers 400 with the reason),
never a silent fallback; nothing by that name raises `NotFound` (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from healthycity.core.errors import NotFound
from healthycity.geography.models import SUB_REGION

if TYPE_CHECKING:
    from healthycity.outcomes import queries as q
    from healthycity.outcomes.dashboard.common import Geography

__all__ = ["BENCHMARK_CHOICES", "BadChoice", "IndicatorQuery", "NotFound", "Option"]

BENCHMARK_CHOICES = ("england", "london", "sub-region")
_MAX_QUERY = 200


class BadChoice(ValueError):
    """A query parameter names something the page cannot offer: the page answers 400."""


@dataclass
class Option:
    value: str
    text: str
    selected: bool


def options(values: Sequence[tuple[str, str]], chosen: str | None) -> list[Option]:
    return [Option(v, t, v == chosen) for v, t in values]


def comparison_options(info: q.IndicatorInfo, *, overlap: bool = True) -> list[tuple[str, str]]:
    """The "Comparison method" choices for one indicator (``compare.Choice`` values);
    CI overlap only when the benchmark has an interval to overlap with."""
    from healthycity.outcomes.stats._levels import percent_text

    default = percent_text(info.comparison_level or 0.95)
    found = comparison_options_all()
    found[0] = ("default", f"The indicator's default: {default} confidence intervals")
    return [o for o in found if overlap or o[0] != "ci-overlap"]


def comparison_options_all() -> list[tuple[str, str]]:
    """Every choice (``compare.Choice`` values) in words, the default first."""
    return [
        ("default", "The indicator's default"),
        ("95", "95% confidence intervals"),
        ("99.8", "99.8% confidence intervals"),
        ("two-levels", "Two levels: 95% and 99.8% confidence intervals"),
        ("ci-overlap", "Whether the 95% confidence intervals overlap"),
    ]


def check_comparison(value: str | None) -> str:
    """A reader's comparison method, or 400 with the choices (never a silent fallback:
    a figure judged by a method the reader did not ask for would mislead)."""
    from healthycity.outcomes.compare import Choice
    from healthycity.outcomes.stats.errors import StatsInputError

    try:
        return Choice.parse(value).value
    except StatsInputError:
        raise BadChoice(
            "Choose a comparison method from the list: default, 95, 99.8, two-levels or ci-overlap."
        ) from None


def benchmark_options(geo: Geography) -> list[tuple[str, str]]:
    found = [("england", geo.country_name)]
    if geo.city is not None:
        found.append(("london", geo.city.name))
    if geo.sub_regions:
        found.append(("sub-region", "Each area's sub-region"))
    return found


def check_benchmark(geo: Geography, benchmark: str) -> str:
    allowed = [v for v, _ in benchmark_options(geo)]
    if benchmark not in allowed:
        raise BadChoice(
            "Choose a benchmark from the list: " + ", ".join(t for _, t in benchmark_options(geo))
        )
    return benchmark


def benchmark_for(geo: Geography, benchmark: str, code: str) -> str | None:
    """The area code each area is compared with, for the reader's choice."""
    country = geo.country_code
    city = geo.city_code
    if benchmark == "england":
        return country
    if benchmark == "london":
        return city
    sub = geo.sub_region_of(code)
    if sub is not None:
        return sub.code
    area = geo.areas.get(code)
    if area is not None and area.area_type == SUB_REGION:
        return city
    return None


def benchmark_label(geo: Geography, benchmark: str) -> str:
    if benchmark == "london":
        return geo.city_name
    if benchmark == "sub-region":
        return "its sub-region"
    return geo.country_name


def unusable_key(key: str) -> bool:
    """A key no row can have (control characters, absurd length): answer 404 at once
    rather than hand PostgreSQL a NUL byte it refuses."""
    return len(key) > _MAX_QUERY or any(ord(c) < 32 for c in key)


def check_text(value: str | None, name: str, limit: int = _MAX_QUERY) -> str | None:
    if value is None:
        return None
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise BadChoice(f"The {name} given is not valid.")
    return value


@dataclass(frozen=True)
class IndicatorQuery:
    """The reader's choices for an indicator or area page, from the URL to the builders.

    ``benchmark`` is a word (``england``, ``london``, ``sub-region``: the sub-region
    differs per area); ``area`` an area code added to the trend; ``sex`` and ``age`` the
    series; ``period`` its label; ``comparison`` a ``compare.Choice`` value. Made by
    `parse`, which checks the free text and the comparison method (400 on a bad value);
    the page checks the rest against its data. Frozen, so it is part of the cache key.
    """

    benchmark: str = "england"
    area: str | None = None
    sex: str | None = None
    age: str | None = None
    period: str | None = None
    comparison: str = "default"

    @classmethod
    def parse(
        cls,
        *,
        benchmark: str = "england",
        area: str | None = None,
        breakdown: str | None = None,
        sex: str | None = None,
        age: str | None = None,
        period: str | None = None,
        comparison: str | None = None,
    ) -> IndicatorQuery:
        """The choices as the URL gives them: the page's form sends ``breakdown=SEX|AGE``,
        links send ``sex`` and ``age``; an empty value is no choice."""
        if breakdown:
            if "|" not in breakdown:
                raise BadChoice("Choose a breakdown from the list.")
            sex, age = breakdown.split("|", 1)
        for name, value in (("area", area), ("sex", sex), ("age", age), ("period", period)):
            check_text(value, name)
        return cls(
            benchmark=benchmark,
            area=area or None,
            sex=sex or None,
            age=age or None,
            period=period or None,
            comparison=check_comparison(comparison),
        )

    @property
    def link(self) -> str:
        """The choices as a query string, defaults left out: for the page's own links."""
        values = {
            "benchmark": self.benchmark if self.benchmark != "england" else None,
            "area": self.area,
            "sex": self.sex,
            "age": self.age,
            "period": self.period,
            "comparison": self.comparison if self.comparison != "default" else None,
        }
        return urlencode({k: v for k, v in values.items() if v})
