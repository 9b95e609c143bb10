"""Service-change assurance: the workflow and the rules that bind verdicts to the facts.

A proposal moves draft → submitted → under review → assessed → published, one step at a
time; only a draft may be edited or deleted, so what an assessor judged is what gets
published. Two rules hold whatever an assessor chooses:
- hospital capacity cannot be met (or partly met) by a proposal that cuts beds unless it
  gives evidence for at least one condition of the bed test;
- sufficient investment cannot be met while the investment identified is below the
  investment required.
An assessment is complete only when every test — the Mayor's and the NHS's — has a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.assurance import schemas
from healthycity.assurance.models import (
    ASSESSED,
    DRAFT,
    MAYOR,
    MET,
    NHS,
    PARTLY_MET,
    PUBLISHED,
    STATUS_LABELS,
    SUBMITTED,
    UNDER_REVIEW,
    VERDICT_LABELS,
    AssuranceTest,
    BedEvidence,
    BedTestCondition,
    Proposal,
    Verdict,
)
from healthycity.assurance.pack_loading import BED_TEST_RULE, INVESTMENT_RULE
from healthycity.core.errors import Conflict, Invalid, NotFound
from healthycity.core.money import pounds

PROPOSAL_FIELDS = (
    "title",
    "sponsor",
    "summary",
    "services",
    "affected_boroughs",
    "beds_now",
    "beds_proposed",
    "investment_required",
    "investment_identified",
    "social_care_cost_impact",
    "social_care_note",
    "engagement_evidence",
    "clinical_evidence",
)


def tests(session: Session) -> list[AssuranceTest]:
    """Every test, the Mayor's assurances first, in their published order."""
    rows = session.scalars(select(AssuranceTest))
    order = {MAYOR: 0, NHS: 1}
    return sorted(rows, key=lambda t: (order.get(t.framework, 9), t.number))


def conditions(session: Session) -> list[BedTestCondition]:
    return list(session.scalars(select(BedTestCondition).order_by(BedTestCondition.number)))


