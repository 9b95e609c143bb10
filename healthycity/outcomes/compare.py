"""Judging an area against a benchmark the way Fingertips does.

* One level (Fingertips' default, 95%): if the benchmark value lies inside the area's
  confidence interval the area is "similar"; otherwise it is higher or lower.
* Two levels (95% and 99.8%): outside the 99.8% interval is significant at 99.8%,
  outside only the 95% interval at 95% ("better (99.8%)", "worse (95%)").
* CI overlap: when the benchmark has its own interval (another area, a previous
  period), the two are "similar" when the intervals overlap.

Polarity turns higher/lower into better/worse ("high_is_good", "low_is_good"); with
"no_judgement" the result stays "higher"/"lower". Missing values or limits give
"not compared". Quintiles rank peers (for example London's boroughs) into five groups,
by PHE's quantile rule (:mod:`.stats.quantiles`), labelled best..worst or
highest..lowest. Source: Fingertips technical guidance, "Comparing values" and
"Quintiles" (PHE/OHID).

Results are small frozen dataclasses that carry the method and the level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike

from healthycity.outcomes.stats._levels import parse_levels, percent_text
from healthycity.outcomes.stats.errors import StatsInputError


class Polarity(StrEnum):
    HIGH_IS_GOOD = "high_is_good"
    LOW_IS_GOOD = "low_is_good"
    NO_JUDGEMENT = "no_judgement"

    @classmethod
    def parse(cls, value: str | Polarity) -> Polarity:
        """Our names, or Fingertips' ("RAG - High is good", "BOB - Blue orange blue")."""
        if isinstance(value, Polarity):
            return value
        text = str(value).strip().lower().replace("-", " ").replace("_", " ")
        if "high is good" in text:
            return cls.HIGH_IS_GOOD
        if "low is good" in text:
            return cls.LOW_IS_GOOD
        if text in ("no judgement", "bob   blue orange blue", "not applicable", "none", ""):
            return cls.NO_JUDGEMENT
        if "blue orange blue" in text or "no judgement" in text:
            return cls.NO_JUDGEMENT
        raise StatsInputError(
            f"{value!r} is not a polarity: use high_is_good, low_is_good or no_judgement",
            column="polarity",
        )


class Outcome(StrEnum):
    BETTER = "better"
    SIMILAR = "similar"
    WORSE = "worse"
    HIGHER = "higher"
    LOWER = "lower"
    NOT_COMPARED = "not compared"


class Method(StrEnum):
    ONE_LEVEL = "benchmark inside the area's confidence interval"
    TWO_LEVELS = "benchmark inside the area's 95% and 99.8% confidence intervals"
    CI_OVERLAP = "confidence intervals overlap"


@dataclass(frozen=True)
class Comparison:
    """One judgement: the outcome, the level it is significant at, and how it was made."""

    outcome: Outcome
    level: float | None
    method: Method
    polarity: Polarity

    @property
    def label(self) -> str:
        """'better', 'similar', or with two levels 'better (99.8%)'."""
        if self.method is Method.TWO_LEVELS and self.level is not None:
            return f"{self.outcome.value} ({percent_text(self.level)})"
        return self.outcome.value

    @property
    def fingertips_label(self) -> str:
        """As Fingertips' CSV writes it: 'Better 95%', 'Similar', 'Not compared'."""
        text = self.outcome.value.capitalize()
        if self.outcome in (Outcome.BETTER, Outcome.WORSE) and self.level is not None:
            return f"{text} {percent_text(self.level)}"
        return text


def _judge(direction: int, polarity: Polarity) -> Outcome:
    if direction == 0:
        return Outcome.SIMILAR
    if polarity is Polarity.NO_JUDGEMENT:
        return Outcome.HIGHER if direction > 0 else Outcome.LOWER
    good = direction > 0 if polarity is Polarity.HIGH_IS_GOOD else direction < 0
    return Outcome.BETTER if good else Outcome.WORSE


def _as_array(values: ArrayLike, name: str) -> np.ndarray:
    try:
        return np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"must be numeric ({exc})", column=name) from exc


def _side(lower: np.ndarray, upper: np.ndarray, benchmark: np.ndarray) -> np.ndarray:
    """+1 where the whole interval is above the benchmark, -1 below, 0 otherwise."""
    return np.where(lower > benchmark, 1, np.where(upper < benchmark, -1, 0))


