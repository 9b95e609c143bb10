"""Results of a consultation: counts, percentages with Wilson intervals, charts, tables.

These are self-selected responses: the people who chose to answer, not a sample of
Londoners. The interval says how precisely the answers describe *those respondents'*
views (it is the uncertainty of a proportion, as PHE computes it), never a population
estimate, and every page, chart and download says so. That is also why consultation
answers are never pooled with polls (`engagement.polls`).

A percentage's denominator is the number of respondents who answered that question
(for a grid, that statement), so a skipped question does not read as disagreement.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from healthycity.core.charts import NHS_BLUE, NHS_TEXT, render_svg
from healthycity.core.web.twins import Table
from healthycity.engagement.questions import LIKERT, MULTIPLE, RANKING, TEXT
from healthycity.outcomes.stats import proportion

SELF_SELECTED = (
    "Self-selected responses: these are the views of the people who chose to answer, "
    "not a representative sample of Londoners. Intervals describe only these responses."
)
COLUMNS = (
    "question",
    "statement",
    "option",
    "count",
    "respondents",
    "percent",
    "lower_95",
    "upper_95",
)


@dataclass(frozen=True)
class Row:
    question: str
    statement: str | None
    option: str
    count: int
    respondents: int
    percent: float | None
    lower: float | None
    upper: float | None

    def cells(self) -> list[Any]:
        return [
            self.question,
            self.statement,
            self.option,
            self.count,
            self.respondents,
            self.percent,
            self.lower,
            self.upper,
        ]


@dataclass(frozen=True)
class QuestionResult:
    question: dict[str, Any]
    rows: list[Row]
    answered: int

    @property
    def is_text(self) -> bool:
        return bool(self.question["kind"] == TEXT)


def _rows(
    question: str, statement: str | None, options: list[str], counts: Counter[str], n: int
) -> list[Row]:
    if n == 0:
        return [Row(question, statement, o, 0, 0, None, None, None) for o in options]
    estimate = proportion([counts[o] for o in options], [n] * len(options), multiplier=100)
    return [
        Row(
            question,
            statement,
            option,
            counts[option],
            n,
            round(float(estimate.value[i]), 1),
            round(float(estimate.lower[0.95][i]), 1),
            round(float(estimate.upper[0.95][i]), 1),
        )
        for i, option in enumerate(options)
    ]


def tally(questions: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[QuestionResult]:
    """Each question's rows: for ranking, how often each option was ranked first."""
    out = []
    for q in questions:
        given = [a[q["id"]] for a in answers if q["id"] in a]
        options = list(q.get("options", []))
        if q["kind"] == TEXT:
            out.append(QuestionResult(q, [], len(given)))
            continue
        if q["kind"] == LIKERT:
            rows: list[Row] = []
            for statement in q["statements"]:
                picks = [g[statement] for g in given if statement in g]
                rows += _rows(q["id"], statement, options, Counter(picks), len(picks))
            out.append(QuestionResult(q, rows, len(given)))
            continue
        if q["kind"] == MULTIPLE:
            counts = Counter(o for g in given for o in g)
        elif q["kind"] == RANKING:
            counts = Counter(g[0] for g in given if g)
        else:
            counts = Counter(given)
        out.append(QuestionResult(q, _rows(q["id"], None, options, counts, len(given)), len(given)))
    return out


def table(results: list[QuestionResult]) -> Table:
    return Table(COLUMNS, [row.cells() for r in results for row in r.rows])


def chart(result: QuestionResult) -> Markup | None:
    """A bar per option with its 95% interval; the table beside it has the numbers."""
    if result.is_text or result.answered == 0:
        return None
    values = [
        {
            "label": (f"{r.statement}: " if r.statement else "") + r.option,
            "percent": r.percent,
            "lower": r.lower,
            "upper": r.upper,
        }
        for r in result.rows
    ]
    y = {"field": "label", "type": "nominal", "sort": None, "title": None}
    spec = {
        "width": 420,
        "height": {"step": 26},
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "bar", "color": NHS_BLUE},
                "encoding": {
                    "y": y,
                    "x": {
                        "field": "percent",
                        "type": "quantitative",
                        "scale": {"domain": [0, 100]},
                        "title": "% of those who answered (self-selected)",
                    },
                },
            },
            {
                "mark": {"type": "rule", "color": NHS_TEXT, "strokeWidth": 2},
                "encoding": {
                    "y": y,
                    "x": {"field": "lower", "type": "quantitative"},
                    "x2": {"field": "upper"},
                },
            },
        ],
    }
    top = max(result.rows, key=lambda r: r.count)
    description = (
        f"Bar chart of answers to '{result.question['text']}' from {result.answered} "
        f"self-selected respondents; most chose {top.option} ({top.percent}%). "
        "The table below gives every figure with its 95% interval."
    )
    return render_svg(spec, description)
