"""Built values kept while the data stay the same: one small LRU per app, keyed by the
database's data version (`core.web.data_version`) and the caller's key.

Why: a page family whose data are expensive to assemble (the annual review reads every
indicator's series) serves the same data to its HTML page, its JSON and CSV twins and its
PDF. The response cache stores each finished response, but each of the four would still
assemble the data once; this keeps the assembled value, so the first of them pays and the
others reuse it. The version is read from the database at each lookup, so an entry is
never used after any committed change, whichever process made it; there is nothing to
invalidate. A build that raises stores nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from starlette.requests import Request

from healthycity.core.web.data_version import DataVersion

T = TypeVar("T")


class VersionMemo:
    """An LRU of values keyed by (data version, key)."""

    def __init__(self, version: Callable[[], str], size: int = 64) -> None:
        self._version = version
        self._size = size
        self._entries: OrderedDict[tuple[str, Hashable], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.built = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        full = (self._version(), key)
        with self._lock:
            if full in self._entries:
                self._entries.move_to_end(full)
                found: T = self._entries[full]
                return found
        value = build()  # outside the lock: other keys need not wait
        with self._lock:
            self.built += 1
            self._entries[full] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


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
