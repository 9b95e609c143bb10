"""The refusals every module raises, so pages, the API and the CLI answer them one way.

A domain service raises these; the web plumbing (`core.web.workspace`) turns `Invalid`
into a form's error summary or a 422, `NotFound` into 404 and `Conflict` into 409.
They live in core because the workspace, portfolio, assurance and later modules all
raise and catch the same three, and none of those modules may import another's internals.
"""

from __future__ import annotations

from collections.abc import Mapping


class Invalid(ValueError):
    """A change breaks a rule; ``errors`` maps each field ("" for the whole) to why."""

    def __init__(self, errors: Mapping[str, str] | str) -> None:
        self.errors: dict[str, str] = {"": errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(self.errors.values()))


class NotFound(LookupError):
    """No such record."""


class Conflict(ValueError):
    """The record exists already, or is in a state that does not allow this."""
