"""Paging links: opaque, signed, expiring cursors for the next and previous pages.

A page link must not leak what was searched for (a code, a date range and the patient
would sit in proxy logs and browser histories), must not be forgeable into another
search or another requester's, and must stop working after a while. So the cursor is
the search's parameters, its offset, the requester and the path, sealed with Fernet
(AES-128-CBC encryption with an HMAC-SHA256 signature, timestamped; the ``cryptography``
package) under a key derived from the settings' ``page_link_secret`` (or, unset, from
``binary_link_secret`` under a label of its own). The link is then just
``{path}?_cursor={token}``; each page is searched afresh through the gate, so consent
as it stands when the page is asked for decides what it holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import orjson
from cryptography.fernet import Fernet, InvalidToken

CURSOR = "_cursor"


@dataclass(frozen=True, slots=True)
class Cursor:
    path: str
    items: tuple[tuple[str, str], ...]
    offset: int


class CursorError(ValueError):
    """A page link that is forged, altered, expired or someone else's."""


class PageLinks:
    def __init__(self, secret: bytes, lifetime_seconds: int) -> None:
        key = hmac.new(secret, b"healthycity exchange page links", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.lifetime = lifetime_seconds

    def seal(self, cursor: Cursor, subject: str, now: datetime) -> str:
        payload = orjson.dumps(
            {"p": cursor.path, "q": list(cursor.items), "o": cursor.offset, "s": subject}
        )
        return self._fernet.encrypt_at_time(payload, int(now.timestamp())).decode()

    def open(self, token: str, subject: str, path: str, now: datetime) -> Cursor:
        try:
            payload = self._fernet.decrypt_at_time(
                token.encode(), self.lifetime, int(now.timestamp())
            )
            data = orjson.loads(payload)
        except (InvalidToken, orjson.JSONDecodeError, ValueError) as error:
            raise CursorError("the page link is invalid or has expired; search again") from error
        if data.get("s") != subject or data.get("p") != path:
            raise CursorError("the page link is invalid or has expired; search again")
        items = tuple((str(k), str(v)) for k, v in data.get("q") or [])
        return Cursor(path, items, int(data.get("o") or 0))
