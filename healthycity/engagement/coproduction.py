"""Co-production of indicators: the public proposes new indicators, changes to a
commitment's or an indicator's measures, or comments on an indicator, through a
consultation that invites it; everyone votes agree / disagree / pass (as Pol.is asks);
the portfolio office records a decision on each, with its reason, and it is published.

A public proposal is free text, so it is held until a moderator publishes it or not,
with a recorded reason, exactly as free-text answers are. A proposal the office puts to
the public is published at once. Votes count only on published proposals, one per
browser (a keyed hash of its anonymous form token), and a later vote replaces the
earlier one. Vote shares are of those who voted agree or disagree ("pass" is shown but
is not a view either way), with Wilson intervals, and are self-selected like every
consultation result: they inform the office's decision, they do not make it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.core.errors import Conflict, Invalid, NotFound
from healthycity.engagement.models import (
    AGREE,
    DECISION_LABELS,
    DISAGREE,
    HELD,
    PASS,
    REJECTED,
    SHOWN,
    VOTES,
    Consultation,
    IndicatorProposal,
    ProposalVote,
)
from healthycity.engagement.schemas import ProposalIn
from healthycity.outcomes.stats import proportion

PUBLIC, OFFICE = "public", "office"


@dataclass(frozen=True)
class Tally:
    agree: int
    disagree: int
    passed: int
    agree_percent: float | None
    lower: float | None
    upper: float | None

    @property
    def total(self) -> int:
        return self.agree + self.disagree + self.passed


def tally(counts: Counter[str]) -> Tally:
    """Votes on one proposal; the agreeing share of agree + disagree, Wilson 95%."""
    agree, disagree = counts[AGREE], counts[DISAGREE]
    if agree + disagree == 0:
        return Tally(agree, disagree, counts[PASS], None, None, None)
    found = proportion([agree], [agree + disagree], multiplier=100)
    return Tally(
        agree,
        disagree,
        counts[PASS],
        round(float(found.value[0]), 1),
        round(float(found.lower[0.95][0]), 1),
        round(float(found.upper[0.95][0]), 1),
    )


def _check_invites(row: Consultation) -> None:
    if not row.co_production:
        raise Conflict("this consultation does not invite proposals on indicators")


def propose(
    session: Session, row: Consultation, data: ProposalIn, source: str = PUBLIC
) -> IndicatorProposal:
    """A proposal from the public (held for moderation) or the office (published)."""
    _check_invites(row)
    proposal = IndicatorProposal(
        consultation_id=row.id,
        kind=data.kind,
        about=data.about,
        title=data.title,
        description=data.description,
        source=source,
        moderation=SHOWN if source == OFFICE else HELD,
        moderation_reason="Put to the public by the portfolio office" if source == OFFICE else None,
        submitted_at=datetime.now(UTC),
    )
    session.add(proposal)
    session.flush()
    return proposal


def get(session: Session, row: Consultation, proposal_id: int) -> IndicatorProposal:
    proposal = session.get(IndicatorProposal, proposal_id)
    if proposal is None or proposal.consultation_id != row.id:
        raise NotFound(f"no proposal {proposal_id} in this consultation")
    return proposal


def moderate(session: Session, proposal: IndicatorProposal, decision: str, reason: str) -> None:
    """Publish a held proposal or not, with the reason recorded."""
    if decision not in (SHOWN, REJECTED):
        raise Invalid({"moderation": "choose whether to publish the proposal"})
    if not reason.strip():
        raise Invalid({"moderation_reason": "record the reason for the decision"})
    proposal.moderation = decision
    proposal.moderation_reason = reason.strip()[:2000]
    session.flush()


def decide(
    session: Session, proposal: IndicatorProposal, decision: str, reason: str, by: str
) -> None:
    """The portfolio office's decision on a published proposal, published with it."""
    if proposal.moderation != SHOWN:
        raise Conflict("only a published proposal can be decided; moderate it first")
    if decision not in DECISION_LABELS:
        raise Invalid({"decision": "choose the decision"})
    if not reason.strip():
        raise Invalid({"decision_reason": "say why: the reason is published with the decision"})
    proposal.decision = decision
    proposal.decision_reason = reason.strip()[:5000]
    proposal.decided_by = by
    proposal.decided_at = datetime.now(UTC)
    session.flush()


def vote(session: Session, proposal: IndicatorProposal, choice: str, voter_hash: str) -> None:
    """Record (or replace) one browser's vote on a published proposal."""
    if choice not in VOTES:
        raise Invalid({"vote": "vote agree, disagree or pass"})
    if proposal.moderation != SHOWN:
        raise NotFound("no published proposal to vote on")
    existing = session.scalars(
        select(ProposalVote).where(
            ProposalVote.proposal_id == proposal.id, ProposalVote.voter_hash == voter_hash
        )
    ).first()
    if existing is None:
        session.add(
            ProposalVote(
                proposal_id=proposal.id,
                vote=choice,
                voter_hash=voter_hash,
                voted_at=datetime.now(UTC),
            )
        )
    else:
        existing.vote = choice
        existing.voted_at = datetime.now(UTC)
    session.flush()


def proposals(
    session: Session, row: Consultation, *, published_only: bool = True
) -> list[IndicatorProposal]:
    query = select(IndicatorProposal).where(IndicatorProposal.consultation_id == row.id)
    if published_only:
        query = query.where(IndicatorProposal.moderation == SHOWN)
    return list(session.scalars(query.order_by(IndicatorProposal.id)))


def tallies(session: Session, ids: list[int]) -> dict[int, Tally]:
    counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
    if ids:
        rows = session.execute(
            select(ProposalVote.proposal_id, ProposalVote.vote, func.count())
            .where(ProposalVote.proposal_id.in_(ids))
            .group_by(ProposalVote.proposal_id, ProposalVote.vote)
        ).all()
        for proposal_id, choice, count in rows:
            counts[proposal_id][choice] = int(count)
    return {i: tally(c) for i, c in counts.items()}


def not_published(session: Session, row: Consultation) -> int:
    """How many public proposals a moderator did not publish (shown as a count)."""
    query = select(func.count()).where(
        IndicatorProposal.consultation_id == row.id, IndicatorProposal.moderation == REJECTED
    )
    return int(session.scalar(query) or 0)


def about(session: Session, target: str) -> list[tuple[IndicatorProposal, Consultation]]:
    """Published proposals about ``indicator:ID`` or ``commitment:slug``, with their
    consultation (never a draft's)."""
    from healthycity.engagement.models import DRAFT

    query = (
        select(IndicatorProposal, Consultation)
        .join(Consultation, Consultation.id == IndicatorProposal.consultation_id)
        .where(
            IndicatorProposal.about == target,
            IndicatorProposal.moderation == SHOWN,
            Consultation.status != DRAFT,
        )
        .order_by(IndicatorProposal.id)
    )
    return [(p, c) for p, c in session.execute(query).all()]
