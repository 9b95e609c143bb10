"""The words the pages use: numbers as people read them, and every comparison, trend and
target status said in words (and the NHS tag that colours it), so the HTML, the twins and
the chart downloads all say the same thing.
"""

from __future__ import annotations

import re

from healthycity.geography.models import COUNTRY, LOCAL_AUTHORITY, REGION, SUB_REGION
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q


def fmt(value: float | None, decimals: int | None = None) -> str:
    """A number as people read it: thousands separated, a sensible number of places."""
    if value is None or value != value:  # NaN
        return "no data"
    places = 1 if decimals is None else decimals
    if decimals is None and abs(value) >= 1000:
        places = 0
    return f"{value:,.{places}f}"


def with_unit(text: str, unit: str | None) -> str:
    if text == "no data" or not unit:
        return text
    if unit.strip() == "%":
        return f"{text}%"
    return f"{text} {unit.strip()}"


def interval(lower: float | None, upper: float | None, decimals: int | None) -> str:
    if lower is None or upper is None:
        return ""
    return f"{fmt(lower, decimals)} to {fmt(upper, decimals)}"


_OUTCOME_PHRASES = {
    "better": "better than",
    "similar": "similar to",
    "worse": "worse than",
    "higher": "higher than",
    "lower": "lower than",
}


_OUTCOME_TAGS = {
    "better": "nhsuk-tag--green",
    "similar": "nhsuk-tag--yellow",
    "worse": "nhsuk-tag--red",
    "higher": "nhsuk-tag--blue",
    "lower": "nhsuk-tag--purple",
    "not compared": "nhsuk-tag--grey",
}


_TARGET_TAGS = {
    "achieved": "nhsuk-tag--green",
    "on track": "nhsuk-tag--aqua-green",
    "off track": "nhsuk-tag--red",
    "not set": "nhsuk-tag--grey",
    "not enough data": "nhsuk-tag--white",
}


def is_demo_note(note: str | None) -> bool:
    """The generator's own note: the banner already says it, once, for every figure."""
    from healthycity.outcomes.demo import NOTE

    return note == NOTE


def outcome_of(judgement: q.Judgement | None) -> str:
    return judgement.outcome if judgement is not None else "not compared"


def base_outcome(outcome: str) -> str:
    """'better (99.8%)' → 'better': the word the colours and counts go by."""
    return outcome.split(" (")[0].strip().lower() or "not compared"


def outcome_level(outcome: str) -> str:
    """'better (99.8%)' → '99.8%'; '' for a one-level or overlap judgement."""
    found = re.search(r"\(([\d.]+%)\)", outcome)
    return found.group(1) if found else ""


def chart_outcome(outcome: str) -> str:
    """The category a chart colours by: the outcome, with its level for two levels."""
    level = outcome_level(outcome)
    base = base_outcome(outcome)
    return f"{base} ({level})" if level and base != "similar" else base


def comparison_words(outcome: str, benchmark_name: str) -> str:
    """'Worse than England', 'Similar to London', 'Not compared'; with two levels,
    'Better than England at 99.8%' (significant at 99.8%, so at 95% too)."""
    phrase = _OUTCOME_PHRASES.get(base_outcome(outcome))
    if phrase is None:
        return "Not compared"
    level = outcome_level(outcome)
    suffix = f" at {level}" if level else ""
    return f"{phrase[:1].upper()}{phrase[1:]} {benchmark_name}{suffix}"


# With two levels, a difference significant only at 95% gets the lighter tag.
_OUTCOME_TAGS_95 = {"better": "nhsuk-tag--aqua-green", "worse": "nhsuk-tag--orange"}


def outcome_tag(outcome: str) -> str:
    base = base_outcome(outcome)
    if outcome_level(outcome) == "95%" and base in _OUTCOME_TAGS_95:
        return _OUTCOME_TAGS_95[base]
    return _OUTCOME_TAGS.get(base, "nhsuk-tag--grey")


def method_words(info: q.IndicatorInfo, comparison: str, benchmark_name: str) -> str:
    """'Compared with England using 99.8% confidence intervals' (``compare.Plan``)."""
    from healthycity.outcomes.compare import plan

    return plan(comparison, info.comparison_level).describe(benchmark_name)


def area_method_words(comparison: str, benchmark_name: str) -> str:
    """The method in words for a page of many indicators, whose default levels differ."""
    from healthycity.outcomes.compare import plan

    if comparison == "default":
        return (
            f"Compared with {benchmark_name} using each indicator's default confidence "
            "intervals (95% unless its published data use 99.8%)"
        )
    return plan(comparison).describe(benchmark_name)


def trend_words(trend: q.Trend | None) -> str:
    if trend is None:
        return "Cannot be calculated"
    text = str(trend.outcome)
    return text[:1].upper() + text[1:]


def trend_tag(trend: q.Trend | None) -> str:
    text = str(trend.outcome) if trend is not None else ""
    if "better" in text:
        return "nhsuk-tag--green"
    if "worse" in text:
        return "nhsuk-tag--red"
    if text in ("increasing", "decreasing"):
        return "nhsuk-tag--blue"
    if "no significant" in text:
        return "nhsuk-tag--grey"
    return "nhsuk-tag--white"


def target_words(status: str) -> str:
    text = str(status).replace("_", " ")
    return text[:1].upper() + text[1:]


def target_tag(status: str) -> str:
    return _TARGET_TAGS.get(str(status).replace("_", " "), "nhsuk-tag--grey")


def polarity_words(polarity: str | None) -> str:
    return {
        m.HIGH_IS_GOOD: "A higher value is better",
        m.LOW_IS_GOOD: "A lower value is better",
        m.NO_JUDGEMENT: "Neither higher nor lower is judged better",
    }.get(polarity or "", "Not stated (values are compared as higher or lower)")


VALUE_TYPE_WORDS = {
    m.PROPORTION: "Proportion",
    m.CRUDE_RATE: "Crude rate",
    m.DSR: "Directly standardised rate",
    m.ISR: "Indirectly standardised ratio or rate",
    m.MEAN: "Mean",
    m.LIFE_EXPECTANCY: "Life expectancy",
    m.COUNT: "Count",
    m.GAP: "Gap",
    m.OTHER: "Other",
}


SOURCE_WORDS = {
    m.SOURCE_PACK: "City pack catalogue",
    m.SOURCE_FINGERTIPS: "Loaded from Fingertips",
    m.SOURCE_CSV: "Loaded from a local file",
    m.SOURCE_DEMO: "Made up by the demonstration data (illustrative)",
}


TYPE_WORDS = {
    COUNTRY: "Country",
    REGION: "Region",
    SUB_REGION: "Sub-region",
    LOCAL_AUTHORITY: "Local authority",
}


def tile_label(name: str, taken: set[str]) -> str:
    """A three-letter label for a tile, unique on the map (the table names every area)."""
    letters = re.sub(r"[^A-Za-z]", "", name).upper()
    words = [w for w in re.split(r"[^A-Za-z]+", name) if w and w.lower() not in ("and", "of")]
    consonants = letters[:1] + re.sub(r"[AEIOU]", "", letters[1:])
    candidates = [
        letters[:3],
        consonants[:3],
        "".join(w[0] for w in words)[:3].upper(),
        (letters[:1] + letters[2:4]),
        (letters[:2] + letters[-1:]),
    ]
    for candidate in candidates:
        if len(candidate) == 3 and candidate not in taken:
            taken.add(candidate)
            return candidate
    for i in range(1, 100):
        candidate = f"{letters[:2]}{i}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    return letters[:3]


def short(name: str, limit: int = 38) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"
