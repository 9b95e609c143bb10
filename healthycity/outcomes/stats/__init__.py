"""PHE indicator statistics as pure, vectorised functions over numpy arrays.

One module per method, each citing its source; the methods and their checks against
The PHE R package's published test data are described in ``docs/statistics.md``.
Importing the package imports numpy (scipy is loaded only when a function needs it).
Several functions share their module's name (``proportion``, ``mean``, ``dsr``, ``sii``,
``life_expectancy``); importing them here, eagerly, makes the package attribute the
function rather than the submodule.

    from healthycity.outcomes.stats import proportion
    est = proportion([65], [100], confidence=(0.95, 0.998), multiplier=100)
    est.value, est.lower[0.95], est.method   # 65.0, 55.25..., "Wilson"
"""

from __future__ import annotations

from healthycity.outcomes.stats._levels import DEFAULT_LEVELS, parse_levels
from healthycity.outcomes.stats.dsr import dsr
from healthycity.outcomes.stats.errors import StatsInputError, StatsWarning
from healthycity.outcomes.stats.esp2013 import ESP2013, ESP2013_WEIGHTS
from healthycity.outcomes.stats.funnel import (
    FunnelLimits,
    FunnelPoints,
    FunnelSignificance,
    funnel_axis,
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_limits,
    rate_funnel_points,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
)
from healthycity.outcomes.stats.isr import indirectly_standardised, isr_rate, isr_ratio
from healthycity.outcomes.stats.life_expectancy import (
    STANDARD_START_AGES,
    life_expectancy,
)
from healthycity.outcomes.stats.mean import mean, mean_from_summary
from healthycity.outcomes.stats.poisson import byar_limits, exact_limits
from healthycity.outcomes.stats.proportion import proportion, wilson_limits
from healthycity.outcomes.stats.quantiles import Quantiles, assign_quantiles
from healthycity.outcomes.stats.rate import crude_rate
from healthycity.outcomes.stats.result import Estimate
from healthycity.outcomes.stats.sii import SIIResult, sii

__all__ = [
    "StatsInputError",
    "StatsWarning",
    "Estimate",
    "proportion",
    "wilson_limits",
    "crude_rate",
    "exact_limits",
    "byar_limits",
    "mean",
    "mean_from_summary",
    "dsr",
    "ESP2013",
    "ESP2013_WEIGHTS",
    "indirectly_standardised",
    "isr_ratio",
    "isr_rate",
    "life_expectancy",
    "STANDARD_START_AGES",
    "sii",
    "SIIResult",
    "assign_quantiles",
    "Quantiles",
    "FunnelLimits",
    "FunnelPoints",
    "FunnelSignificance",
    "funnel_axis",
    "proportion_funnel_limits",
    "proportion_funnel_significance",
    "ratio_funnel_limits",
    "ratio_funnel_significance",
    "rate_funnel_limits",
    "rate_funnel_significance",
    "rate_funnel_points",
    "parse_levels",
    "DEFAULT_LEVELS",
]
