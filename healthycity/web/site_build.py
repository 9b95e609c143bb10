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
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx

    from healthycity.core.settings import Settings

T = TypeVar("T")

# Pages that belong to the shell or the API docs and are linked from every page.
EXTRA_PAGES = ("/accessibility", "/api/v1/docs")
EXTRA_FILES = ("/api/v1/openapi.json",)


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


def html_target(outdir: Path, path: str) -> Path:
    """Where a page's HTML goes: ``/a/b`` → ``a/b/index.html``."""
    clean = path.strip("/")
    return outdir / clean / "index.html" if clean else outdir / "index.html"


def file_target(outdir: Path, path: str) -> Path:
    return outdir / path.lstrip("/")


def _safe(outdir: Path, target: Path) -> Path:
    resolved = target.resolve()
    if not resolved.is_relative_to(outdir.resolve()):
        raise SiteBuildError(f"refusing to write outside {outdir}: {target}")
    return resolved


def _twins(path: str) -> list[str]:
    if path == "/":
        return ["/index.json", "/index.csv"]
    return [f"{path}.json", f"{path}.csv"]


def build_site(
    settings: Settings,
    outdir: Path,
    *,
    base_path: str = "",
    jobs: int | None = None,
    paths: Sequence[str] | None = None,
) -> BuildResult:
    """Render every public URL (or just ``paths``) into ``outdir`` and copy the assets.

    Rendering is CPU-bound (templates, and charts drawn by vl-convert), so the pages are
    shared among ``jobs`` worker processes (default: one per CPU), each with its own app
    over the same database; one process is used for a handful of pages.
    """
    from healthycity.core.db import make_engine, session_factory
    from healthycity.core.registry import hooks, modules
    from healthycity.web.app import STATIC_DIR

    started = time.perf_counter()
    outdir.mkdir(parents=True, exist_ok=True)
    if paths is None:
        engine = make_engine(settings.database_url)
        with session_factory(engine)() as session:
            pages = [p for _m, paths_of in hooks("site_paths") for p in paths_of(session)]
            pages += EXTRA_PAGES
        engine.dispose()
    else:
        pages = list(paths)
    workers = max(1, min(jobs or os.cpu_count() or 1, 16, max(1, len(pages) // 20)))
    values = settings.model_dump()
    if workers == 1:
        written = render_pages(values, str(outdir), pages, base_path, True)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        chunks = [pages[i::workers] for i in range(workers)]
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [
                    pool.submit(render_pages, values, str(outdir), chunk, base_path, i == 0)
                    for i, chunk in enumerate(chunks)
                ]
                written = sum(f.result() for f in futures)
        except BrokenProcessPool:
            # Workers cannot start when the caller has no importable __main__ (code
            # piped to python, some notebooks): render in this process instead.
            written = render_pages(values, str(outdir), pages, base_path, True)
    static = outdir / "static"
    if static.exists():
        shutil.rmtree(static)
    shutil.copytree(STATIC_DIR, static, ignore=shutil.ignore_patterns(".stamp"))
    for module in modules():
        if module.static_dir is not None:
            shutil.copytree(module.static_dir, static / module.name, dirs_exist_ok=True)
    # A partial build (``paths``) writes just those pages; a whole build follows links.
    extra_pages, extra_files, live_only = (
        follow_links(values, outdir, base_path) if paths is None else (0, 0, ())
    )
    return BuildResult(
        len(pages) + extra_pages,
        written + extra_files,
        time.perf_counter() - started,
        live_only,
    )


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


def target_for(outdir: Path, path: str) -> Path:
    """The file a static host serves for ``path``: a page's index.html, or the file."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return file_target(outdir, path) if "." in last else html_target(outdir, path)


def follow_links(
    settings: dict[str, Any], outdir: Path, base_path: str
) -> tuple[int, int, tuple[str, ...]]:
    """Render what the pages link to but the site map did not list (other modules'
    public pages in the navigation, say), until every link resolves or is known to
    need a running server. Returns (pages, files, live-only links)."""
    from healthycity.core.settings import load_settings
    from healthycity.web.app import create_app

    app = create_app(load_settings(**settings))
    live_only: set[str] = set()
    pages = files = 0
    scanned: set[Path] = set()

    def missing() -> set[str]:
        wanted: set[str] = set()
        for page in outdir.rglob("*.html"):
            if page in scanned:
                continue
            scanned.add(page)
            for link in links_in(page.read_text(encoding="utf-8"), base_path):
                if link.startswith("/static/") or link in live_only:
                    continue
                if not target_for(outdir, link).is_file():
                    wanted.add(link)
        return wanted

    async def fetch_all(paths: set[str]) -> list[tuple[str, Any]]:
        import httpx

        transport = httpx.ASGITransport(app=app, root_path=base_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://site.local") as client:
            return [(path, await client.get(path)) for path in sorted(paths)]

    try:
        wanted = missing()
        while wanted:
            batch = set(wanted)
            for path, response in _run(partial(fetch_all, batch)):
                target = target_for(outdir, path)
                is_html = response.headers.get("content-type", "").startswith("text/html")
                if response.status_code != 200 or (target.name == "index.html") != is_html:
                    # Not public, or not something a static host can serve at that URL
                    # (JSON at a suffix-less path such as /health).
                    live_only.add(path)
                    continue
                _write(outdir, target, response.content)
                files += 1
                pages += target.name == "index.html"
            wanted = missing() - live_only
    finally:
        app.state.engine.dispose()
    return pages, files, tuple(sorted(live_only))


def render_pages(
    settings: dict[str, Any], outdir: str, pages: Sequence[str], base_path: str, extras: bool
) -> int:
    """Render ``pages`` (and, with ``extras``, the shared files) through a fresh app."""
    from healthycity.core.settings import load_settings
    from healthycity.web.app import create_app

    app = create_app(load_settings(**settings))
    try:
        return _run(lambda: _render_all(app, Path(outdir), pages, base_path, 2, extras))
    finally:
        app.state.engine.dispose()


async def _render_all(
    app: object, outdir: Path, pages: Iterable[str], base_path: str, jobs: int, extras: bool
) -> int:
    import httpx

    transport = httpx.ASGITransport(app=app, root_path=base_path)  # type: ignore[arg-type]
    limit = asyncio.Semaphore(jobs)
    count = 0

    async with httpx.AsyncClient(transport=transport, base_url="http://site.local") as client:

        async def fetch(path: str, expect: int = 200) -> httpx.Response:
            async with limit:
                response = await client.get(path)
            if response.status_code != expect:
                raise SiteBuildError(
                    f"{path} answered {response.status_code}, not {expect}: {response.text[:200]}"
                )
            return response

        async def page(path: str) -> int:
            response = await fetch(path)
            _write(outdir, html_target(outdir, path), response.content)
            files = 1
            if path in EXTRA_PAGES:
                return files
            twins = await asyncio.gather(*(fetch(t) for t in _twins(path)))
            charts: list[str] = []
            for twin, reply in zip(_twins(path), twins, strict=True):
                _write(outdir, file_target(outdir, twin), reply.content)
                files += 1
                if twin.endswith(".json"):
                    body = reply.json()
                    if isinstance(body, dict) and isinstance(body.get("charts"), dict):
                        charts = sorted(body["charts"])
            base = "" if path == "/" else path
            downloads = [f"{base}/chart-{name}.csv" for name in charts]
            if path.startswith("/indicators/"):
                downloads += [f"{base}/chart-{name}.vl.json" for name in charts]
            for target, reply in zip(
                downloads, await asyncio.gather(*(fetch(t) for t in downloads)), strict=True
            ):
                _write(outdir, file_target(outdir, target), reply.content)
                files += 1
            return files

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(page(p)) for p in pages]
        count = sum(t.result() for t in tasks)
        if not extras:
            return count
        for path in EXTRA_FILES:
            _write(outdir, file_target(outdir, path), (await fetch(path)).content)
            count += 1
        missing = await fetch("/this-page-does-not-exist", expect=404)
        _write(outdir, outdir / "404.html", missing.content)
        count += 1
    return count


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run`` in a thread of its own, so a build works even when the caller's
    thread already runs an event loop (a notebook, an async test, a web handler)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _write(outdir: Path, target: Path, content: bytes) -> None:
    resolved = _safe(outdir, target)
    resolved.parent.mkdir(parents=True, exist_ok=True)
    resolved.write_bytes(content)
