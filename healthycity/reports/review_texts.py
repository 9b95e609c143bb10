"""The review's foreword and commentary: the partnership's own words, versioned.

Everything else in the review is generated from the data; these two texts are written
by the portfolio office in the workspace. A save never overwrites: it adds the next
version, so the text a review was published with can always be read again, and the
audit trail (``ReviewText`` is audited) says who wrote each version and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid
from healthycity.reports.models import TEXT_KINDS, ReviewText

MAX_CHARACTERS = 20_000


@dataclass(frozen=True)
class Text:
    kind: str
    version: int
    body: str
    written_at: datetime

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.replace("\r\n", "\n").split("\n\n") if p.strip()]


def _text(row: ReviewText) -> Text:
    return Text(row.kind, row.version, row.body, row.written_at)


def latest(session: Session, year: int, kind: str) -> Text | None:
    row = session.scalars(
        select(ReviewText)
        .where(ReviewText.year == year, ReviewText.kind == kind)
        .order_by(ReviewText.version.desc())
    ).first()
    return _text(row) if row else None


def versions(session: Session, year: int, kind: str) -> list[ReviewText]:
    """Every version, newest first (the workspace shows who wrote each)."""
    query = (
        select(ReviewText)
        .where(ReviewText.year == year, ReviewText.kind == kind)
        .order_by(ReviewText.version.desc())
    )
    return list(session.scalars(query))


def save(session: Session, year: int, kind: str, body: str, written_by: str) -> ReviewText:
    """Add the next version; refused (`Invalid`) when the kind is unknown, the text is
    blank or too long, or it is the same as the current version."""
    if kind not in TEXT_KINDS:
        raise Invalid(f"unknown text {kind!r}: foreword or commentary")
    if not 2000 <= year <= 2100:
        raise Invalid("the year must be between 2000 and 2100")
    text = body.strip()
    if not text:
        raise Invalid({"body": f"Enter the {kind}"})
    if len(text) > MAX_CHARACTERS:
        raise Invalid({"body": f"The {kind} must be {MAX_CHARACTERS:,} characters or fewer"})
    current = latest(session, year, kind)
    if current is not None and current.body == text:
        raise Invalid({"body": f"The {kind} is unchanged from version {current.version}"})
    number = session.scalar(
        select(func.max(ReviewText.version)).where(ReviewText.year == year, ReviewText.kind == kind)
    )
    row = ReviewText(
        year=year, kind=kind, version=(number or 0) + 1, body=text, written_by=written_by
    )
    session.add(row)
    session.flush()
    return row
