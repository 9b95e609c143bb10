"""Page data for the public outcomes dashboard: what each page shows, in words and numbers.

Why a package between the queries and the pages: a page is more than a query. It picks
the areas to show, the benchmark the reader chose, the chart to draw and, above all, the
*words* — "worse than England", "increasing and getting better", "off track" — that make
a comparison readable without colour. Keeping that here means the HTML page, its
``.json`` and ``.csv`` twins, each chart's data download and the static export all say
the same thing, and the templates only lay it out.

Everything is read through ``healthycity.outcomes.queries`` (which applies the statistics
team's judgements) and cached per *data version* (`cache`). One module per page family —
`home`, `themes` (aspirations and commitments), `indicator` (with `indicator_charts`),
`area`, `inequalities` (with `sii`), `search`, `lists` (``/indicators``, ``/areas``) —
over the shared `words`, `choices` (the reader's `IndicatorQuery`), `cache` and `common`
(charts, geography, indicator lines);
`sitemap` lists every page for the static export. Import from the package.
"""

from healthycity.core.errors import NotFound
from healthycity.outcomes.dashboard.area import AreaPage, area_page, area_profile
from healthycity.outcomes.dashboard.cache import PageCache, cached, cached_page, data_version
from healthycity.outcomes.dashboard.choices import (
    BENCHMARK_CHOICES,
    BadChoice,
    IndicatorQuery,
    check_comparison,
    unusable_key,
)
from healthycity.outcomes.dashboard.common import Chart
from healthycity.outcomes.dashboard.home import HomeData, home
from healthycity.outcomes.dashboard.indicator import IndicatorPage, indicator_page
from healthycity.outcomes.dashboard.inequalities import InequalitiesPage, inequalities
from healthycity.outcomes.dashboard.lists import (
    AreaListPage,
    IndicatorListPage,
    area_list,
    indicator_list,
    pack_indicator_ids,
)
from healthycity.outcomes.dashboard.search import SearchPage, search
from healthycity.outcomes.dashboard.sii import deprivation_rank
from healthycity.outcomes.dashboard.sitemap import site_paths
from healthycity.outcomes.dashboard.themes import ThemeData, aspiration, commitment
from healthycity.outcomes.dashboard.words import (
    comparison_words,
    fmt,
    method_words,
    outcome_tag,
    tile_label,
)

__all__ = [
    "BENCHMARK_CHOICES",
    "AreaListPage",
    "AreaPage",
    "BadChoice",
    "Chart",
    "HomeData",
    "IndicatorListPage",
    "IndicatorPage",
    "IndicatorQuery",
    "InequalitiesPage",
    "NotFound",
    "PageCache",
    "SearchPage",
    "ThemeData",
    "area_list",
    "area_page",
    "area_profile",
    "aspiration",
    "cached",
    "cached_page",
    "check_comparison",
    "commitment",
    "comparison_words",
    "data_version",
    "deprivation_rank",
    "fmt",
    "home",
    "indicator_list",
    "indicator_page",
    "inequalities",
    "method_words",
    "outcome_tag",
    "pack_indicator_ids",
    "search",
    "site_paths",
    "tile_label",
    "unusable_key",
]
