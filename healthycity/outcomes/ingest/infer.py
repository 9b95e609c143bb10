"""What a file without metadata still tells us about its indicators.

A Fingertips CSV says nothing of value type or polarity, yet both matter: polarity turns
a comparison into better/worse, value type decides whether a count may exceed its
denominator. Both can be read from the data themselves: a value equal to
100 × count / denominator on every row is a percentage; an area published as "Better"
than England with a higher value means high is good.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from healthycity.geography.service import ENGLAND
from healthycity.outcomes import models as m
from healthycity.outcomes.fingertips_columns import value_type_from_label

if TYPE_CHECKING:
    import polars as pl


def infer_value_types(frame: pl.DataFrame) -> dict[str, tuple[str, float | None]]:
    """Indicator id → (value type, multiplier) read from value = k × count / denominator.

    Only a clean power of ten on (nearly) every row counts; anything else is "other",
    which switches off the checks that depend on the type.
    """
    return value_types_from_ratios(value_ratios(frame))


def value_ratios(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows that can tell a value type, reduced to what ``value_types_from_ratios``
    reads: indicator, k = value × denominator / count, and whether count ≤ denominator.

    A streamed import keeps this per chunk instead of the rows themselves.
    """
    import polars as pl

    return frame.filter(
        pl.col("value").is_not_null()
        & pl.col("count").is_not_null()
        & pl.col("denominator").is_not_null()
        & (pl.col("denominator") > 0)
        & (pl.col("count") > 0)
    ).select(
        "indicator_id",
        (pl.col("value") * pl.col("denominator") / pl.col("count")).alias("_k"),
        (pl.col("count") <= pl.col("denominator")).alias("_within"),
    )


def value_types_from_ratios(rows: pl.DataFrame) -> dict[str, tuple[str, float | None]]:
    """``infer_value_types`` on the output of ``value_ratios`` (from one or many chunks)."""
    found: dict[str, tuple[str, float | None]] = {}
    for (indicator_id,), group in rows.group_by(["indicator_id"]):
        ks = group.get_column("_k")
        median = ks.median()
        if not isinstance(median, int | float) or median <= 0:
            continue
        power = 10 ** round(math.log10(median))
        close = ((ks / power - 1).abs() < 1e-3).mean()
        if not isinstance(close, float) or close < 0.9:
            continue
        within = group.get_column("_within").mean()
        if power in (1, 100) and isinstance(within, float) and within >= 0.9:
            found[str(indicator_id)] = (m.PROPORTION, float(power))
        else:
            found[str(indicator_id)] = (m.CRUDE_RATE, float(power))
    return found


def value_type_from_name(name: str) -> str | None:
    """Fingertips names often end "(%)" or say "percentage"/"proportion"."""
    lowered = name.lower()
    if "%" in name or "percentage" in lowered or "proportion" in lowered:
        return m.PROPORTION
    label = value_type_from_label(name)
    return label if label in (m.DSR, m.ISR, m.LIFE_EXPECTANCY) else None


def infer_polarities(frame: pl.DataFrame) -> dict[str, str]:
    """Indicator id → polarity, from published "Better"/"Worse" against England's value.

    An indicator published only as "Higher"/"Lower"/"Similar" has no judgement.
    """
    import polars as pl

    if "compared_to_england" not in frame.columns:
        return {}
    judged = frame.select(
        "indicator_id",
        "period",
        "sex",
        "age",
        "value",
        pl.col("compared_to_england").str.to_lowercase().alias("_said"),
    ).filter(pl.col("_said").is_not_null())
    england = frame.filter(
        (pl.col("area_code") == ENGLAND)
        & (pl.col("category_type").fill_null("") == "")
        & pl.col("value").is_not_null()
    ).select("indicator_id", "period", "sex", "age", pl.col("value").alias("_england"))
    joined = judged.join(england, on=["indicator_id", "period", "sex", "age"], how="inner")
    found: dict[str, str] = {}
    for (indicator_id,), group in judged.group_by(["indicator_id"]):
        said = group.get_column("_said")
        if said.str.starts_with("better").any() or said.str.starts_with("worse").any():
            votes = joined.filter(
                (pl.col("indicator_id") == indicator_id) & pl.col("value").is_not_null()
            ).with_columns(
                pl.when(pl.col("_said").str.starts_with("better"))
                .then(1)
                .when(pl.col("_said").str.starts_with("worse"))
                .then(-1)
                .otherwise(0)
                .alias("_good"),
                (pl.col("value") - pl.col("_england")).sign().alias("_side"),
            )
            score = (votes.get_column("_good") * votes.get_column("_side")).sum()
            if score > 0:
                found[str(indicator_id)] = m.HIGH_IS_GOOD
            elif score < 0:
                found[str(indicator_id)] = m.LOW_IS_GOOD
        elif said.str.starts_with("higher").any() or said.str.starts_with("lower").any():
            found[str(indicator_id)] = m.NO_JUDGEMENT
    return found


def infer_comparison_levels(frame: pl.DataFrame) -> dict[str, float]:
    """Indicator id → 0.998 where the published "similar"/"not similar" judgements
    against England agree better with the 99.8% interval than with the 95% one.

    Most Fingertips indicators are compared at 95%; a few at 99.8%. Only the sign of
    "similar" is used, so polarity does not matter here.
    """
    import polars as pl

    if "compared_to_england" not in frame.columns:
        return {}
    said = pl.col("compared_to_england").str.to_lowercase()
    judged = frame.filter(
        said.str.starts_with("better")
        | said.str.starts_with("worse")
        | said.str.starts_with("similar")
        | said.str.starts_with("higher")
        | said.str.starts_with("lower")
    ).select(
        "indicator_id",
        "period",
        "sex",
        "age",
        "lower_ci95",
        "upper_ci95",
        "lower_ci998",
        "upper_ci998",
        said.str.starts_with("similar").alias("_similar"),
    )
    england = frame.filter(
        (pl.col("area_code") == ENGLAND)
        & (pl.col("category_type").fill_null("") == "")
        & pl.col("value").is_not_null()
    ).select("indicator_id", "period", "sex", "age", pl.col("value").alias("_england"))
    joined = judged.join(england, on=["indicator_id", "period", "sex", "age"], how="inner")
    if joined.height == 0:
        return {}

    def agrees(lower: str, upper: str) -> pl.Expr:
        inside = (pl.col(lower) <= pl.col("_england")) & (pl.col("_england") <= pl.col(upper))
        return (inside == pl.col("_similar")).cast(pl.Int64).sum()

    scores = joined.group_by("indicator_id").agg(
        agrees("lower_ci95", "upper_ci95").alias("at95"),
        agrees("lower_ci998", "upper_ci998").alias("at998"),
    )
    return {
        str(indicator_id): 0.998
        for indicator_id, at95, at998 in scores.iter_rows()
        if at998 is not None and at95 is not None and at998 > at95
    }
