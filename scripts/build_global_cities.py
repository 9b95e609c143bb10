"""Rebuild the London pack's ``global_cities.csv`` from the OECD series in ../shared.

    .venv/bin/python scripts/build_global_cities.py [--shared ../shared] [--check]

The London Health Commission compared London with nine other major cities in 2014
(Sydney, Toronto, Paris, Tokyo, New York, Hong Kong, Johannesburg, Madrid and São
Paulo). No open table of those cities' own (city or metropolitan) figures could be
found, so this script ships what can be sourced honestly: the OECD's national series for
each city's country, labelled "national" (the country standing in for the city) on every
row and chart. Hong Kong is not in the OECD series, so it has no figure, and the review
says so rather than filling the gap.

Figures are for YEAR (2019, the last year before the pandemic, when every country in
the set reported); where a country's 2019 figure is missing, the latest earlier year
within five years is used and the caveat says so. Figures known not to be comparable are
recorded as gaps with the reason (``EXCLUDED``), as are cities the series does not
cover: a row with no value and a caveat saying why. ``--check`` fails when the shipped file differs
from what the script would write (the tests run it).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "healthycity" / "packs" / "london" / "global_cities.csv"
YEAR = 2019
RETRIEVED = "2023-01"  # the OECD extract's download month, as the shared README gives it

# The London Health Commission's ten cities (2014), with the OECD code of their country.
CITIES = (
    ("London", "United Kingdom", "GBR"),
    ("New York", "United States", "USA"),
    ("Paris", "France", "FRA"),
    ("Tokyo", "Japan", "JPN"),
    ("Sydney", "Australia", "AUS"),
    ("Toronto", "Canada", "CAN"),
    ("Madrid", "Spain", "ESP"),
    ("Johannesburg", "South Africa", "ZAF"),
    ("São Paulo", "Brazil", "BRA"),
    ("Hong Kong", "China (Hong Kong SAR)", "HKG"),
)

# (file, subject, measure slug, name, unit, standardisation, source title, address, caveat)
MEASURES = (
    (
        "DP_LIVE_LIFE_EXP_BIRTH.csv",
        "TOT",
        "life-expectancy-at-birth",
        "Life expectancy at birth, persons",
        "years",
        "life-table",
        "OECD (2023), Life expectancy at birth (indicator)",
        "https://data.oecd.org/healthstat/life-expectancy-at-birth.htm",
        "National figure standing in for the city; London's own life expectancy differs "
        "from the UK's.",
    ),
    (
        "DP_LIVE_INFANT_MORT.csv",
        "TOT",
        "infant-mortality",
        "Infant mortality",
        "deaths per 1,000 live births",
        "crude",
        "OECD (2023), Infant mortality rates (indicator)",
        "https://data.oecd.org/healthstat/infant-mortality-rates.htm",
        "National figure standing in for the city. Countries differ in how they register "
        "very premature births, which affects comparisons.",
    ),
    (
        "DP_LIVE_SUICIDE.csv",
        "TOT",
        "suicide-rate",
        "Suicide rate, persons",
        "deaths per 100,000 population (age-standardised)",
        "age-standardised",
        "OECD (2023), Suicide rates (indicator)",
        "https://data.oecd.org/healthstat/suicide-rates.htm",
        "National figure standing in for the city. Recording of suicide as a cause of "
        "death differs between countries.",
    ),
)

# Figures recorded as gaps however the data look, and why (said in the pack's README too).
EXCLUDED = {
    ("ZAF", "suicide-rate"): "0.6 per 100,000 reflects under-recorded causes of death",
}

COLUMNS = (
    "city",
    "country",
    "measure",
    "measure_name",
    "value",
    "unit",
    "year",
    "geography",
    "standardisation",
    "collection",
    "source_title",
    "source_url",
    "retrieved",
    "caveat",
)


def _series(path: Path, subject: str) -> dict[str, dict[int, str]]:
    """Country → year → value (as the file writes it) for one OECD subject."""
    found: dict[str, dict[int, str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["SUBJECT"] != subject or row["FREQUENCY"] != "A" or not row["Value"]:
                continue
            found.setdefault(row["LOCATION"], {})[int(row["TIME"])] = row["Value"]
    return found


def build(shared: Path) -> str:
    folder = shared / "data" / "global_cities" / "oecd_country"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for file, subject, slug, name, unit, standard, title, url, caveat in MEASURES:
        series = _series(folder / file, subject)
        for city, country, code in CITIES:
            years = [y for y in series.get(code, {}) if YEAR - 5 <= y <= YEAR]
            gap = EXCLUDED.get((code, slug))
            if gap is None and not years:
                gap = f"{country} is not in this OECD series"
            if gap is not None:
                writer.writerow(
                    (city, country, slug, name, "", unit, YEAR, "national", standard)
                    + ("measured", title, url, RETRIEVED, f"No comparable figure: {gap}.")
                )
                continue
            year = max(years)
            note = caveat
            if year != YEAR:
                note += f" The latest figure on or before {YEAR} is for {year}."
            value = series[code][year]
            writer.writerow(
                (city, country, slug, name, value, unit, year, "national", standard)
                + ("measured", title, url, RETRIEVED, note)
            )
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = build(args.shared)
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run scripts/build_global_cities.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)) - 1} rows to {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
