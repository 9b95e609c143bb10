"""Checks every importer runs before writing: "bad input gets a clear error".

Each refusal names the file, the row (as a spreadsheet counts it: the header is row 1),
the column and the reason; a file with any refused row writes nothing (the importers
run in one transaction and raise before writing). What is refused (issue 12, item 6):

- a cell holding a NUL byte, or longer than ``max_cell_bytes`` (default
  ``MAX_CELL_BYTES``, 10 KB; ``--max-cell-bytes`` on the load commands);
- a file with a header and no data rows;
- a number that is not finite (``NaN``, ``inf``, or one too large for a double, such
  as ``1e309``);
- a negative count or denominator;
- a lower confidence limit above its upper limit, and a value outside its own interval;
- a proportion outside 0–100 % (0–1 when the multiplier is 1);
- a time period that is not one of Fingertips' forms (``2018``, ``2018/19``,
  ``2016 - 18``, ``2019 Q3``, ``2018/19 Q2``, ``Mar 2020``, ``Aug 2018 - Jul 2019``…);
- an area code that is neither an ONS (GSS) code (a letter and eight digits, such as
  ``E09000001``) nor an NHS organisation (ODS) code of three to six capitals and digits
  (GP practices ``F83004``, PCNs ``U12345``, CCGs ``08H``), which Fingertips also
  publishes;
- an identifier (indicator id, area code, period, sex, age, category) longer than the
  store keeps (the lengths of the ``observation`` and ``area`` columns).

Checks are vectorised over a Polars frame; only failing rows are listed, at most
``SHOWN`` per kind (the rest are counted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.problems import ProblemList

if TYPE_CHECKING:
    import polars as pl

MAX_CELL_BYTES = 10 * 1024
SHOWN = 50
# GSS codes (ONS): a letter and eight digits; ODS codes (NHS organisations).
AREA_CODE_PATTERN = r"^(?:[A-Z][0-9]{8}|[A-Z0-9]{3,6})$"
# The longest identifier each key column holds in the store.
IDENTIFIER_LENGTHS: dict[str, int] = {
    "indicator_id": 100,
    "area_code": 16,
    "period": 40,
    "sex": 40,
    "age": 60,
    "category_type": 200,
    "category": 200,
}
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december|sept"
)
_TOKEN = rf"(?:(?:19|20)[0-9]{{2}}|[0-9]{{2}}|Q[1-4]|(?i:{_MONTHS}))"
PERIOD_PATTERN = rf"^{_TOKEN}(?:\s*(?:/|-|–|to)?\s*{_TOKEN})*$"
_PERIOD = re.compile(PERIOD_PATTERN)
_YEAR = re.compile(r"(19|20)[0-9]{2}")


def is_period(label: str) -> bool:
    """A Fingertips time period label: years, two-digit years, quarters and months,
    joined by "/", "-" or spaces, with at least one four-digit year."""
    return bool(_PERIOD.match(label.strip())) and bool(_YEAR.search(label))


@dataclass
class Finding:
    """One kind of refusal: the first rows found and how many in all."""

    column: str
    shown: list[tuple[int, str]] = field(default_factory=list)
    total: int = 0


@dataclass
class Checker:
    """Collects refusals across the chunks of one file, then reports them.

    ``labels`` maps an observation field (``count``, ``area_code``…) to the file's own
    column name, so problems name the column the reader sees.
    """

    labels: Mapping[str, str]
    max_cell_bytes: int = MAX_CELL_BYTES
    data_rows: int = 0
    findings: dict[str, Finding] = field(default_factory=dict)
    # Proportion range problems wait for the file's value types and multipliers.
    ranges: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    range_totals: dict[str, tuple[int, int]] = field(default_factory=dict)

    def _add(self, kind: str, column: str, rows: pl.DataFrame, total: int) -> None:
        finding = self.findings.setdefault(kind, Finding(column))
        finding.total += total
        room = SHOWN - len(finding.shown)
        if room > 0:
            finding.shown.extend((int(r), str(t)) for r, t in rows.head(room).iter_rows())

    def cells(self, frame: pl.DataFrame) -> None:
        """NUL bytes and oversized cells in a frame of raw text cells (with ``_row``)."""
        import polars as pl

        self.data_rows += frame.height
        for column, dtype in frame.schema.items():
            if column == "_row" or dtype != pl.Utf8:
                continue
            cell = pl.col(column)
            nul = frame.filter(cell.str.contains("\x00", literal=True))
            if nul.height:
                rows = nul.select("_row", pl.lit("holds a NUL byte (a binary file?)"))
                self._add(f"nul:{column}", column, rows, nul.height)
            big = frame.filter(cell.str.len_bytes() > self.max_cell_bytes)
            if big.height:
                reason = (
                    pl.lit("cell of ")
                    + cell.str.len_bytes().cast(pl.Utf8)
                    + pl.lit(f" bytes is over the limit of {self.max_cell_bytes} bytes")
                )
                self._add(f"size:{column}", column, big.select("_row", reason), big.height)

    def observations(self, obs: pl.DataFrame) -> None:
        """Numbers, intervals, periods, area codes and identifier lengths of an
        observation frame (``_row`` plus the store's field names)."""
        import polars as pl

        numbers: list[str] = [
            c
            for c in ("value", "lower_ci95", "upper_ci95", "lower_ci998", "upper_ci998")
            + ("count", "denominator")
            if c in obs.columns
        ]
        for name in numbers:
            cell = pl.col(name)
            self._rule(
                obs,
                f"finite:{name}",
                name,
                cell.is_nan() | cell.is_infinite(),
                pl.lit("must be a finite number (got ") + cell.cast(pl.Utf8) + pl.lit(")"),
            )
        finite = {n: pl.col(n).is_finite() for n in numbers}
        for name in ("count", "denominator"):
            if name in numbers:
                cell = pl.col(name)
                self._rule(
                    obs,
                    f"negative:{name}",
                    name,
                    finite[name] & (cell < 0),
                    pl.lit("must not be negative (got ") + _text(cell) + pl.lit(")"),
                )
        for low, high, level in (
            ("lower_ci95", "upper_ci95", "95%"),
            ("lower_ci998", "upper_ci998", "99.8%"),
        ):
            if low not in numbers or high not in numbers:
                continue
            lo, hi = pl.col(low), pl.col(high)
            self._rule(
                obs,
                f"order:{low}",
                low,
                finite[low] & finite[high] & (lo > hi),
                pl.lit(f"lower {level} limit ")
                + _text(lo)
                + pl.lit(" is above the upper limit ")
                + _text(hi),
            )
            value = pl.col("value")
            tolerance = 1e-9 * (value.abs() + 1)
            outside = (
                finite["value"]
                & finite[low]
                & finite[high]
                & (lo <= hi)
                & ((value < lo - tolerance) | (value > hi + tolerance))
            )
            self._rule(
                obs,
                f"outside:{low}",
                "value",
                outside,
                pl.lit("value ")
                + _text(value)
                + pl.lit(f" is outside its own {level} interval ")
                + _text(lo)
                + pl.lit("–")
                + _text(hi),
            )
        if "value" in numbers:
            value = pl.col("value")
            out = value.is_finite() & ((value < 0) | (value > 1))
            if "count" in numbers and "denominator" in numbers:
                # A count above its denominator is reported as that, not twice.
                out = out & ~(pl.col("count") > pl.col("denominator")).fill_null(False)
            wild = obs.filter(out)
            for indicator_id, part in wild.partition_by(
                "indicator_id", as_dict=True, include_key=True
            ).items():
                key = str(indicator_id[0])
                kept = self.ranges.setdefault(key, [])
                over100 = part.filter((pl.col("value") < 0) | (pl.col("value") > 100))
                percent, fraction = self.range_totals.get(key, (0, 0))
                self.range_totals[key] = (percent + over100.height, fraction + part.height)
                shown = [
                    (int(r), float(v))
                    for r, v in over100.select("_row", "value").head(SHOWN).iter_rows()
                ]
                shown += [
                    (int(r), float(v))
                    for r, v in part.select("_row", "value").head(SHOWN).iter_rows()
                ]
                kept.extend(shown[: max(2 * SHOWN - len(kept), 0)])
        if "period" in obs.columns:
            periods = obs.get_column("period").unique().to_list()
            bad = [p for p in periods if p and not is_period(p)]
            if bad:
                self._rule(
                    obs,
                    "period",
                    "period",
                    pl.col("period").is_in(bad),
                    pl.lit("")
                    + pl.col("period").map_elements(repr, return_dtype=pl.Utf8)
                    + pl.lit(
                        " is not a Fingertips time period (such as 2018, 2018/19, "
                        "2016 - 18, 2019 Q3 or Mar 2020)"
                    ),
                )
        if "area_code" in obs.columns:
            code = pl.col("area_code")
            self._rule(
                obs,
                "area_code",
                "area_code",
                (code != "") & ~code.str.contains(AREA_CODE_PATTERN),
                code.map_elements(repr, return_dtype=pl.Utf8)
                + pl.lit(
                    " is not an ONS area code (a letter and eight digits, "
                    "e.g. E09000001) or an NHS organisation code"
                ),
            )
        for name, limit in IDENTIFIER_LENGTHS.items():
            if name not in obs.columns:
                continue
            cell = pl.col(name)
            self._rule(
                obs,
                f"length:{name}",
                name,
                cell.str.len_chars() > limit,
                pl.lit("identifier of ")
                + cell.str.len_chars().cast(pl.Utf8)
                + pl.lit(f" characters is over the limit of {limit}"),
            )

    def _rule(
        self, obs: pl.DataFrame, kind: str, field_name: str, bad: pl.Expr, reason: pl.Expr
    ) -> None:
        found = obs.filter(bad.fill_null(False))
        if found.height:
            column = self.labels.get(field_name, field_name)
            self._add(kind, column, found.select("_row", reason.alias("_reason")), found.height)

    def report(
        self,
        problems: ProblemList,
        value_types: Mapping[str, str] | None = None,
        multipliers: Mapping[str, float | None] | None = None,
    ) -> None:
        """Add what was found to ``problems``; proportions judged by their type now known."""
        if self.data_rows == 0 and not problems:
            problems.add(None, None, "the file has a header but no data rows")
        for finding in self.findings.values():
            for row, reason in finding.shown:
                problems.add(row, finding.column, reason)
            if finding.total > len(finding.shown):
                more = finding.total - len(finding.shown)
                problems.add(None, finding.column, f"{more} more rows with the same problem")
        column = self.labels.get("value", "value")
        for indicator_id, found in self.ranges.items():
            if (value_types or {}).get(indicator_id) != m.PROPORTION:
                continue
            scale = (multipliers or {}).get(indicator_id) or 100.0
            bound = 1.0 if scale == 1 else 100.0
            shown = sorted({(r, v) for r, v in found if v < 0 or v > bound})[:SHOWN]
            unit = "0–1" if bound == 1.0 else "0–100%"
            for row, value in shown:
                problems.add(row, column, f"a proportion must be within {unit} (got {value:g})")
            total = self.range_totals[indicator_id][0 if bound == 100.0 else 1]
            if total > len(shown):
                problems.add(None, column, f"{total - len(shown)} more proportions out of range")


def _text(expr: pl.Expr) -> pl.Expr:
    import polars as pl

    return expr.cast(pl.Utf8).fill_null("empty")
