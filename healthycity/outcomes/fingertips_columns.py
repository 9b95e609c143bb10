"""Fingertips' CSV format as data: column names, and how its words map onto ours.

One place for the names, so the importer, the exporter and the dashboard's CSV twins
cannot drift apart (the export must re-import unchanged).
"""

from __future__ import annotations

import re

from healthycity.outcomes import models as m

INDICATOR_ID = "Indicator ID"
INDICATOR_NAME = "Indicator Name"
PARENT_CODE = "Parent Code"
PARENT_NAME = "Parent Name"
AREA_CODE = "Area Code"
AREA_NAME = "Area Name"
AREA_TYPE = "Area Type"
SEX = "Sex"
AGE = "Age"
CATEGORY_TYPE = "Category Type"
CATEGORY = "Category"
TIME_PERIOD = "Time period"
VALUE = "Value"
LOWER_95 = "Lower CI 95.0 limit"
UPPER_95 = "Upper CI 95.0 limit"
LOWER_998 = "Lower CI 99.8 limit"
UPPER_998 = "Upper CI 99.8 limit"
COUNT = "Count"
DENOMINATOR = "Denominator"
VALUE_NOTE = "Value note"
RECENT_TREND = "Recent Trend"
COMPARED_TO_ENGLAND = "Compared to England value or percentiles"
COMPARED_TO_REGION = "Compared to Region value or percentiles"
TIME_PERIOD_SORTABLE = "Time period Sortable"
NEW_DATA = "New data"
COMPARED_TO_GOAL = "Compared to goal"

# The download and API `all_data/csv` format, in Fingertips' order (DESIGN.md).
COLUMNS: tuple[str, ...] = (
    INDICATOR_ID,
    INDICATOR_NAME,
    PARENT_CODE,
    PARENT_NAME,
    AREA_CODE,
    AREA_NAME,
    AREA_TYPE,
    SEX,
    AGE,
    CATEGORY_TYPE,
    CATEGORY,
    TIME_PERIOD,
    VALUE,
    LOWER_95,
    UPPER_95,
    LOWER_998,
    UPPER_998,
    COUNT,
    DENOMINATOR,
    VALUE_NOTE,
    RECENT_TREND,
    COMPARED_TO_ENGLAND,
    COMPARED_TO_REGION,
    TIME_PERIOD_SORTABLE,
    NEW_DATA,
    COMPARED_TO_GOAL,
)

# A file without these cannot be read as observations. The others are optional: older
# downloads lack "Time period Sortable", "New data" and "Compared to goal".
REQUIRED: tuple[str, ...] = (
    INDICATOR_ID,
    INDICATOR_NAME,
    AREA_CODE,
    AREA_NAME,
    AREA_TYPE,
    SEX,
    AGE,
    TIME_PERIOD,
    VALUE,
)

# Numeric columns and the Observation field each fills.
NUMERIC: dict[str, str] = {
    VALUE: "value",
    LOWER_95: "lower_ci95",
    UPPER_95: "upper_ci95",
    LOWER_998: "lower_ci998",
    UPPER_998: "upper_ci998",
    COUNT: "count",
    DENOMINATOR: "denominator",
}

# Text columns kept on the observation.
TEXT: dict[str, str] = {
    VALUE_NOTE: "value_note",
    RECENT_TREND: "recent_trend",
    COMPARED_TO_ENGLAND: "compared_to_england",
    COMPARED_TO_REGION: "compared_to_region",
    COMPARED_TO_GOAL: "compared_to_goal",
}

# Fingertips names the parent comparison after the parent's area type ("Compared to
# Region…", "Compared to CCGs (from Apr 2021)…", "Compared to parent…"): any of them
# fills compared_to_region.
_PARENT_COMPARISON = re.compile(r"^Compared to (?!England\b)(.+?) value or percentiles$")


def is_parent_comparison(column: str) -> bool:
    return bool(_PARENT_COMPARISON.match(column)) or column == "Compared to percentiles"


# Fingertips' indicator-metadata CSV (`indicator_metadata/csv/by_indicator_id`) → Indicator.
METADATA_FIELDS: dict[str, str] = {
    "Indicator": "name",
    "Definition": "definition",
    "Rationale": "rationale",
    "Methodology": "methodology",
    "Unit": "unit",
    "Standard population/values": "standard_population",
    "Confidence interval details": "confidence_interval_method",
    "Definition of numerator": "numerator_definition",
    "Source of numerator": "numerator_source",
    "Definition of denominator": "denominator_definition",
    "Source of denominator": "denominator_source",
    "Disclosure control": "disclosure_control",
    "Caveats": "caveats",
    "Data source": "data_source",
    "Frequency": "frequency",
}
METADATA_EXTRA: tuple[str, ...] = (
    "Indicator production",
    "Indicator source",
    "Copyright",
    "Data re-use",
    "Links",
    "Indicator number",
    "Notes",
    "Rounding",
    "Year type",
    "Specific rationale",
    "Indicator Content",
)

