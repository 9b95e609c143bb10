"""The response cache wired into the app, and the warmer that fills it in the background.

`install` puts `core.web.page_cache.ResponseCache` in front of every route, with a
store shared by every worker on the machine under ``<cache_dir>/pages/<database>/``.
`Warmer` renders the pages people open first — home, every aspiration and commitment,
each indicator's default view (`WARM_PREFIXES` of the modules' site maps) — in a
thread of its own, at start-up and whenever a request sees a new data version. The
port opens at once; a visitor who arrives before the warmer reaches a page has it
rendered for them, once. Across workers a lock file lets one warm while the others
read its files.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import Message

from healthycity.core.settings import Settings
from healthycity.core.web.data_version import DataVersion
from healthycity.core.web.page_cache import WARM_KEY, CacheConfig, ResponseCache, VersionClock
from healthycity.core.web.page_store import Store

WARM_PREFIXES = ("/aspirations/", "/commitments/", "/indicators/")
WARM_LISTS = ("/indicators", "/areas")  # the index pages the header links to


def cache_folder(settings: Settings) -> Path | None:
    """Shared files per database, or None (memory only) in the test environment, where
    many short-lived databases would otherwise leave folders behind."""
    if settings.environment == "test":
        return None
    database = hashlib.blake2b(settings.database_url.encode(), digest_size=8).hexdigest()
    return Path(settings.cache_dir) / "pages" / database


def install(app: FastAPI, settings: Settings) -> None:
    """Add the response cache (unless ``HEALTHYCITY_PAGE_CACHE=false``) and its warmer."""
    if not settings.page_cache:
        return
    store = Store(cache_folder(settings), settings.page_cache_memory_mb * 1024 * 1024)
    version = DataVersion(app.state.engine)
    warmer = Warmer(app, store, version)
    config = CacheConfig(
        max_age=settings.page_cache_max_age,
        stale_while_revalidate=settings.page_cache_max_age * 5,
        on_new_version=warmer.start if settings.environment != "test" else None,
    )
    app.add_middleware(ResponseCache, store=store, clock=VersionClock(version.read), config=config)
    app.state.response_store = store
    app.state.data_version = version
    app.state.warmer = warmer
    if settings.environment == "test":
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        warmer.start(None)
        try:
            async with inner(application) as state:
                yield state
        finally:
            warmer.stop()

    app.router.lifespan_context = lifespan


def warm_paths(app: FastAPI) -> list[str]:
    """Home, the indicator and area lists, then each aspiration, commitment and
    indicator's default view."""
    from healthycity.core.registry import hooks

    with app.state.sessions() as session:
        every = [p for _m, paths_of in hooks("site_paths") for p in paths_of(session)]
    return ["/", *WARM_LISTS, *(p for p in every if p.startswith(WARM_PREFIXES))]


class Warmer:
    """Renders `warm_paths` through the app into the store, off the request path."""

    def __init__(
        self,
        app: FastAPI,
        store: Store,
        version: DataVersion,
        paths: Callable[[FastAPI], list[str]] = warm_paths,
    ) -> None:
        self.app = app
        self.store = store
        self.version = version
        self.paths = paths
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending: list[str | None] = []
        self._stopping = threading.Event()
        self.warmed: dict[str, int] = {}

    def start(self, version: str | None) -> None:
        """Warm for ``version`` (None: read it) in the background; never blocks."""
        with self._lock:
            self._pending.append(version)
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="page-warmer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                self._pending.clear()
            with suppress(Exception):  # warming is an optimisation: never an error
                self.warm()

    def warm(self) -> int:
        """Render every warm path missing from the store at the current version."""
        version = self.version.read()
        self.store.new_version(version)
        with _only_one_worker(self.store.folder) as chosen:
            if not chosen:
                return 0
            self.store.prune(version)
            paths = self.paths(self.app)
            done = asyncio.run(self._fill(version, paths))
        self.warmed[version] = done
        return done

    async def _fill(self, version: str, paths: list[str]) -> int:
        done = 0
        for path in paths:
            if self._stopping.is_set():
                break
            await self.app(_scope(self.app, path, version), _receive, _discard)
            done += 1
        return done


def _scope(app: FastAPI, path: str, version: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 0),
        "server": ("localhost", 80),
        "state": {},
        WARM_KEY: version,
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(_message: Message) -> None:
    return None


class _only_one_worker:  # noqa: N801 - used as a context manager, like a function
    """Holds a lock file for the folder, so one worker of several warms (True) and the
    others rely on its files (False). Without a folder every process warms its own."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.handle: Any = None

    def __enter__(self) -> bool:
        if self.folder is None:
            return True
        import fcntl

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.handle = (self.folder / ".warming").open("a")
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if self.handle is not None:
                self.handle.close()
                self.handle = None
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()
