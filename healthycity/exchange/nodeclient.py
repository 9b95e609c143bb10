"""A lean HTTP/1.1 client for the fan-out: GET only, keep-alive, one pool per node.

Why not httpx here: a ``$everything`` for one person is 25 requests, one per node, and
under load the exchange spends its CPU on them. Measured on this project's 2-core
machine, an httpx request to a loopback node cost about 1.5 ms of CPU and a request
over asyncio streams parsed by httptools about 0.1 ms (both including the node's own
time; docs/decisions/0010-exchange.md). The difference decides whether
20 concurrent clients are served in 150 ms or in seconds. httpx remains the client for
everything else (JWKS, health checks), and the Federator uses it when given one.

What it does: HTTP/1.1 GET with keep-alive, ``Content-Length`` and chunked bodies (the
parsing is httptools', the C parser uvicorn uses), TLS with certificate verification
for ``https`` nodes, a cap on body size, and retry-once of a reused connection the node
had closed. What it does not do (on purpose): redirects, proxies, cookies, compression,
HTTP/2. Deadlines are the caller's (``asyncio.timeout``); a connection interrupted for
any reason is closed, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

import httptools

DEFAULT_MAX_BODY = 64 * 1024 * 1024
_READ_CHUNK = 256 * 1024


class NodeHttpError(ConnectionError):
    """The node's answer could not be read as HTTP (or was too large)."""


@dataclass(frozen=True, slots=True)
class NodeResponse:
    status: int
    body: bytes


class _Collector:
    """httptools callbacks: gather the body and note when the message is complete."""

    __slots__ = ("chunks", "complete", "keep_alive", "limit", "parser", "size")

    def __init__(self, limit: int) -> None:
        self.chunks: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.limit = limit
        self.size = 0
        self.parser: httptools.HttpResponseParser | None = None

    def on_headers_complete(self) -> None:
        # Asked here: once the message is complete the parser has already reset.
        if self.parser is not None:
            self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.limit:
            raise NodeHttpError(f"response larger than {self.limit} bytes")
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    __slots__ = ("reader", "used", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


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
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self.ssl_context,
                server_hostname=self.host if self.secure else None,
                limit=_READ_CHUNK,
            )
        return _Connection(reader, writer)

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
        connection = self._idle.pop() if self._idle else None
        if connection is not None:
            try:
                return await self._exchange(connection, request)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass  # the node closed an idle connection: one more try on a fresh one
        return await self._exchange(await self._connect(), request)

    async def _exchange(self, connection: _Connection, request: bytes) -> NodeResponse:
        collector = _Collector(self.max_body)
        parser = httptools.HttpResponseParser(collector)
        collector.parser = parser
        reusable = False
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            while not collector.complete:
                data = await connection.reader.read(_READ_CHUNK)
                if not data:
                    raise ConnectionError("the node closed the connection mid-response")
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError as error:
                    if isinstance(error.__context__, NodeHttpError):  # raised by a callback
                        raise error.__context__ from None
                    raise NodeHttpError(f"not an HTTP response ({error})") from error
            reusable = collector.keep_alive and len(self._idle) < self.max_idle
            connection.used = True
            return NodeResponse(parser.get_status_code(), b"".join(collector.chunks))
        finally:
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()

    async def aclose(self) -> None:
        while self._idle:
            connection = self._idle.pop()
            connection.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await connection.writer.wait_closed()