def compare_many(
    values: ArrayLike,
    lower: Mapping[float, ArrayLike],
    upper: Mapping[float, ArrayLike],
    benchmark: ArrayLike,
    *,
    polarity: str | Polarity,
    method: str | Method = Method.ONE_LEVEL,
    benchmark_lower: ArrayLike | None = None,
    benchmark_upper: ArrayLike | None = None,
) -> tuple[Comparison, ...]:
    """Judge many areas at once (vectorised); limits are keyed by level (0.95, 0.998).

    ``method``: Method.ONE_LEVEL (uses the single level given), Method.TWO_LEVELS (95%
    and 99.8%) or Method.CI_OVERLAP (needs ``benchmark_lower``/``benchmark_upper`` at the
    single level given).
    """
    pol = Polarity.parse(polarity)
    how = Method(method) if not isinstance(method, Method) else method
    lows = {parse_levels(k)[0]: _as_array(v, "lower") for k, v in lower.items()}
    highs = {parse_levels(k)[0]: _as_array(v, "upper") for k, v in upper.items()}
    value = _as_array(values, "value")
    bench = np.broadcast_to(_as_array(benchmark, "benchmark"), value.shape)
    if set(lows) != set(highs):
        raise StatsInputError("lower and upper limits must be given at the same levels")
    levels = sorted(lows)
    if how is Method.TWO_LEVELS:
        if levels != [0.95, 0.998]:
            raise StatsInputError(
                "two-level comparison needs 95% and 99.8% limits", column="confidence"
            )
    elif len(levels) != 1:
        raise StatsInputError("give limits at exactly one level", column="confidence")
    missing = np.isnan(value) | np.isnan(bench)
    for level in levels:
        missing |= np.isnan(lows[level]) | np.isnan(highs[level])
    level_hit = np.full(value.shape, np.nan)
    if how is Method.CI_OVERLAP:
        if benchmark_lower is None or benchmark_upper is None:
            raise StatsInputError(
                "CI overlap needs the benchmark's own limits", column="benchmark_lower"
            )
        b_low = np.broadcast_to(_as_array(benchmark_lower, "benchmark_lower"), value.shape)
        b_high = np.broadcast_to(_as_array(benchmark_upper, "benchmark_upper"), value.shape)
        missing |= np.isnan(b_low) | np.isnan(b_high)
        (level,) = levels
        side = np.where(lows[level] > b_high, 1, np.where(highs[level] < b_low, -1, 0))
        level_hit[side != 0] = level
    else:
        side = np.zeros(value.shape, dtype=int)
        for level in levels:
            here = _side(lows[level], highs[level], bench)
            level_hit[here != 0] = level
            side = np.where(here != 0, here, side)
    return tuple(
        Comparison(Outcome.NOT_COMPARED, None, how, pol)
        if gone
        else Comparison(_judge(int(s), pol), None if np.isnan(hit) else float(hit), how, pol)
        for gone, s, hit in zip(missing.tolist(), side.tolist(), level_hit.tolist(), strict=True)
    )


def compare(
    value: float | None,
    lower: float | None,
    upper: float | None,
    benchmark: float | None,
    *,
    polarity: str | Polarity,
    level: float = 0.95,
) -> Comparison:
    """One area against a benchmark value, at one level (95% by default)."""
    return compare_many(
        [_nan(value)],
        {level: [_nan(lower)]},
        {level: [_nan(upper)]},
        [_nan(benchmark)],
        polarity=polarity,
    )[0]


def compare_two_levels(
    value: float | None,
    lower95: float | None,
    upper95: float | None,
    lower998: float | None,
    upper998: float | None,
    benchmark: float | None,
    *,
    polarity: str | Polarity,
) -> Comparison:
    """One area against a benchmark at 95% and 99.8%: 'better (99.8%)', 'similar', ..."""
    return compare_many(
        [_nan(value)],
        {0.95: [_nan(lower95)], 0.998: [_nan(lower998)]},
        {0.95: [_nan(upper95)], 0.998: [_nan(upper998)]},
        [_nan(benchmark)],
        polarity=polarity,
        method=Method.TWO_LEVELS,
    )[0]


def compare_overlap(
    lower: float | None,
    upper: float | None,
    benchmark_lower: float | None,
    benchmark_upper: float | None,
    *,
    polarity: str | Polarity,
    level: float = 0.95,
) -> Comparison:
    """Two intervals: overlapping is 'similar', otherwise higher/lower (or better/worse)."""
    low, high = _nan(lower), _nan(upper)
    centre = (low + high) / 2.0
    return compare_many(
        [centre],
        {level: [low]},
        {level: [high]},
        [0.0],
        polarity=polarity,
        method=Method.CI_OVERLAP,
        benchmark_lower=[_nan(benchmark_lower)],
        benchmark_upper=[_nan(benchmark_upper)],
    )[0]


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