def get_proposal(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    return proposal


def published(session: Session) -> list[Proposal]:
    query = (
        select(Proposal)
        .where(Proposal.status == PUBLISHED)
        .order_by(Proposal.published_at.desc(), Proposal.id.desc())
    )
    return list(session.scalars(query))


def proposal_input(proposal: Proposal) -> dict[str, Any]:
    values = {name: getattr(proposal, name) for name in PROPOSAL_FIELDS}
    values["bed_evidence"] = {e.condition_slug: e.evidence for e in proposal.bed_evidence}
    return values


def _set_bed_evidence(session: Session, proposal: Proposal, evidence: dict[str, str]) -> None:
    known = {c.slug for c in conditions(session)}
    unknown = sorted(set(evidence) - known)
    if unknown:
        raise Invalid({"bed_evidence": f"unknown bed-test conditions: {', '.join(unknown)}"})
    for row in list(proposal.bed_evidence):
        if row.condition_slug not in evidence:
            proposal.bed_evidence.remove(row)
    have = {row.condition_slug: row for row in proposal.bed_evidence}
    for slug, text in evidence.items():
        if slug in have:
            have[slug].evidence = text
        else:
            proposal.bed_evidence.append(BedEvidence(condition_slug=slug, evidence=text))


def create_proposal(session: Session, data: schemas.ProposalIn, created_by: str) -> Proposal:
    proposal = Proposal(status=DRAFT, created_by=created_by)
    values = data.model_dump()
    for name in PROPOSAL_FIELDS:
        setattr(proposal, name, values[name])
    session.add(proposal)
    session.flush()
    _set_bed_evidence(session, proposal, data.bed_evidence)
    session.flush()
    return proposal


def _require(proposal: Proposal, *statuses: str, doing: str) -> None:
    if proposal.status not in statuses:
        allowed = " or ".join(STATUS_LABELS[s].lower() for s in statuses)
        raise Conflict(
            f"only a proposal that is {allowed} can be {doing}; this one is "
            f"{STATUS_LABELS[proposal.status].lower()}"
        )


def update_proposal(session: Session, proposal: Proposal, data: schemas.ProposalIn) -> None:
    _require(proposal, DRAFT, doing="edited")
    values = data.model_dump()
    for name in PROPOSAL_FIELDS:
        setattr(proposal, name, values[name])
    _set_bed_evidence(session, proposal, data.bed_evidence)
    session.flush()


def delete_proposal(session: Session, proposal: Proposal) -> None:
    _require(proposal, DRAFT, doing="deleted")
    session.delete(proposal)
    session.flush()


def submit(session: Session, proposal: Proposal) -> None:
    _require(proposal, DRAFT, doing="submitted")
    missing = {
        name: f"add the {label} before submitting"
        for name, label in (
            ("engagement_evidence", "evidence of patient and public engagement"),
            ("clinical_evidence", "clinical evidence"),
        )
        if not getattr(proposal, name)
    }
    if missing:
        raise Invalid(missing)
    proposal.status = SUBMITTED
    proposal.submitted_at = datetime.now(UTC)
    session.flush()


def rule_problem(proposal: Proposal, test: AssuranceTest, verdict: str) -> str | None:
    """Why ``verdict`` may not be given on ``test`` for this proposal, or None."""
    if test.rule == BED_TEST_RULE and verdict in (MET, PARTLY_MET):
        has_evidence = any(e.evidence.strip() for e in proposal.bed_evidence)
        if proposal.beds_proposed < proposal.beds_now and not has_evidence:
            return (
                f"{test.name} cannot be {VERDICT_LABELS[verdict].lower()}: the proposal cuts "
                f"beds from {proposal.beds_now} to {proposal.beds_proposed} without evidence "
                "for any condition of the bed test"
            )
    short = proposal.investment_identified < proposal.investment_required
    if test.rule == INVESTMENT_RULE and verdict == MET and short:
        return (
            f"{test.name} cannot be met: the investment identified "
            f"({pounds(proposal.investment_identified)}) is below the investment "
            f"required ({pounds(proposal.investment_required)})"
        )
    return None


def assess(session: Session, proposal: Proposal, data: schemas.AssessIn, assessor: str) -> None:
    """Record verdicts (starting the review of a submitted proposal), and complete it."""
    if proposal.status == SUBMITTED:
        proposal.status = UNDER_REVIEW
    _require(proposal, UNDER_REVIEW, doing="assessed")
    by_slug = {t.slug: t for t in tests(session)}
    errors: dict[str, str] = {}
    for item in data.verdicts:
        test = by_slug.get(item.test_slug)
        if test is None:
            errors[f"verdict-{item.test_slug}"] = f"there is no test {item.test_slug!r}"
            continue
        problem = rule_problem(proposal, test, item.verdict)
        if problem:
            errors[f"verdict-{item.test_slug}"] = problem
    if errors:
        raise Invalid(errors)
    existing = {v.test_slug: v for v in proposal.verdicts}
    for item in data.verdicts:
        row = existing.get(item.test_slug)
        if row is None:
            row = Verdict(test_slug=item.test_slug)
            proposal.verdicts.append(row)
        row.verdict = item.verdict
        row.rationale = item.rationale
        row.evidence = item.evidence
        row.assessor = assessor
    if data.overall_summary is not None:
        proposal.overall_summary = data.overall_summary
    session.flush()
    if data.complete:
        given = {v.test_slug for v in proposal.verdicts}
        missing = [t for slug, t in by_slug.items() if slug not in given]
        if missing:
            raise Invalid({f"verdict-{t.slug}": f"give a verdict on {t.name}" for t in missing})
        proposal.status = ASSESSED
        proposal.assessed_at = datetime.now(UTC)
        proposal.assessed_by = assessor
        session.flush()


def publish(session: Session, proposal: Proposal) -> None:
    _require(proposal, ASSESSED, doing="published")
    proposal.status = PUBLISHED
    proposal.published_at = datetime.now(UTC)
    session.flush()


@dataclass(frozen=True)
class VerdictRow:
    test: AssuranceTest
    verdict: Verdict | None

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict.verdict] if self.verdict else "Not yet assessed"


def verdict_rows(session: Session, proposal: Proposal) -> list[VerdictRow]:
    given = {v.test_slug: v for v in proposal.verdicts}
    return [VerdictRow(test, given.get(test.slug)) for test in tests(session)]


def proposals_by_status(session: Session) -> list[tuple[str, int]]:
    """Each workflow status's label with how many proposals are in it, in workflow order."""
    from sqlalchemy import func

    counts = dict(
        session.execute(select(Proposal.status, func.count()).group_by(Proposal.status)).all()
    )
    return [(label, int(counts.get(status, 0))) for status, label in STATUS_LABELS.items()]
