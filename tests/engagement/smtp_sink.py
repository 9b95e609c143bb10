"""A local SMTP sink for the mail tests: a few lines of RFC 5321 on 127.0.0.1, started
and stopped by the test, so nothing is ever sent to the internet. It accepts every
message and keeps it parsed; it implements only what `smtplib` needs to send one."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes
from email.message import Message
from types import TracebackType


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self._reply("220 sink ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                self.server.messages.append(message_from_bytes(b"".join(lines)))
                self._reply("250 queued")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    messages: list[Message]


class SmtpSink:
    """``with SmtpSink() as sink:`` … ``sink.port``, ``sink.messages``."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.messages = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def messages(self) -> list[Message]:
        return self._server.messages

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else str(message.get_payload())
