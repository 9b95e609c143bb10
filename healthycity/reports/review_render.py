"""The review as HTML (one page, styles inline), as PDF (the same HTML, tagged), as the
JSON and CSV twins, and its charts.

Charts are Vega-Lite specs rendered to SVG on the server (``core.charts``): the same
chart in the page, the static site and the PDF, each with a text alternative that says
what it shows and a data table (beside it on the web page, in the appendix of the PDF).
The global-city charts show one measure each, London first then the other cities in
alphabetical order — never ranked, never combined into a league table — with what each
figure measures, its year and source beside the chart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from healthycity.core.charts import NHS_BLUE, NHS_DARK_GREY, render_svg
from healthycity.core.money import pounds
from healthycity.core.web.twins import Table, money
from healthycity.reports.cities import STANDARDISATION_LABELS, Measure
from healthycity.reports.review import Figure, Review
from healthycity.reports.review_stats import p_text
from healthycity.reports.review_summary import number, with_unit

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: Markup
    description: str
    table: Table
    notes: list[str]
    measure: Measure


def _city_description(measure: Measure, home: str) -> str:
    parts = [f"{v.city} {number(v.value)}" for v in measure.values]
    where = "national figures standing in for each city" if measure.all_national else "figures"
    text = f"{measure.name} ({measure.unit}), {where}: " + "; ".join(parts) + "."
    if measure.gaps:
        text += " No comparable figure for " + ", ".join(c for c, _ in measure.gaps) + "."
    return text


def city_chart(measure: Measure, home: str) -> Chart:
    """One measure across the cities: bars in a fixed order (London first), the home
    city in NHS blue, every bar labelled with its value."""
    data = [
        {"city": v.city, "value": v.value, "year": v.year, "home": v.city == home}
        for v in measure.values
    ]
    order = [v.city for v in measure.values]
    spec: dict[str, Any] = {
        "data": {"values": data},
        "width": 440,
        "height": {"step": 26},
        "layer": [
            {
                "mark": {"type": "bar"},
                "encoding": {
                    "color": {
                        "field": "home",
                        "type": "nominal",
                        "scale": {"domain": [True, False], "range": [NHS_BLUE, NHS_DARK_GREY]},
                        "legend": None,
                    }
                },
            },
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 12},
                "encoding": {"text": {"field": "value", "type": "quantitative", "format": ",.1f"}},
            },
        ],
        "encoding": {
            "y": {"field": "city", "type": "nominal", "sort": order, "title": None},
            "x": {"field": "value", "type": "quantitative", "title": measure.unit},
        },
    }
    notes = sorted(
        {STANDARDISATION_LABELS.get(v.standardisation, v.standardisation) for v in measure.values}
    )
    table = Table(
        [
            "city",
            "country",
            "value",
            "unit",
            "year",
            "geography",
            "standardisation",
            "collection",
            "source",
            "source_url",
            "retrieved",
            "caveat",
        ],
        [
            [
                v.city,
                v.country,
                v.value,
                measure.unit,
                v.year,
                v.geography,
                v.standardisation,
                v.collection,
                v.source_title,
                v.source_url,
                v.retrieved,
                v.caveat,
            ]
            for v in measure.values
        ],
    )
    description = _city_description(measure, home)
    return Chart(
        f"city-{measure.slug}",
        measure.name,
        render_svg(spec, description),
        description,
        table,
        notes,
        measure,
    )


def _theme_rows(review: Review) -> list[list[Any]]:
    rows = []
    for theme in review.aspirations + review.commitments:
        for f in theme.figures:
            target = next((t for t in f.targets if t.status != "not set"), None)
            rows.append(
                [
                    theme.kind,
                    theme.slug,
                    f.indicator_id,
                    f.name,
                    f.period,
                    f.value,
                    f.lower95,
                    f.upper95,
                    f.england,
                    f.comparison,
                    f.trend,
                    f.change.previous_period if f.change else None,
                    f.change.previous_value if f.change else None,
                    f.change.outcome if f.change else None,
                    f.change.p if f.change else None,
                    target.status if target else None,
                    target.projected if target else None,
                    f.variation.lowest.value if f.variation and f.variation.lowest else None,
                    f.variation.highest.value if f.variation and f.variation.highest else None,
                    f.variation.sii.value if f.variation and f.variation.sii else None,
                ]
            )
    return rows


FIGURE_COLUMNS = (
    "theme_kind",
    "theme",
    "indicator_id",
    "indicator",
    "period",
    "value",
    "lower_ci95",
    "upper_ci95",
    "england",
    "compared_to_england",
    "recent_trend",
    "previous_period",
    "previous_value",
    "change",
    "change_p",
    "target_status",
    "target_projection",
    "borough_lowest",
    "borough_highest",
    "sii",
)


def figure_table(review: Review) -> Table:
    return Table(FIGURE_COLUMNS, _theme_rows(review))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _figure_data(f: Figure) -> dict[str, Any]:
    data = asdict(f)
    data["href"] = f.href
    return _plain(data)  # type: ignore[no-any-return]


def review_data(review: Review) -> dict[str, Any]:
    """The JSON twin: every number of the review, with the method behind it."""
    d = review.delivery
    return {
        "year": review.year,
        "partnership": review.partnership,
        "city": review.city,
        "city_code": review.city_code,
        "illustrative": review.illustrative,
        "previous_year": review.previous_year,
        "years": review.years,
        "summary": _plain(asdict(review.summary)),
        "aspirations": [
            {
                "slug": t.slug,
                "number": t.number,
                "title": t.title,
                "href": t.href,
                "indicators": [f.indicator_id for f in t.figures],
            }
            for t in review.aspirations
        ],
        "commitments": [
            {
                "slug": t.slug,
                "number": t.number,
                "statement": t.title,
                "href": t.href,
                "indicators": [f.indicator_id for f in t.figures],
            }
            for t in review.commitments
        ],
        "figures": {k: _figure_data(f) for k, f in review.figures.items()},
        "delivery": _plain(
            {
                **asdict(d),
                "budget": d.budget,
                "baseline": d.baseline,
                "spend": d.spend,
                "outturn": d.outturn,
            }
        ),
        "global_cities": [_plain(asdict(m)) for m in review.cities],
        "foreword": _plain(asdict(review.foreword)) if review.foreword else None,
        "commentary": _plain(asdict(review.commentary)) if review.commentary else None,
    }


def context(review: Review, root: str = "") -> dict[str, Any]:
    """What the templates need, for the site page and the standalone document alike."""
    charts = [city_chart(m, review.city) for m in review.cities if m.values]
    return {
        "review": review,
        "charts": charts,
        "num": number,
        "with_unit": with_unit,
        "p_text": p_text,
        "money": pounds,
        "root": root,
    }


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["pounds"] = pounds
    return env


def render_html(review: Review, root: str = "") -> str:
    """The review as one self-contained HTML document (styles inline), for the command
    line and for the PDF."""
    css = Markup((TEMPLATES / "review.css").read_text())  # noqa: S704 - our own stylesheet
    template = _environment().get_template("review/document.html")
    return template.render(css=css, **context(review, root))


def render_pdf(html: str) -> bytes:
    """The same HTML as a tagged PDF/UA-1 document (WeasyPrint)."""
    from healthycity.reports.progress import render_pdf as tagged_pdf

    return tagged_pdf(html)
