"""The two-minute summary: what got better, what got worse, what is on and off track.

Generated from the review's numbers, never typed: every sentence is made from one
finding and carries the test behind it, so a reader can see why it says "improved"
rather than "changed by chance". Only findings that pass their test are called better or
worse (the change since the previous review at the 5% level; the comparison with England
at the indicator's confidence level); everything else is counted, not claimed. Each list
shows its strongest findings first and says how many more the full review holds, so the
summary stays short enough to read in two minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from healthycity.reports.review_stats import CHANGE_METHOD, p_text

if TYPE_CHECKING:
    from healthycity.reports.review import Figure, Review

SHOWN = 4


@dataclass(frozen=True)
class Sentence:
    """One finding: ``subject`` (an indicator, linked to its page) then ``text``."""

    text: str
    test: str
    href: str | None = None
    subject: str | None = None

    @property
    def plain(self) -> str:
        return f"{self.subject}: {self.text}" if self.subject else self.text


@dataclass
class Section:
    key: str
    title: str
    sentences: list[Sentence] = field(default_factory=list)
    more: int = 0


@dataclass
class Summary:
    headline: Sentence
    sections: list[Section]


def number(value: float | None, decimals: int | None = None) -> str:
    """A figure as the review prints it: the indicator's decimals, else one place (or
    none for values of a thousand or more), with thousands separated."""
    if value is None:
        return "–"
    places = decimals if decimals is not None else (0 if abs(value) >= 1000 else 1)
    return f"{value:,.{places}f}"


def with_unit(value: float | None, figure: Figure) -> str:
    text = number(value, figure.decimals)
    unit = (figure.unit or "").strip()
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}".strip() if unit and len(unit) <= 20 else text


def _changed(figure: Figure) -> Sentence:
    change = figure.change
    assert change is not None
    verb = change.outcome
    text = (
        f"{verb} from {with_unit(change.previous_value, figure)} "
        f"({change.previous_period}) to {with_unit(figure.value, figure)} ({figure.period})."
    )
    z = f"z = {change.z:.2f}, " if change.z is not None else ""
    return Sentence(text, f"{CHANGE_METHOD}: {z}{p_text(change.p)}", figure.href, figure.name)


def _limited(section: Section, sentences: list[Sentence]) -> Section:
    section.sentences = sentences[:SHOWN]
    section.more = max(len(sentences) - SHOWN, 0)
    return section


def summarise(review: Review) -> Summary:
    figures = [f for f in review.figures.values() if f.value is not None]
    counts = {"better": 0, "similar": 0, "worse": 0}
    for f in figures:
        outcome = (f.comparison or "").split(" (")[0]
        if outcome in counts:
            counts[outcome] += 1
    other = len(figures) - sum(counts.values())
    areas_only = [f for f in review.figures.values() if f.value is None and f.period]
    if not figures:
        headline = Sentence(
            f"No indicator has a figure for {review.city} as a whole for a period ending by "
            f"the end of {review.year}; {len(areas_only)} have figures for its areas, shown "
            "below with the reason the city-wide figure is missing.",
            "No test: there is no city-wide figure to test.",
        )
        return Summary(headline, [])
    headline = Sentence(
        f"Of {len(figures)} indicators with a figure for a period ending by the end of "
        f"{review.year}, {review.city} was better than England on {counts['better']}, "
        f"similar on {counts['similar']} and worse on {counts['worse']}"
        + (f"; {other} cannot be judged better or worse" if other else "")
        + ".",
        "Fingertips' comparison: England's value against the city's 95% confidence interval "
        "(99.8% where the indicator's data use it); 'similar' means England's value lies "
        "inside it.",
    )
    moved = sorted(
        (f for f in figures if f.change is not None and f.change.significant),
        key=lambda f: f.change.p if f.change and f.change.p is not None else 1.0,
    )
    since = f"since the {review.previous_year} review" if review.previous_year else "since"
    better = _limited(
        Section("better", f"What got better {since}"),
        [_changed(f) for f in moved if f.change and f.change.outcome == "improved"],
    )
    worse = _limited(
        Section("worse", f"What got worse {since}"),
        [_changed(f) for f in moved if f.change and f.change.outcome == "worsened"],
    )
    on: list[Sentence] = []
    off: list[Sentence] = []
    for f in figures:
        for t in f.targets:
            if t.status not in ("achieved", "on track", "off track"):
                continue
            where = (
                f" (projected {with_unit(t.projected, f)} against a target of "
                f"{with_unit(t.target_value, f)})"
                if t.projected is not None and t.target_value is not None
                else ""
            )
            text = f"{t.status}{where}. The aim: {t.statement}"
            sentence = Sentence(text, t.method, f.href, f.name)
            (off if t.status == "off track" else on).append(sentence)
    sections = [
        better,
        worse,
        _limited(Section("on-track", "On track or achieved"), on),
        _limited(Section("off-track", "Off track"), off),
    ]
    for section in sections[:2]:
        if not section.sentences:
            section.sentences = [
                Sentence(
                    "No indicator changed by more than chance would explain.",
                    f"{CHANGE_METHOD}, at the 5% level",
                )
            ]
    return Summary(headline, sections)
