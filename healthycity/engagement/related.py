"""What the engagement module offers other modules' public pages, through the registry's
``related`` hook (`core.registry.related`): the consultations about an indicator, a
programme, a commitment or a service change, with the partnership's published response
("you said, we did") where there is one.

The outcomes, portfolio and assurance pages call the registry, never this module: they
sit below engagement (engagement uses the outcomes statistics), so importing it would
close a loop, and a city that runs without this module still gets their pages.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from healthycity.core.registry import Related
from healthycity.engagement import coproduction, service
from healthycity.engagement.models import CLOSED, DECISION_LABELS

HEADING = "Consultations: you said, we did"
PROPOSALS = "Co-produced: the public's proposals and the partnership's decisions"
KINDS = ("commitment", "indicator", "programme", "service-change")
NOTE_LENGTH = 240


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= NOTE_LENGTH else text[: NOTE_LENGTH - 1].rstrip() + "…"


def related(session: Session, kind: str, key: str) -> list[Related]:
    """Public consultations linked to ``kind:key``, newest first; drafts never."""
    if kind not in KINDS:
        return []
    found = []
    for row in service.consultations_about(session, kind, str(key)):
        if row.we_did:
            note = f"You said, we did: {_shorten(row.we_did)}"
            href = f"/consultations/{row.slug}/results"
        elif row.status == CLOSED:
            note = f"closed {row.closes_on:%d %B %Y}; the partnership's response is to come"
            href = f"/consultations/{row.slug}/results"
        else:
            note = f"open until {row.closes_on:%d %B %Y}: have your say"
            href = f"/consultations/{row.slug}"
        found.append(Related(HEADING, row.title, href, note))
    if kind in ("indicator", "commitment"):
        for proposal, row in coproduction.about(session, f"{kind}:{key}"):
            if proposal.decision:
                label = DECISION_LABELS[proposal.decision]
                note = f"{label}: {_shorten(proposal.decision_reason or '')}"
            else:
                note = "not decided yet: vote on it" if service.is_open(row) else "not decided yet"
            href = f"/consultations/{row.slug}/proposals#proposal-{proposal.id}"
            found.append(Related(PROPOSALS, proposal.title, href, note))
    return found
