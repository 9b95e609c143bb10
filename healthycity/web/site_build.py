"""The static export: the whole public site as files, rendered by the app itself.

Why through the app: "the same HTML the live server renders" is only guaranteed if the
live server renders it. Every URL is requested in-process through an ASGI transport (no
socket, no server), so the export cannot drift from the site.

Layout (docs/dashboard.md): a page at ``/indicators/90631`` is written to
``indicators/90631/index.html`` — directory-style, so the clean URL works on any static
host — and its twins keep their URLs as files beside it (``indicators/90631.csv``,
``indicators/90631.json``), as do each chart's data (``indicators/90631/chart-map.csv``).
The home page's twins are ``index.json`` and ``index.csv``; ``404.html`` is the
not-found page most hosts pick up. Links in the pages are root-relative, prefixed with
``--base-path`` when the site is served from a sub-path.

How it is fast (issue 11): the app's response cache (decision 0015) already holds the
finished bytes of every URL the server or an earlier export rendered at the current
data version, in files shared by every process. The build reads that store first, in
this process, without starting an app: a page whose HTML, twins and chart downloads
are all there is written straight from it (the same bytes the middleware would send).
Only what is missing is rendered, by worker processes forked from a server that has
already imported what this process imported, a page with its twins and charts in one
worker (they share its page data); what they render goes into the same store, so the
next export, and the server, find it there. What the export writes but the middleware
never stores (the not-found page, a public page marked ``no-store``) is kept in the
same store under a key no request can have (`export_key`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from healthycity.core.settings import Settings
    from healthycity.core.web.page_store import Entry, Store

T = TypeVar("T")

# Pages that belong to the shell or the API docs and are linked from every page.
EXTRA_PAGES = ("/accessibility", "/api/v1/docs")
EXTRA_FILES = ("/api/v1/openapi.json",)
NOT_FOUND = "/this-page-does-not-exist"
# Links under these prefixes are never public cached pages: only a server answers them.
LIVE_PREFIXES = ("/health", "/workspace")
DOCUMENTS = (".pdf",)  # what `documents=False` leaves out
UNITS_PER_BATCH = 3  # pages handed to a worker at a time (small: the slow ones spread)
UNITS_PER_WORKER = 4  # fewer missing pages than this per worker: fewer workers

Kind = Literal["page", "plain", "file", "404", "link"]


class SiteBuildError(RuntimeError):
    """A page could not be rendered; the message names it."""


@dataclass(frozen=True)
class BuildResult:
    pages: int
    files: int
    seconds: float
    # Links the pages make that only a running server can answer (sign-in pages, the
    # workspace): the app did not answer them with a public 200 at build time.
    live_only: tuple[str, ...] = ()
    # Files written straight from the response cache, and processes that rendered.
    cached: int = 0
    workers: int = 0


@dataclass(frozen=True)
class Job:
    """One unit of work: a page with its twins and charts, or one URL."""

    path: str
    kind: Kind


@dataclass
class Outcome:
    """What one job wrote: file count, whether it was a page, the links its HTML makes."""

    job: Job
    written: list[str] = field(default_factory=list)  # files, relative to the folder
    page: bool = False
    live: bool = False
    links: set[str] = field(default_factory=set)
    cached: bool = False


def html_target(outdir: Path, path: str) -> Path:
    """Where a page's HTML goes: ``/a/b`` → ``a/b/index.html``."""
    clean = path.strip("/")
    return outdir / clean / "index.html" if clean else outdir / "index.html"


def file_target(outdir: Path, path: str) -> Path:
    return outdir / path.lstrip("/")


