"""A lean HTTP/1.1 client for the fan-out: GET only, keep-alive, one pool per node.

Why not httpx here: a ``$everything`` for one person is 25 requests, one per node, and
under load the exchange spends its CPU on them. Measured on this project's 2-core
machine, an httpx request to a loopback node cost about 1.5 ms of CPU and a request
over asyncio streams parsed by httptools about 0.1 ms (both including the node's own
time; docs/decisions/0010-exchange.md). The difference decides whether
20 concurrent clients are served in 150 ms or in seconds. httpx remains the client for
everything else (JWKS, health checks), and the Federator uses it when given one.

What it does: HTTP/1.1 GET with keep-alive over an asyncio protocol, ``Content-Length``
and chunked bodies (the parsing is httptools', the C parser uvicorn uses), TLS with
certificate verification for ``https`` nodes, a cap on body size, and retry-once of a
reused connection the node had closed. What it does not do (on purpose): redirects,
proxies, cookies, compression, HTTP/2. Deadlines are the caller's (``asyncio.timeout``);
a connection interrupted for any reason is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlencode, urlsplit

import httptools

DEFAULT_MAX_BODY = 64 * 1024 * 1024


class NodeHttpError(ConnectionError):
    """The node's answer could not be read as HTTP (or was too large)."""


@dataclass(frozen=True, slots=True)
class NodeResponse:
    status: int
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the event loop hands received bytes straight to the
    httptools parser, whose callbacks complete the waiting request's future.

    A protocol rather than asyncio streams because the fan-out makes 25 requests per
    ``$everything``: streams add a reader, a writer, a drain and two futures per
    request, which measured here as a third of the exchange's time.
    """

    __slots__ = (
        "chunks",
        "closed",
        "keep_alive",
        "limit",
        "parser",
        "size",
        "status",
        "transport",
        "waiter",
    )

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[NodeResponse] | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.keep_alive = False
        self.closed = False
        self.status = 0

    # --- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.parser is None or self.waiter is None or self.waiter.done():
            self._fail(NodeHttpError("the node sent data nobody asked for"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            if isinstance(error.__context__, NodeHttpError):  # raised by a callback
                self._fail(error.__context__)
            else:
                self._fail(NodeHttpError(f"not an HTTP response ({error})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                ConnectionError("the node closed the connection mid-response")
            )

    # --- httptools callbacks --------------------------------------------------------

    def on_headers_complete(self) -> None:
        # Asked here: once the message is complete the parser has already reset.
        assert self.parser is not None
        self.keep_alive = self.parser.should_keep_alive()
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.limit:
            raise NodeHttpError(f"response larger than {self.limit} bytes")
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(NodeResponse(self.status, b"".join(self.chunks)))

    # --- use ------------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[NodeResponse]:
        """Write one request; the future completes with its response."""
        assert self.transport is not None
        self.chunks = []
        self.size = 0
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _clean_header(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError("header names and values must not contain line breaks")
    return text


class NodeClient:
    """Keep-alive GETs to one node (one base URL)."""

    def __init__(
        self,
        base_url: str,
        *,
        max_idle: int = 64,
        max_body: int = DEFAULT_MAX_BODY,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 1.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        default_port = (self.secure and self.port == 443) or (not self.secure and self.port == 80)
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"
        self.base_path = parts.path.rstrip("/")
        self.max_idle = max_idle
        self.max_body = max_body
        self.connect_timeout = connect_timeout
        self.ssl_context = (ssl_context or ssl.create_default_context()) if self.secure else None
        self._idle: list[_Connection] = []

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout):
            _, connection = await loop.create_connection(
                lambda: _Connection(self.max_body),
                self.host,
                self.port,
                ssl=self.ssl_context,
                server_hostname=self.host if self.secure else None,
            )
        return connection

    def _request_bytes(
        self, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bytes:
        target = self.base_path + "/" + quote(path.lstrip("/"), safe="/$-_.~")
        if params:
            target += "?" + urlencode(params)
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {self.host_header}",
            "Connection: keep-alive",
            "Accept-Encoding: identity",
        ]
        lines.extend(f"{_clean_header(k)}: {_clean_header(v)}" for k, v in headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def get(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> NodeResponse:
        request = self._request_bytes(path, params or {}, headers or {})
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                continue
            try:
                return await self._exchange(connection, request)
            except ConnectionError:
                break  # the node closed an idle connection: one more try on a fresh one
        return await self._exchange(await self._connect(), request)

    async def _exchange(self, connection: _Connection, request: bytes) -> NodeResponse:
        reusable = False
        try:
            response = await connection.send(request)
            reusable = (
                connection.keep_alive and not connection.closed and len(self._idle) < self.max_idle
            )
            return response
        finally:
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
        await asyncio.sleep(0)  # let the transports finish closing
