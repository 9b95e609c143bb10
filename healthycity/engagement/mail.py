"""Sending email, as a hook the settings choose: none, a log file, or an SMTP server.

The engagement module sends two kinds of email, both only to an address a respondent
typed in and asked for: the link that confirms an answer (where a consultation asks for
confirmation), and the notice that the partnership has published its response ("you
said, we did") to those who ticked the box. Nothing else is ever sent.

Settings (``HEALTHYCITY_MAIL_*``, read once when the app starts; docs/engagement.md):

- ``backend``: ``none`` (the default: nothing is sent, pages say so), ``log`` (each
  message appended to ``log_path`` — for development; the file holds the addresses, so
  keep it private and short-lived), or ``smtp``.
- ``sender``; ``smtp_host``, ``smtp_port``, ``smtp_starttls``, ``smtp_username``,
  ``smtp_password``, ``smtp_timeout``.

A mailer is any callable ``(to, subject, body) -> None`` that raises on failure; tests
and other deployments may put their own on ``app.state.engagement_mailer``.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Mailer = Callable[[str, str, str], None]
log = logging.getLogger("healthycity.engagement.mail")


class MailSettings(BaseSettings):
    """How email leaves the platform; documented in docs/engagement.md."""

    model_config = SettingsConfigDict(env_prefix="HEALTHYCITY_MAIL_", extra="ignore", frozen=True)

    backend: Literal["none", "log", "smtp"] = Field(
        "none", description="none (send nothing), log (append to log_path) or smtp"
    )
    sender: str = Field("healthycity <no-reply@localhost>", description="the From address")
    log_path: str = Field("./var/mail/outbox.jsonl", description="file the log backend appends to")
    smtp_host: str = Field("localhost", description="SMTP server")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port")
    smtp_starttls: bool = Field(False, description="upgrade the connection with STARTTLS")
    smtp_username: str | None = Field(None, description="SMTP user, if the server wants one")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_timeout: float = Field(10.0, gt=0, le=120, description="seconds to wait for the server")


def message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    email.set_content(body)
    return email


def log_mailer(settings: MailSettings) -> Mailer:
    path = Path(settings.log_path)

    def send(to: str, subject: str, body: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"at": datetime.now(UTC).isoformat(), "to": to, "subject": subject, "body": body}
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    return send


def smtp_mailer(settings: MailSettings) -> Mailer:
    def send(to: str, subject: str, body: str) -> None:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message(settings.sender, to, subject, body))

    return send


def make_mailer(settings: MailSettings | None = None) -> Mailer | None:
    """The mailer the settings choose, or None when nothing is to be sent."""
    settings = settings or MailSettings()
    if settings.backend == "log":
        return log_mailer(settings)
    if settings.backend == "smtp":
        return smtp_mailer(settings)
    return None


def try_send(mailer: Mailer | None, to: str, subject: str, body: str) -> bool:
    """Send if there is a mailer; False (logged, never raised) when it fails, so a mail
    server being down never loses the answer that was just saved."""
    if mailer is None:
        return False
    try:
        mailer(to, subject, body)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("email not sent: %s", exc.__class__.__name__)
        return False
    return True
