"""The fan-out's HTTP client against real loopback servers, including awkward ones."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from healthycity.exchange.dev.testserver import Faults, FhirStore, NodeServers
from healthycity.exchange.federation.nodeclient import NodeClient, NodeHttpError


@pytest.fixture(scope="module")
def node() -> Iterator[str]:
    store = FhirStore()
    store.add({"resourceType": "Patient", "id": "p 1", "gender": "female"})
    with NodeServers([("node", store, Faults())]) as server:
        yield server.urls[0]


def test_get_reuses_one_connection(node: str) -> None:
    async def run() -> None:
        client = NodeClient(node)
        for _ in range(3):
            answer = await client.get("Patient/p 1", {}, {"Accept": "application/fhir+json"})
            assert answer.status == 200 and b'"female"' in answer.body
        assert len(client._idle) == 1
        missing = await client.get("Patient/nobody")
        assert missing.status == 404
        searched = await client.get("Patient", {"gender": "female", "_count": "5"})
        assert b'"total":1' in searched.body
        await client.aclose()

    asyncio.run(run())


def test_header_injection_is_refused(node: str) -> None:
    async def run() -> None:
        client = NodeClient(node)
        with pytest.raises(ValueError):
            await client.get("Patient", {}, {"X-Evil": "a\r\nHost: elsewhere"})

    asyncio.run(run())


def _raw_server(reply: Callable[[socket.socket], None]) -> tuple[str, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                reply(connection)
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


def test_chunked_bodies_are_reassembled() -> None:
    def reply(connection: socket.socket) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
        )

    url, thread = _raw_server(reply)

    async def run() -> bytes:
        return (await NodeClient(url).get("x")).body

    assert asyncio.run(run()) == b'{"a": 1}'


def test_garbage_and_oversized_answers_are_errors() -> None:
    def garbage(connection: socket.socket) -> None:
        connection.sendall(b"this is not HTTP at all\r\n\r\n")

    url, _ = _raw_server(garbage)

    async def run(target: str, limit: int = 1 << 20) -> None:
        await NodeClient(target, max_body=limit).get("x")

    with pytest.raises(NodeHttpError):
        asyncio.run(run(url))

    def big(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)

    url, _ = _raw_server(big)
    with pytest.raises(NodeHttpError, match="larger"):
        asyncio.run(run(url, limit=1000))


def test_a_closed_port_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def run() -> None:
        await NodeClient(f"http://127.0.0.1:{port}").get("metadata")

    with pytest.raises(OSError):
        asyncio.run(run())


def test_only_http_urls() -> None:
    with pytest.raises(ValueError):
        NodeClient("ftp://127.0.0.1/")
