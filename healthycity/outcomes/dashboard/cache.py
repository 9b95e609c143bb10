"""Page data cached per data version: one LRU per app and one decorator for every page.

The key is the *data version* (``queries.data_version``: a fingerprint of the loaded
pack, the data releases, the observations, the boundaries and the areas, read in one
small query) and the page's arguments. Any load changes the fingerprint, so a cached
page is never stale and there is nothing to invalidate; a busy site recomputes nothing
between loads (the chart SVG is cached the same way by ``healthycity.core.charts``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from healthycity.core.web.memo import Lru
from healthycity.outcomes.queries import data_version

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["PageCache", "cached", "cached_page", "data_version"]


class PageCache(Lru):
    """A small LRU of built page data, keyed by data version and the page's parameters
    (`core.web.memo.Lru`). One per app, so two databases in one process never share
    entries."""


Build = Callable[Concatenate[Session, PageCache, str, P], T]


def cached(name: str) -> Callable[[Build[P, T]], Build[P, T]]:
    """Memoise ``build(session, cache, version, *args)`` under ``(version, name, *args)``:
    for the parts pages share (the geography, the summaries), given the version the page
    already read. Arguments must be hashable (an `IndicatorQuery` is)."""

    def wrap(build: Build[P, T]) -> Build[P, T]:
        @functools.wraps(build)
        def get(
            session: Session, cache: PageCache, version: str, /, *args: P.args, **kwargs: P.kwargs
        ) -> T:
            key = (version, name, *args, *sorted(kwargs.items()))
            return cache.get(key, lambda: build(session, cache, version, *args, **kwargs))

        return get

    return wrap


def cached_page(
    name: str,
) -> Callable[[Build[P, T]], Callable[Concatenate[Session, PageCache, P], T]]:
    """A page: ``page(session, cache, *args)`` reads the data version and returns the
    data built by ``build(session, cache, version, *args)``, memoised like `cached`."""

    def wrap(build: Build[P, T]) -> Callable[Concatenate[Session, PageCache, P], T]:
        memo = cached(name)(build)

        @functools.wraps(build)
        def page(session: Session, cache: PageCache, /, *args: P.args, **kwargs: P.kwargs) -> T:
            return memo(session, cache, data_version(session), *args, **kwargs)

        return page

    return wrap
