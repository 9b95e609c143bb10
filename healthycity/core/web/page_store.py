"""Finished responses, stored once per data version: in memory, and on disk for every worker.

An `Entry` is a response as it leaves the app (status, headers, body) with its strong
ETag and its gzip and brotli forms, compressed once when it is stored and never again
per request. `Store` keeps entries in a per-process LRU bounded by bytes and, when
given a folder, in files shared by every worker process on the machine
(``var/cache/pages/<database>/<version>/<key>``), written atomically (temporary file,
then rename) so a reader never sees half an entry. Entries of an older version are
never read again (the version is part of the key) and their folder is removed when a
newer version is stored.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import orjson

try:  # brotli is optional: without it, gzip alone is offered
    import brotli as _brotli  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None

Headers = tuple[tuple[bytes, bytes], ...]
COMPRESSIBLE = (b"text/", b"application/json", b"application/geo+json", b"image/svg+xml")
MIN_COMPRESS = 512  # bytes: smaller bodies are sent as they are
BROTLI_QUALITY = 7  # near gzip's speed to compress, and smaller
_HEADER = struct.Struct(">I")


@dataclass(frozen=True)
class Entry:
    """One stored response, ready to send in any of its encodings."""

    status: int
    headers: Headers
    body: bytes
    gzip: bytes | None
    br: bytes | None
    digest: str

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzip or b"") + len(self.br or b"") + 256

    def etag(self, encoding: str) -> bytes:
        """A strong validator per representation: the body's hash, then the encoding."""
        suffix = "" if encoding == "identity" else f"-{encoding}"
        return f'"{self.digest}{suffix}"'.encode()

    def etags(self) -> set[bytes]:
        return {self.etag(e) for e in ("identity", "gzip", "br")}

    def encoded(self, encoding: str) -> bytes:
        if encoding == "gzip" and self.gzip is not None:
            return self.gzip
        if encoding == "br" and self.br is not None:
            return self.br
        return self.body

    def to_bytes(self) -> bytes:
        meta = orjson.dumps(
            {
                "status": self.status,
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
                "digest": self.digest,
                "sizes": [len(self.body), _len(self.gzip), _len(self.br)],
            }
        )
        return _HEADER.pack(len(meta)) + meta + self.body + (self.gzip or b"") + (self.br or b"")

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        (length,) = _HEADER.unpack_from(data)
        meta = orjson.loads(data[_HEADER.size : _HEADER.size + length])
        at = _HEADER.size + length
        parts: list[bytes | None] = []
        for size in meta["sizes"]:
            parts.append(None if size < 0 else data[at : at + size])
            at += max(size, 0)
        if at != len(data):
            raise ValueError("truncated cache entry")
        return cls(
            status=meta["status"],
            headers=tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["headers"]),
            body=parts[0] or b"",
            gzip=parts[1],
            br=parts[2],
            digest=meta["digest"],
        )


def _len(value: bytes | None) -> int:
    return -1 if value is None else len(value)


def make_entry(status: int, headers: Headers, body: bytes) -> Entry:
    """Hash and compress a response once (gzip with a fixed mtime, so it is repeatable)."""
    content_type = next((v for k, v in headers if k == b"content-type"), b"")
    squeezed = len(body) >= MIN_COMPRESS and content_type.startswith(COMPRESSIBLE)
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return Entry(
        status=status,
        headers=headers,
        body=body,
        gzip=gzip.compress(body, compresslevel=6, mtime=0) if squeezed else None,
        br=(
            _brotli.compress(body, quality=BROTLI_QUALITY)
            if squeezed and _brotli is not None
            else None
        ),
        digest=digest,
    )


def key_name(key: tuple[str, ...]) -> str:
    return hashlib.blake2b("\0".join(key).encode(), digest_size=16).hexdigest()


class Store:
    """Entries by (version, key): memory first, then the shared folder (if any)."""

    def __init__(self, folder: Path | None, memory_bytes: int) -> None:
        self.folder = folder
        self._memory: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._bytes = 0
        self._limit = memory_bytes
        self._lock = threading.Lock()
        self._version: str | None = None

    def get(self, version: str, key: tuple[str, ...]) -> Entry | None:
        name = key_name(key)
        with self._lock:
            found = self._memory.get((version, name))
            if found is not None:
                self._memory.move_to_end((version, name))
                return found
        if self.folder is None:
            return None
        try:
            entry = Entry.from_bytes((self.folder / version / name).read_bytes())
        except (OSError, ValueError, KeyError):
            return None
        self._remember(version, name, entry)
        return entry

    def put(self, version: str, key: tuple[str, ...], entry: Entry) -> None:
        name = key_name(key)
        self._remember(version, name, entry)
        if self.folder is None:
            return
        target = self.folder / version / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}")
            temporary.write_bytes(entry.to_bytes())
            os.replace(temporary, target)
        except OSError:
            return  # a full or read-only disk costs speed, never an answer

    def _remember(self, version: str, name: str, entry: Entry) -> None:
        if entry.size > self._limit // 4:
            return
        with self._lock:
            if (version, name) in self._memory:
                return
            self._memory[(version, name)] = entry
            self._bytes += entry.size
            while self._bytes > self._limit and self._memory:
                _, old = self._memory.popitem(last=False)
                self._bytes -= old.size

    def new_version(self, version: str) -> bool:
        """Forget entries of other versions; True the first time ``version`` is seen."""
        with self._lock:
            if version == self._version:
                return False
            self._version = version
            stale = [k for k in self._memory if k[0] != version]
            for k in stale:
                self._bytes -= self._memory.pop(k).size
        return True

    def prune(self, version: str) -> None:
        """Remove other versions' folders from disk (called off the request path)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for child in self.folder.iterdir():
            if child.is_dir() and child.name != version:
                shutil.rmtree(child, ignore_errors=True)

    def clear(self) -> None:
        with self._lock:
            self._memory.clear()
            self._bytes = 0
            self._version = None