# Order matters: the first phrase found wins ("indirectly standardised" contains
# "directly standardised").
_VALUE_TYPES: tuple[tuple[str, str], ...] = (
    ("indirectly standardised", m.ISR),
    ("standardised ratio", m.ISR),
    ("directly standardised", m.DSR),
    ("directly age-standardised", m.DSR),
    ("age standardised rate", m.DSR),
    ("age-standardised rate", m.DSR),
    ("life expectancy", m.LIFE_EXPECTANCY),
    ("slope index", m.GAP),
    ("gap", m.GAP),
    ("crude rate", m.CRUDE_RATE),
    ("rate", m.CRUDE_RATE),
    ("proportion", m.PROPORTION),
    ("percentage", m.PROPORTION),
    ("mean", m.MEAN),
    ("count", m.COUNT),
)


def value_type_from_label(label: str | None) -> str:
    """Map Fingertips' "Value type" (or a long file's "measure") onto our vocabulary."""
    if not label:
        return m.OTHER
    text = label.strip().lower()
    if text in m.VALUE_TYPES:
        return text
    for needle, value_type in _VALUE_TYPES:
        if needle in text:
            return value_type
    return m.OTHER


def polarity_from_label(label: str | None) -> str | None:
    """Map Fingertips' "Polarity" ("RAG - Low is good", "BOB - Blue orange blue", …)."""
    if not label:
        return None
    text = label.strip().lower().replace("-", " ").replace("_", " ")
    if text in {"high is good", "rag high is good"} or "high is good" in text:
        return m.HIGH_IS_GOOD
    if "low is good" in text:
        return m.LOW_IS_GOOD
    if "bob" in text or "not applicable" in text or "no judgement" in text:
        return m.NO_JUDGEMENT
    return None


def multiplier_from_unit(unit: str | None, value_type: str) -> float | None:
    """The multiplier a unit implies: "%" → 100, "per 100,000" → 100000."""
    if unit:
        text = unit.lower().replace(",", "").replace(" ", "")
        if "%" in text or "percent" in text:
            return 100.0
        match = re.search(r"per(\d+)", text)
        if match:
            return float(match.group(1))
    if value_type == m.PROPORTION:
        return 100.0
    return None


# Area types: Fingertips' descriptive names → the names the product knows (others are
# kept as given). The code prefix decides for local authorities, because the same code
# appears under "Districts & UAs" and "Counties & UAs".
_AREA_TYPE_BY_PREFIX: dict[str, str] = {
    "E92": "country",
    "E12": "region",
    "E06": "local_authority",
    "E07": "local_authority",
    "E08": "local_authority",
    "E09": "local_authority",
    "E10": "local_authority",
    "E11": "metropolitan_county",
    "E13": "inner_outer_london",
    "E40": "nhs_region",
    "E54": "sub_region",
    "E38": "sub_icb",
    "E47": "combined_authority",
}


def area_type_for(code: str, fingertips_type: str | None) -> str:
    prefix = _AREA_TYPE_BY_PREFIX.get(code[:3])
    if prefix:
        return prefix
    if fingertips_type:
        text = fingertips_type.strip().lower()
        if text == "england":
            return "country"
        if text.startswith("region"):
            return "region"
        return fingertips_type.strip()[:80]
    return "unknown"


def sortable_period(period: str) -> int:
    """Fingertips' "Time period Sortable" for a period label when a file lacks it.

    "2017/18" → 20170000, "2015 - 17" → 20150000, "2019 Q3" → 20190300,
    "2019/20 Q1" → 20190100, "Mar 2020" → 20200300. Unknown shapes give 0, which
    sorts first rather than failing the import.
    """
    match = re.search(r"(19|20)\d\d", period)
    if not match:
        return 0
    year = int(match.group(0))
    sub = 0
    quarter = re.search(r"Q([1-4])", period)
    if quarter:
        sub = int(quarter.group(1)) * 100
    else:
        months = (
            "jan",
            "feb",
            "mar",
            "apr",
            "may",
            "jun",
            "jul",
            "aug",
            "sep",
            "oct",
            "nov",
            "dec",
        )
        lowered = period.lower()
        for number, month in enumerate(months, start=1):
            if re.search(rf"\b{month}", lowered):
                sub = number * 100
                break
    return year * 10000 + sub
