"""Built values kept in memory: one thread-safe LRU (`Lru`), and the per-app memo keyed
by the database's data version (`VersionMemo`, `memo_for`).

Why: a page family whose data are expensive to assemble (the annual review reads every
indicator's series) serves the same data to its HTML page, its JSON and CSV twins and its
PDF. The response cache stores each finished response, but each of the four would still
assemble the data once; the memo keeps the assembled value, so the first of them pays and
the others reuse it. The version is read from the database at each lookup, so an entry is
never used after any committed change, whichever process made it; there is nothing to
invalidate. The outcomes pages' `PageCache` is the same `Lru`, keyed by the version those
pages read themselves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from starlette.requests import Request

from healthycity.core.web.data_version import DataVersion

T = TypeVar("T")


class Lru:
    """A small thread-safe LRU of built values. Building runs outside the lock: two
    requests for the same cold key may both build it, which is cheaper than making every
    other key wait. A build that raises stores nothing."""

    def __init__(self, size: int = 1024) -> None:
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                found: T = self._entries[key]
                return found
        value = build()
        self.put(key, value)
        return value

    def peek(self, key: Hashable) -> Any:
        """The entry under ``key``, or None: for callers that build many entries in one
        query (the area pages' peer blocks) and must know which are missing first."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class VersionMemo:
    """An `Lru` whose keys carry the data version read at each lookup."""

    def __init__(self, version: Callable[[], str], size: int = 64) -> None:
        self._version = version
        self._lru = Lru(size)

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        return self._lru.get((self._version(), key), build)


_CREATE = threading.Lock()


def memo_for(request: Request) -> VersionMemo:
    """The app's memo, made on first use; it reads the version through the response
    cache's `DataVersion` when there is one (one connection for both), else its own."""
    state = request.app.state
    found = getattr(state, "version_memo", None)
    if isinstance(found, VersionMemo):
        return found
    with _CREATE:
        found = getattr(state, "version_memo", None)
        if not isinstance(found, VersionMemo):
            version = getattr(state, "data_version", None)
            if not isinstance(version, DataVersion):
                version = DataVersion(state.engine)
            found = VersionMemo(version.read)
            state.version_memo = found
    return found