def target_for(outdir: Path, path: str) -> Path:
    """The file a static host serves for ``path``: a page's index.html, or the file."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return file_target(outdir, path) if "." in last else html_target(outdir, path)


def _safe(outdir: Path, target: Path) -> Path:
    resolved = target.resolve()
    if not resolved.is_relative_to(outdir.resolve()):
        raise SiteBuildError(f"refusing to write outside {outdir}: {target}")
    return resolved


def _twins(path: str) -> list[str]:
    if path == "/":
        return ["/index.json", "/index.csv"]
    return [f"{path}.json", f"{path}.csv"]


def _downloads(path: str, charts: Iterable[str]) -> list[str]:
    """Each chart's CSV (and, on indicator pages, its Vega-Lite spec)."""
    base = "" if path == "/" else path
    names = sorted(charts)
    found = [f"{base}/chart-{name}.csv" for name in names]
    if path.startswith("/indicators/"):
        found += [f"{base}/chart-{name}.vl.json" for name in names]
    return found


def _chart_names(body: bytes) -> list[str]:
    import orjson

    data = orjson.loads(body)
    if isinstance(data, dict) and isinstance(data.get("charts"), dict):
        return sorted(data["charts"])
    return []


_LINK = re.compile(r'(?:href|src|action)="([^"#?]+)')


def links_in(html: str, base_path: str) -> set[str]:
    """Root-relative paths a page links to, without the base path."""
    found = set()
    for raw in _LINK.findall(html):
        link = raw.replace("&amp;", "&")
        if not link.startswith("/") or link.startswith("//"):
            continue
        if base_path and link.startswith(base_path + "/"):
            link = link[len(base_path) :]
        found.add(link)
    return found


def _write(outdir: Path, target: Path, content: bytes) -> str:
    resolved = _safe(outdir, target)
    resolved.parent.mkdir(parents=True, exist_ok=True)
    resolved.write_bytes(content)
    return str(target.relative_to(outdir))


# --------------------------------------------------------------------------- the build


def build_site(
    settings: Settings,
    outdir: Path,
    *,
    base_path: str = "",
    jobs: int | None = None,
    paths: Sequence[str] | None = None,
    documents: bool = True,
) -> BuildResult:
    """Render every public URL (or just ``paths``) into ``outdir`` and copy the assets.

    What the response cache holds at the current data version is written from it; the
    rest is rendered, shared among up to ``jobs`` worker processes (default: one per
    CPU; one process, this one, for a handful of pages). A whole build then follows
    every link the written pages make until each resolves to a file or is known to need
    a running server. With ``documents=False`` the PDFs the pages link to (the annual
    reviews, seconds each to typeset) are left out and listed with the live-only links.
    """
    from healthycity.core.db import make_engine, session_factory
    from healthycity.core.registry import hooks

    started = time.perf_counter()
    outdir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        if paths is None:
            with session_factory(engine)() as session:
                pages = [p for _m, paths_of in hooks("site_paths") for p in paths_of(session)]
            pages += EXTRA_PAGES
        else:
            pages = list(paths)
        cache = _CacheReader.open(settings, engine, base_path)
    finally:
        engine.dispose()
    build = _Build(settings, outdir, base_path, jobs or os.cpu_count() or 1, cache)
    build.skip = () if documents else DOCUMENTS
    try:
        first = [Job(p, "plain" if p in EXTRA_PAGES else "page") for p in pages]
        first += [Job(p, "file") for p in EXTRA_FILES] + [Job(NOT_FOUND, "404")]
        build.run(first)
        _copy_assets(outdir)
        if paths is None:
            build.follow_links()
    finally:
        build.close()
    return BuildResult(
        pages=len(pages) + build.followed_pages,
        files=build.files,
        seconds=time.perf_counter() - started,
        live_only=tuple(sorted(build.live_only)),
        cached=build.cached,
        workers=build.workers,
    )


def _copy_assets(outdir: Path) -> None:
    from healthycity.core.registry import modules
    from healthycity.web.app import STATIC_DIR

    static = outdir / "static"
    if static.exists():
        shutil.rmtree(static)
    shutil.copytree(STATIC_DIR, static, ignore=shutil.ignore_patterns(".stamp"))
    for module in modules():
        if module.static_dir is not None:
            shutil.copytree(module.static_dir, static / module.name, dirs_exist_ok=True)