# --- the reader's choice of method -----------------------------------------------------


class Choice(StrEnum):
    """How a reader asked areas to be compared (the pages' "Comparison method").

    Fingertips lets its users switch between these, so the dashboard does too. The
    indicator's default is PHE's usual one-level test at the level its published data
    use (95% unless they showed 99.8%); the others are the alternatives in the
    Fingertips technical guidance, "Comparing values" (PHE/OHID).
    """

    DEFAULT = "default"
    ONE_LEVEL_95 = "95"
    ONE_LEVEL_998 = "99.8"
    TWO_LEVELS = "two-levels"
    CI_OVERLAP = "ci-overlap"

    @classmethod
    def parse(cls, value: str | Choice | None) -> Choice:
        """A query parameter as a choice; an empty value is the default."""
        if isinstance(value, Choice):
            return value
        text = (value or "").strip().lower()
        if not text:
            return cls.DEFAULT
        try:
            return cls(text)
        except ValueError:
            raise StatsInputError(
                f"{value!r} is not a comparison method: use " + ", ".join(c.value for c in cls),
                column="comparison",
            ) from None


@dataclass(frozen=True)
class Plan:
    """What a choice means for one indicator: the method and the levels it uses."""

    choice: Choice
    method: Method
    levels: tuple[float, ...]

    def describe(self, benchmark_name: str) -> str:
        """The method in plain words, for legends, text alternatives and the twins:
        'Compared with England using 99.8% confidence intervals'."""
        if self.method is Method.TWO_LEVELS:
            how = "using 95% and 99.8% confidence intervals (two levels)"
        elif self.method is Method.CI_OVERLAP:
            how = f"by whether the {percent_text(self.levels[0])} confidence intervals overlap"
        else:
            how = f"using {percent_text(self.levels[0])} confidence intervals"
        return f"Compared with {benchmark_name} {how}".replace("  ", " ")


def plan(choice: str | Choice | None, default_level: float | None = None) -> Plan:
    """Turn a reader's choice into a method and levels; ``default_level`` is the
    indicator's own comparison level (95% when not stated)."""
    chosen = Choice.parse(choice)
    if chosen is Choice.TWO_LEVELS:
        return Plan(chosen, Method.TWO_LEVELS, (0.95, 0.998))
    if chosen is Choice.ONE_LEVEL_998:
        return Plan(chosen, Method.ONE_LEVEL, (0.998,))
    if chosen is Choice.ONE_LEVEL_95:
        return Plan(chosen, Method.ONE_LEVEL, (0.95,))
    level = parse_levels(default_level)[0] if default_level else 0.95
    if chosen is Choice.CI_OVERLAP:
        return Plan(chosen, Method.CI_OVERLAP, (0.95,))
    return Plan(chosen, Method.ONE_LEVEL, (level,))


# --- quintiles among peers -----------------------------------------------------------

QUINTILE_JUDGED = ("worst", "worse", "middle", "better", "best")
QUINTILE_UNJUDGED = ("highest", "high", "middle", "low", "lowest")


@dataclass(frozen=True)
class Quintile:
    """An area's quintile among its peers (1 = worst, or highest without polarity)."""

    quintile: int | None
    label: str
    polarity: Polarity
    method: str = "quintiles among peers (PHE quantile rule)"


def quintiles(
    values: Sequence[float | None] | ArrayLike, *, polarity: str | Polarity
) -> tuple[Quintile, ...]:
    """Quintile of each value among all the values given (the peer group).

    With a polarity, quintile 1 is the worst fifth ("worst") and 5 the best ("best");
    with no judgement, 1 holds the highest values ("highest") and 5 the lowest.
    Missing values, or fewer than five peers, give "not compared".
    """
    import warnings

    from healthycity.outcomes.stats.errors import StatsWarning
    from healthycity.outcomes.stats.quantiles import assign_quantiles

    pol = Polarity.parse(polarity)
    raw = np.atleast_1d(np.asarray(values, dtype=object)).tolist()
    array = np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)
    invert = pol is not Polarity.HIGH_IS_GOOD
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatsWarning)
        assigned = assign_quantiles(array, 5, invert=invert).quantile
    names = QUINTILE_UNJUDGED if pol is Polarity.NO_JUDGEMENT else QUINTILE_JUDGED
    return tuple(
        Quintile(None, Outcome.NOT_COMPARED.value, pol)
        if np.isnan(q)
        else Quintile(int(q), names[int(q) - 1], pol)
        for q in assigned.tolist()
    )
