"""Signed, short-lived links to documents, so Binary passthrough cannot be used to fish.

A DocumentReference that has passed the access and consent checks has its attachment
URL rewritten to ``{exchange}/Binary/{link}``, where the link carries the node, the
Binary id, the person, the requester and an expiry, HMAC-signed with the exchange's
secret. Fetching it needs a valid token for the *same* requester before the expiry, and
the person's grounds are checked again then. Without a link, no Binary can be asked for:
the exchange never forwards an arbitrary Binary id to a node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BinaryLinks:
    def __init__(self, key: bytes, seconds: int) -> None:
        self.key = key
        self.seconds = seconds

    def sign(self, origin: str, binary_id: str, person_id: str, subject: str, base: str) -> str:
        expires = int(time.time()) + self.seconds
        payload = orjson.dumps(
            {"n": origin, "b": binary_id, "p": person_id, "s": subject, "e": expires}
        )
        mac = hmac.new(self.key, payload, hashlib.sha256).digest()
        return f"{base}/Binary/{_b64(payload)}.{_b64(mac)}"

    def open(self, token: str, subject: str) -> dict[str, Any] | None:
        """The link's contents if it is genuine, unexpired and ``subject``'s; else None."""
        payload_text, _, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except ValueError:
            return None
        expected = hmac.new(self.key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        data: dict[str, Any] = orjson.loads(payload)
        if data.get("s") != subject or int(data.get("e", 0)) < time.time():
            return None
        return data

    def rewrite(
        self, resource: dict[str, Any], origin: str, person_id: str, subject: str, base: str
    ) -> dict[str, Any]:
        """The DocumentReference with its node-local attachment URLs replaced by links."""
        if resource.get("resourceType") != "DocumentReference":
            return resource
        changed = False
        contents = []
        for content in resource.get("content", []):
            attachment = content.get("attachment") or {}
            url = attachment.get("url")
            if isinstance(url, str) and (url.startswith("Binary/") or url.startswith(origin)):
                binary_id = url.rstrip("/").rsplit("/", 1)[-1]
                link = self.sign(origin, binary_id, person_id, subject, base)
                content = content | {"attachment": attachment | {"url": link}}
                changed = True
            contents.append(content)
        return resource | {"content": contents} if changed else resource
