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
    """The outcome a page shows: "better", "better (99.8%)", or "better (as published)"
    when the data have no interval and the publisher's judgement is shown
    (``queries.Judgement.label``); the colour and the counts go by the first word."""
    return judgement.label if judgement is not None else "not compared"


PUBLISHED_SUFFIX = f" ({q.AS_PUBLISHED})"
# How a judgement taken from the publisher was made, for the method column of a twin.
PUBLISHED_METHOD = (
    "As published: the data have no confidence interval to judge here, so the "
    "publisher's own comparison is shown"
)


def is_published(outcome: str) -> bool:
    """Whether an outcome (``outcome_of``) is the publisher's judgement, not ours."""
    return outcome.endswith(PUBLISHED_SUFFIX)


def row_method(outcome: str, method_text: str) -> str:
    """The method of one row: ours, or "as published" for the publisher's judgement."""
    return PUBLISHED_METHOD if is_published(outcome) else method_text


def judged_words(method_text: str, outcomes: list[str]) -> str:
    """How a set of areas was compared, in words: our method, "as published" when every
    judgement is the publisher's, or both when some areas have intervals and some not."""
    published = sum(1 for o in outcomes if is_published(o))
    if not published:
        return method_text
    if published == sum(1 for o in outcomes if base_outcome(o) != "not compared"):
        return "Judgements as published (the data have no confidence intervals to judge here)"
    return f"{method_text}; {published} judgements as published (no interval to judge here)"


_COMPUTED = re.compile(r"\((\d+) of (\d+) boroughs")


def source_note(point: q.Point | None) -> str:
    """Where a figure comes from, when it is not simply as published: "computed from the
    boroughs (32 of 33)" for a roll-up (``healthycity.outcomes.aggregate``), else ""."""
    if point is None or not point.computed:
        return ""
    found = _COMPUTED.search(point.value_note or "")
    counted = f" ({found.group(1)} of {found.group(2)})" if found else ""
    return f"computed from the boroughs{counted}"


def data_kind(illustrative: bool, has_data: bool) -> str:
    """What kind of figures a page shows, in words the page and its twins share."""
    if not has_data:
        return "no data loaded"
    return "illustrative (generated, not real measurements)" if illustrative else "published"


def base_outcome(outcome: str) -> str:
    """'better (99.8%)' or 'better (as published)' → 'better': the word the colours and
    counts go by."""
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
    'Better than England at 99.8%' (significant at 99.8%, so at 95% too); the
    publisher's judgement says so: 'Better than England (as published)'."""
    phrase = _OUTCOME_PHRASES.get(base_outcome(outcome))
    if phrase is None:
        return "Not compared"
    level = outcome_level(outcome)
    suffix = f" at {level}" if level else ""
    if is_published(outcome):
        suffix += PUBLISHED_SUFFIX
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


def trend_method(trend: q.Trend | None, points: int, name: str = "the city") -> str:
    """Which test made the trend (``queries.Trend.method``), or why there is none:
    Fingertips' recent trend needs the last five periods with a value."""
    from healthycity.outcomes.trend import POINTS

    if trend is None:
        if not points:
            return f"Not tested: {name} has no figure in any period"
        return (
            f"Not tested: the recent trend needs {POINTS} periods with a value, and "
            f"{name} has {points}"
        )
    if trend.reason:
        return f"{trend.method}: {trend.reason}"
    return f"Tested by {trend.method}"


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
