"""The search page (``/search?q=``): find an indicator or an area by name, ID or code.

Why on the server: the page must work without JavaScript, and the list it searches
(indicators and areas) is small enough to match in memory, cached per data version.
With no query the page lists everything A to Z, so the static export's copy of this
page is still a useful index when no server is there to answer a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from healthycity.core.web.twins import Table
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached
from healthycity.outcomes.dashboard.choices import check_text
from healthycity.outcomes.dashboard.words import TYPE_WORDS


@dataclass
class SearchHit:
    kind: str
    href: str
    title: str
    detail: str
    score: int


@dataclass
class SearchPage:
    query: str
    indicators: list[SearchHit]
    areas: list[SearchHit]
    table: Table


@dataclass
class _Index:
    indicators: list[tuple[str, str, str]] = field(default_factory=list)
    areas: list[tuple[str, str, str]] = field(default_factory=list)


@cached("search-index")
def _index(session: Session, cache: PageCache, version: str) -> _Index:
    return _Index(q.indicator_names(session), q.area_names(session))


def _score(query: str, words: list[str], key: str, name: str, extra: str) -> int:
    lowered = name.lower()
    if query == key.lower():
        return 100
    if lowered == query:
        return 90
    if lowered.startswith(query):
        return 70
    if all(w in lowered for w in words):
        return 50
    if all(w in f"{lowered} {extra.lower()} {key.lower()}" for w in words):
        return 20
    return 0


def search(session: Session, cache: PageCache, query: str | None) -> SearchPage:
    text = (check_text(query, "search") or "").strip()
    index = _index(session, cache, q.data_version(session))
    lowered = " ".join(text.lower().split())
    words = lowered.split()
    indicators: list[SearchHit] = []
    areas: list[SearchHit] = []
    for key, name, definition in index.indicators:
        score = _score(lowered, words, key, name, definition) if words else 1
        if score:
            indicators.append(
                SearchHit("indicator", f"/indicators/{key}", name, f"Indicator {key}", score)
            )
    for code, name, area_type in index.areas:
        score = _score(lowered, words, code, name, "") if words else 1
        if score:
            kind = TYPE_WORDS.get(area_type, area_type.replace("_", " ").capitalize())
            areas.append(SearchHit("area", f"/areas/{code}", name, f"{kind}, {code}", score))
    indicators.sort(key=lambda h: (-h.score, h.title))
    areas.sort(key=lambda h: (-h.score, h.title))
    table = Table(
        ["kind", "title", "detail", "link"],
        [[h.kind, h.title, h.detail, h.href] for h in [*indicators, *areas]],
    )
    return SearchPage(text, indicators, areas, table)
