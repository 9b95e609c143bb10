"""Public responses served from what was already made (docs/decisions/0015-page-cache.md).

`ResponseCache` is an ASGI middleware in front of every route. For an anonymous ``GET``
or ``HEAD`` it reads the data version (`core.web.data_version`), and answers from the
`Store` when the same request — path, query string, root path — was answered before
at that version: the finished bytes, gzip or brotli as the client accepts
(``Vary: Accept-Encoding``), with a strong ``ETag`` and ``304 Not Modified`` when the
client already holds it, and ``Cache-Control: public, max-age=…`` so a proxy or CDN in
front may keep it too. A miss renders through the app once (concurrent requests for
the same cold page wait for that one render) and stores the answer if it is public: a
``200`` with no ``Set-Cookie`` and no ``private``/``no-store``/``no-cache``.

Never cached: a request that carries a session cookie, a bearer token or the sign-in
flow's cookie (it is answered by the app, and marked ``private, no-store`` if the
app said nothing), and the paths in `NEVER` (the workspace, ``/health``, static files,
which have their own validators).

Reading the version costs one tiny statement per request while nothing changes (the
database says whether anything was committed since the last read), so a change
committed before a request is always seen by it, in every worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthycity.core.web.page_store import Entry, Headers, Store, make_entry
from healthycity.core.web.workspace import SESSION_COOKIE

NEVER = ("/static/", "/health", "/workspace")
PRIVATE = b"private, no-store"
# Cookies that mean the answer may be someone's own (the OIDC flow's is set at sign-in).
SIGNED_IN_COOKIES = (SESSION_COOKIE.encode() + b"=", b"hc_oidc=")
# Headers the cache writes itself on every answer it sends.
_OWN = {b"content-length", b"content-encoding", b"etag", b"cache-control", b"vary", b"date"}
CHUNK = 256 * 1024  # large downloads are sent in pieces of this size
# A scope key the warmer sets to the version it renders for: store, answer nothing.
WARM_KEY = "healthycity.warm"


class VersionClock:
    """The data version as of now: read on every request, in the event loop.

    A read is one tiny statement while nothing changes (`DataVersion`), cheaper than
    handing it to a thread, and a request never sees a version read before it arrived.
    """

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read

    async def current(self) -> str:
        return self._read()


@dataclass
class CacheConfig:
    max_age: int = 60
    stale_while_revalidate: int = 300
    on_new_version: Callable[[str], None] | None = None
    in_flight: dict[tuple[str, tuple[str, ...]], asyncio.Future[Entry | None]] = field(
        default_factory=dict
    )

    @property
    def cache_control(self) -> bytes:
        return (
            f"public, max-age={self.max_age}, stale-while-revalidate={self.stale_while_revalidate}"
        ).encode()


def request_key(scope: Scope) -> tuple[str, ...]:
    return (
        str(scope.get("root_path", "")),
        str(scope["path"]),
        scope.get("query_string", b"").decode("latin-1"),
    )


def signed_in(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"authorization":
            return True
        if name == b"cookie" and any(c in value for c in SIGNED_IN_COOKIES):
            return True
    return False


def storable(status: int, headers: Headers) -> bool:
    if status != 200:
        return False
    for name, value in headers:
        if name == b"set-cookie" or name == b"content-encoding":
            return False
        if name == b"cache-control" and any(
            word in value.lower() for word in (b"private", b"no-store", b"no-cache")
        ):
            return False
    return True


def choose_encoding(entry: Entry, accept: bytes) -> str:
    """``br`` or ``gzip`` when the client accepts it (q > 0) and the entry has it."""
    offered: dict[str, float] = {}
    for part in accept.decode("latin-1").lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        offered[name.strip()] = q
    star = offered.get("*", 0.0)
    if entry.br is not None and offered.get("br", star) > 0:
        return "br"
    if entry.gzip is not None and offered.get("gzip", star) > 0:
        return "gzip"
    return "identity"


async def render(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, Headers, bytes]:
    """Run the app for ``scope`` and collect its whole answer."""
    status = 500
    headers: Headers = ()
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = tuple((bytes(k).lower(), bytes(v)) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, capture)
    return status, headers, b"".join(chunks)


class ResponseCache:
    """The middleware: see the module's docstring."""

    def __init__(
        self, app: ASGIApp, *, store: Store, clock: VersionClock, config: CacheConfig
    ) -> None:
        self.app = app
        self.store = store
        self.clock = clock
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        path: str = scope["path"]
        if signed_in(headers) or path.startswith("/workspace"):
            await self.app(scope, receive, _private(send))
            return
        if scope["method"] not in ("GET", "HEAD") or path.startswith(NEVER):
            await self.app(scope, receive, send)
            return
        warming = scope.get(WARM_KEY)
        if warming is not None:
            await self._warm(str(warming), scope, receive)
            return
        try:
            version = await self.clock.current()
        except Exception:  # noqa: BLE001 - no version, no cache: the app answers as it can
            await self.app(scope, receive, send)
            return
        if self.store.new_version(version) and self.config.on_new_version is not None:
            self.config.on_new_version(version)
        key = request_key(scope)
        entry = self.store.get(version, key)
        if entry is None:
            entry, answered = await self._fill(version, key, scope, receive, send)
            if answered:
                return
        assert entry is not None
        await self._send(entry, scope, dict(headers), send)

    async def _fill(
        self, version: str, key: tuple[str, ...], scope: Scope, receive: Receive, send: Send
    ) -> tuple[Entry | None, bool]:
        """Render a miss once; (entry, False) to send it, (None, True) if already sent."""
        waiting = self.config.in_flight.get((version, key))
        if waiting is not None:
            found = await asyncio.shield(waiting)
            if found is not None:
                return found, False
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self.config.in_flight[(version, key)] = future
        entry: Entry | None = None
        try:
            status, got, body = await render(self.app, {**scope, "method": "GET"}, receive)
            if storable(status, got):
                entry = make_entry(status, _kept(got), body)
                self.store.put(version, key, entry)
                return entry, False
            await _replay(status, got, b"" if scope["method"] == "HEAD" else body, send)
            return None, True
        finally:
            future.set_result(entry)
            self.config.in_flight.pop((version, key), None)

    async def _warm(self, version: str, scope: Scope, receive: Receive) -> None:
        key = request_key(scope)
        if self.store.get(version, key) is None:
            status, got, body = await render(self.app, scope, receive)
            if storable(status, got):
                self.store.put(version, key, make_entry(status, _kept(got), body))

    async def _send(
        self, entry: Entry, scope: Scope, headers: dict[bytes, bytes], send: Send
    ) -> None:
        encoding = choose_encoding(entry, headers.get(b"accept-encoding", b""))
        etag = entry.etag(encoding)
        common = [
            (b"etag", etag),
            (b"cache-control", self.config.cache_control),
            (b"vary", b"Accept-Encoding"),
        ]
        if _matches(headers.get(b"if-none-match"), entry):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return
        body = entry.encoded(encoding)
        out = [*entry.headers, *common, (b"content-length", str(len(body)).encode())]
        if encoding != "identity":
            out.append((b"content-encoding", encoding.encode()))
        await send({"type": "http.response.start", "status": entry.status, "headers": out})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        for start in range(0, max(len(body), 1), CHUNK):
            piece = body[start : start + CHUNK]
            more = start + CHUNK < len(body)
            await send({"type": "http.response.body", "body": piece, "more_body": more})


def _kept(headers: Headers) -> Headers:
    return tuple(h for h in headers if h[0] not in _OWN)


def _matches(header: bytes | None, entry: Entry) -> bool:
    if not header:
        return False
    if header.strip() == b"*":
        return True
    ours = entry.etags()
    return any(tag.strip().removeprefix(b"W/") in ours for tag in header.split(b","))


async def _replay(status: int, headers: Headers, body: bytes, send: Send) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


def _private(send: Send) -> Callable[[Message], Awaitable[None]]:
    """Mark an answer ``private, no-store`` unless the app chose its own Cache-Control."""

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: list[Any] = list(message.get("headers", []))
            if not any(bytes(k).lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", PRIVATE))
                message = {**message, "headers": headers}
        await send(message)

    return marked