class _Build:
    """Runs jobs: from the cache in this process, the rest by a renderer."""

    def __init__(
        self, settings: Settings, outdir: Path, base_path: str, jobs: int, cache: _CacheReader
    ) -> None:
        self.values = settings.model_dump()
        self.outdir = outdir
        self.base_path = base_path
        self.jobs = max(1, min(jobs, 16))
        self.cache = cache
        self.files = self.cached = self.workers = self.followed_pages = 0
        self.done: set[str] = set()  # targets written, relative to outdir
        self.live_only: set[str] = set()
        self.links: set[str] = set()
        self.skip: tuple[str, ...] = ()  # endings of links not to export (documents)
        self._local: Renderer | None = None
        self._pool: Any = None

    def run(self, jobs: list[Job]) -> None:
        missing: list[Job] = []
        for job in jobs:
            outcome = self.cache.serve(job, self.outdir)
            if outcome is None:
                missing.append(job)
            else:
                self._count(outcome)
        if missing:
            for outcome in self._render(missing):
                self._count(outcome)

    def follow_links(self) -> None:
        """Render what the pages link to but the site map did not list (other modules'
        public pages in the navigation, say), until every link resolves or is known to
        need a running server."""
        while True:
            wanted = sorted(
                link
                for link in self.links
                if not link.startswith("/static/")
                and link not in self.live_only
                and str(target_for(self.outdir, link).relative_to(self.outdir)) not in self.done
            )
            if not wanted:
                return
            for link in wanted:
                if link.startswith(LIVE_PREFIXES) or link.endswith(self.skip):
                    self.live_only.add(link)
            self.run([Job(link, "link") for link in wanted if link not in self.live_only])

    def _count(self, outcome: Outcome) -> None:
        self.files += len(outcome.written)
        self.cached += len(outcome.written) if outcome.cached else 0
        self.done.update(outcome.written)
        self.links |= outcome.links
        if outcome.live:
            self.live_only.add(outcome.job.path)
        if outcome.job.kind == "link" and outcome.page:
            self.followed_pages += 1

    def _render(self, jobs: list[Job]) -> list[Outcome]:
        workers = min(self.jobs, -(-len(jobs) // UNITS_PER_WORKER))
        if workers > 1 or self._pool is not None:
            done = self._render_in_pool(jobs, workers)
            if done is not None:
                return done
        if self._local is None:
            self._local = Renderer(self.values, self.outdir, self.base_path)
            self.workers = max(self.workers, 1)
        return self._local.render(jobs)

    def _render_in_pool(self, jobs: list[Job], workers: int) -> list[Outcome] | None:
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = _start_pool(workers, self.values, self.outdir, self.base_path)
            self.workers = workers
        # Pages with twins and charts first, in small batches, so no worker is left
        # with a long tail while the other waits.
        ordered = sorted(jobs, key=lambda j: j.kind != "page")
        batches = [
            ordered[i : i + UNITS_PER_BATCH] for i in range(0, len(ordered), UNITS_PER_BATCH)
        ]
        try:
            futures = [self._pool.submit(_work, batch) for batch in batches]
            return [outcome for future in futures for outcome in future.result()]
        except BrokenProcessPool:
            # Workers cannot start when the caller has no importable __main__ (code
            # piped to python, some notebooks): render in this process instead.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self.workers = None, 0
            return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._local is not None:
            self._local.close()


def _start_pool(workers: int, values: dict[str, Any], outdir: Path, base_path: str) -> Any:
    """Worker processes that start with this process's imports already made.

    A fork server imports what this process has imported (the app, every module the
    site map loaded) once, and forks each worker from it, so a worker pays only for
    its app's routes, not for a fresh interpreter's imports; it is single-threaded, so
    forking it is safe where forking this process (threads, a chart renderer's runtime)
    would not be. Where there is no fork server, workers are spawned.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context: Any = multiprocessing.get_context("spawn")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        preload = sorted(
            name
            for name in sys.modules
            if name.startswith(("healthycity.", "fastapi", "starlette", "sqlalchemy", "jinja2"))
            and "._" not in name
            and not name.endswith("__main__")
        )
        context.set_forkserver_preload(["healthycity.web.app", *preload])
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(values, str(outdir), base_path),
    )


# A worker process's renderer, made once by the pool's initializer.
_WORKER: dict[str, Renderer] = {}


def _start_worker(values: dict[str, Any], outdir: str, base_path: str) -> None:
    _WORKER["renderer"] = Renderer(values, Path(outdir), base_path)


def _work(jobs: list[Job]) -> list[Outcome]:
    return _WORKER["renderer"].render(jobs)


# --------------------------------------------------------------------------- rendering


class Renderer:
    """An app of its own (no background warmer) that renders jobs and writes files."""

    def __init__(self, values: dict[str, Any], outdir: Path, base_path: str) -> None:
        from healthycity.core.settings import load_settings
        from healthycity.web.app import create_app

        self.app: FastAPI = create_app(load_settings(**values))
        warmer = getattr(self.app.state, "warmer", None)
        if warmer is not None:
            warmer.stop()  # the export renders those pages itself, once
        self.outdir = outdir
        self.base_path = base_path

    def render(self, jobs: list[Job]) -> list[Outcome]:
        return _run(lambda: self._render_all(jobs))

    def close(self) -> None:
        self.app.state.engine.dispose()

    async def _render_all(self, jobs: list[Job]) -> list[Outcome]:
        import httpx

        transport = httpx.ASGITransport(app=self.app, root_path=self.base_path)
        limit = asyncio.Semaphore(2)
        async with httpx.AsyncClient(transport=transport, base_url="http://site.local") as client:

            async def fetch(path: str, expect: int | None = 200) -> httpx.Response:
                async with limit:
                    response = await client.get(path)
                self.keep(path, response)
                if expect is not None and response.status_code != expect:
                    raise SiteBuildError(
                        f"{path} answered {response.status_code}, not {expect}: "
                        f"{response.text[:200]}"
                    )
                return response

            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(self._one(job, fetch)) for job in jobs]
            except BaseExceptionGroup as failed:
                raise _first(failed) from None
        return [t.result() for t in tasks]

    async def _one(
        self, job: Job, fetch: Callable[..., Coroutine[Any, Any, httpx.Response]]
    ) -> Outcome:
        outdir = self.outdir
        if job.kind == "404":
            response = await fetch(job.path, expect=404)
            written = [_write(outdir, outdir / "404.html", response.content)]
            return Outcome(job, written, links=links_in(response.text, self.base_path))
        if job.kind == "link":
            response = await fetch(job.path, expect=None)
            is_html = response.headers.get("content-type", "").startswith("text/html")
            target = target_for(outdir, job.path)
            if response.status_code != 200 or (target.name == "index.html") != is_html:
                # Not public, or not something a static host can serve at that URL
                # (JSON at a suffix-less path such as /health).
                return Outcome(job, live=True)
            links = links_in(response.text, self.base_path) if is_html else set()
            return Outcome(job, [_write(outdir, target, response.content)], is_html, links=links)
        response = await fetch(job.path)
        if job.kind == "file":
            return Outcome(job, [_write(outdir, file_target(outdir, job.path), response.content)])
        written = [_write(outdir, html_target(outdir, job.path), response.content)]
        outcome = Outcome(job, written, True, links=links_in(response.text, self.base_path))
        if job.kind == "plain":
            return outcome
        twins = _twins(job.path)
        replies = await asyncio.gather(*(fetch(t) for t in twins))
        for twin, reply in zip(twins, replies, strict=True):
            written.append(_write(outdir, file_target(outdir, twin), reply.content))
        downloads = _downloads(job.path, _chart_names(replies[0].content))
        for download, reply in zip(
            downloads, await asyncio.gather(*(fetch(t) for t in downloads)), strict=True
        ):
            written.append(_write(outdir, file_target(outdir, download), reply.content))
        return outcome

    def keep(self, path: str, response: httpx.Response) -> None:
        """Store what the export writes but the middleware did not store (the 404 page,
        a page marked ``no-store`` that is public all the same), under a key of the
        export's own, so the next export at this version need not start an app."""
        from healthycity.core.web.page_store import make_entry

        store = getattr(self.app.state, "response_store", None)
        if store is None or store.folder is None or response.status_code not in (200, 404):
            return
        version = self.app.state.data_version.read()
        if store.get(version, (self.base_path, unquote(path), "")) is not None:
            return
        headers = tuple(
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.items()
            if k.lower() == "content-type"
        )
        entry = make_entry(response.status_code, headers, response.content)
        store.put(version, export_key(self.base_path, path), entry)


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first failure in a group (a page that did not render), to raise on its own."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def export_key(base_path: str, path: str) -> tuple[str, ...]:
    """The store key of an answer the export keeps itself: no request's key starts so."""
    return ("site-build", base_path, path)


# --------------------------------------------------------------------------- the cache


class _CacheReader:
    """The response cache's shared files at the current data version, read directly."""

    def __init__(self, store: Store | None, version: str, base_path: str) -> None:
        self.store = store
        self.version = version
        self.base_path = base_path

    @classmethod
    def open(cls, settings: Settings, engine: Any, base_path: str) -> _CacheReader:
        from healthycity.core.web.data_version import DataVersion
        from healthycity.core.web.page_store import Store
        from healthycity.web.response_cache import cache_folder

        folder = cache_folder(settings) if settings.page_cache else None
        if folder is None or not folder.is_dir():
            return cls(None, "", base_path)
        reader = DataVersion(engine)
        try:
            version = reader.read()
        except Exception:  # noqa: BLE001 - no version, no cache: everything is rendered
            return cls(None, "", base_path)
        finally:
            reader.close()
        return cls(Store(folder, 0), version, base_path)

    def get(self, path: str) -> Entry | None:
        if self.store is None:
            return None
        # The key the middleware makes for the export's request (httpx unquotes paths),
        # else the export's own (answers the middleware does not store).
        found = self.store.get(self.version, (self.base_path, unquote(path), ""))
        return found or self.store.get(self.version, export_key(self.base_path, path))

    def serve(self, job: Job, outdir: Path) -> Outcome | None:
        """Write ``job`` from the cache, or None if anything it needs is missing."""
        if self.store is None:
            return None
        if job.kind == "404":
            entry = self.get(job.path)
            if entry is None:
                return None
            written = [_write(outdir, outdir / "404.html", entry.body)]
            return Outcome(job, written, links=self._links(entry), cached=True)
        entry = self.get(job.path)
        if entry is None:
            return None
        if job.kind == "link":
            target = target_for(outdir, job.path)
            is_html = _is_html(entry)
            if (target.name == "index.html") != is_html:
                return Outcome(job, live=True)
            links = self._links(entry) if is_html else set()
            return Outcome(
                job, [_write(outdir, target, entry.body)], is_html, links=links, cached=True
            )
        if job.kind == "file":
            written = [_write(outdir, file_target(outdir, job.path), entry.body)]
            return Outcome(job, written, cached=True)
        files = [(html_target(outdir, job.path), entry)]
        if job.kind == "page":
            for twin in _twins(job.path):
                found = self.get(twin)
                if found is None:
                    return None
                files.append((file_target(outdir, twin), found))
            for download in _downloads(job.path, _chart_names(files[1][1].body)):
                found = self.get(download)
                if found is None:
                    return None
                files.append((file_target(outdir, download), found))
        written = [_write(outdir, target, found.body) for target, found in files]
        return Outcome(job, written, True, links=self._links(entry), cached=True)

    def _links(self, entry: Entry) -> set[str]:
        return links_in(entry.body.decode("utf-8"), self.base_path)


def _is_html(entry: Entry) -> bool:
    kind = next((v for k, v in entry.headers if k == b"content-type"), b"")
    return kind.startswith(b"text/html")


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run`` in a thread of its own, so a build works even when the caller's
    thread already runs an event loop (a notebook, an async test, a web handler)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
