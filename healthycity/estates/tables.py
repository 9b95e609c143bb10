"""The summary and the measures as flat tables: the CSV twin and the CLI's ``--format csv``.

One row per place (London, a sub-region, an organisation), one column per figure, so a
spreadsheet can sort and filter them; the nested JSON is flattened with ``_`` joins.
"""

from __future__ import annotations

from typing import Any

from healthycity.core.web.twins import Table

FIGURE_COLUMNS = (
    "backlog_high",
    "backlog_significant",
    "backlog_moderate",
    "backlog_low",
    "backlog_total",
    "backlog_high_plus_significant",
    "backlog_critical_infrastructure_risk",
    "gross_internal_floor_area_m2",
    "backlog_per_m2",
    "high_significant_backlog_per_m2",
    "empty_m2",
    "under_used_m2",
    "empty_under_used_m2",
    "empty_pct",
    "under_used_pct",
    "empty_under_used_pct",
    "not_functionally_suitable_pct",
    "non_clinical_pct",
    "land_not_delivering_services_ha",
    "running_cost_per_m2",
    "sites",
)


def flat(entry: dict[str, Any]) -> dict[str, Any]:
    """One entry's figures with the backlog bands lifted to ``backlog_<band>``."""
    out = {k: v for k, v in entry.items() if k != "backlog"}
    out |= {f"backlog_{band}": v for band, v in entry["backlog"].items()}
    return out


def figure_row(entry: dict[str, Any]) -> list[Any]:
    values = flat(entry)
    return [values.get(c) for c in FIGURE_COLUMNS]


def summary_table(data: dict[str, Any]) -> Table:
    """London, then each sub-region, then each organisation, for the summary's year.
    ``ons_code`` is a sub-region's E54 code where the pack gives one (ODS codes are
    ``code``)."""
    rows: list[list[Any]] = [
        [data["year"], "london", "LONDON", None, "London", *figure_row(data["london"])]
    ]
    for code, entry in data["subregions"].items():
        rows.append(
            [
                data["year"],
                "subregion",
                code,
                entry.get("ons_code"),
                entry.get("name"),
                *figure_row(entry),
            ]
        )
    for code, entry in data["organisations"].items():
        rows.append(
            [data["year"], "organisation", code, None, entry.get("name"), *figure_row(entry)]
        )
    return Table(["year", "scope", "code", "ons_code", "name", *FIGURE_COLUMNS], rows)


def trend_table(trend: list[dict[str, Any]]) -> Table:
    return Table(["year", *FIGURE_COLUMNS], [[t["year"], *figure_row(t)] for t in trend])
