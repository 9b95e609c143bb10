"""The assurance workflow and the rules that bind verdicts to the proposal's figures."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from healthycity.assurance import schemas, service
from healthycity.assurance.models import ASSESSED, SUBMITTED, UNDER_REVIEW
from healthycity.core.audit import history
from healthycity.core.db import transaction
from tests.workspace.helpers import load_london, unit

PROPOSAL: dict[str, Any] = {
    "title": "Consolidate stroke units",
    "sponsor": "North West London STP",
    "services": "Hyper-acute stroke care",
    "affected_boroughs": "E09000005; E09000009",
    "beds_now": 120,
    "beds_proposed": 96,
    "investment_required": "4,000,000",
    "investment_identified": "3500000",
    "social_care_cost_impact": "-25000",
    "engagement_evidence": "Twelve public meetings; survey of 2,400 residents.",
    "clinical_evidence": "Outcomes of the 2010 stroke reconfiguration.",
}


def _all_verdicts(session: Any, verdict: str = "partly_met") -> list[schemas.VerdictIn]:
    return [
        schemas.VerdictIn(test_slug=t.slug, verdict=verdict, rationale="Reviewed.")
        for t in service.tests(session)
    ]


def _submitted(engine: Engine, **changes: Any) -> int:
    load_london(engine)
    with unit(engine) as session:
        proposal = service.create_proposal(
            session, schemas.ProposalIn.model_validate(PROPOSAL | changes), "sponsor@x"
        )
        service.submit(session, proposal)
        return proposal.id


def test_a_proposal_goes_from_draft_to_published(engine: Engine) -> None:
    proposal_id = _submitted(engine)
    with (
        pytest.raises(service.Conflict, match="only a proposal that is draft"),
        unit(engine) as session,
    ):
        proposal = service.get_proposal(session, proposal_id)
        service.update_proposal(session, proposal, schemas.ProposalIn.model_validate(PROPOSAL))
    with unit(engine) as session:
        proposal = service.get_proposal(session, proposal_id)
        assert proposal.status == SUBMITTED
        service.assess(session, proposal, schemas.AssessIn(), "assessor@x")
        assert proposal.status == UNDER_REVIEW
    with pytest.raises(service.Invalid) as incomplete, unit(engine) as session:
        proposal = service.get_proposal(session, proposal_id)
        service.assess(session, proposal, schemas.AssessIn(complete=True), "assessor@x")
    assert len(incomplete.value.errors) == 10  # six assurances and four NHS tests
    with unit(engine) as session:
        proposal = service.get_proposal(session, proposal_id)
        data = schemas.AssessIn(verdicts=_all_verdicts(session, "not_met"), complete=True)
        service.assess(session, proposal, data, "assessor@x")
        assert proposal.status == ASSESSED
        service.publish(session, proposal)
    with transaction(engine) as session:
        assert [p.id for p in service.published(session)] == [proposal_id]
        actions = [
            r.after["status"]
            for r in history(session, "proposal", str(proposal_id))
            if r.record_type == "proposal" and r.after
        ]
        assert actions == ["draft", "submitted", "under_review", "assessed", "published"]
    with pytest.raises(service.Conflict), unit(engine) as session:
        service.delete_proposal(session, service.get_proposal(session, proposal_id))


def test_bed_cuts_need_bed_test_evidence_to_pass_hospital_capacity(engine: Engine) -> None:
    proposal_id = _submitted(engine)
    verdict = schemas.VerdictIn(test_slug="hospital-capacity", verdict="met", rationale="x")
    for given in ("met", "partly_met"):
        with (
            pytest.raises(service.Invalid, match="without evidence") as refused,
            unit(engine) as session,
        ):
            service.assess(
                session,
                service.get_proposal(session, proposal_id),
                schemas.AssessIn(verdicts=[verdict.model_copy(update={"verdict": given})]),
                "a",
            )
        assert "verdict-hospital-capacity" in refused.value.errors
    with unit(engine) as session:
        service.assess(
            session,
            service.get_proposal(session, proposal_id),
            schemas.AssessIn(verdicts=[verdict.model_copy(update={"verdict": "not_met"})]),
            "a",
        )
    evidenced = _submitted(
        engine, bed_evidence={"alternative-provision": "Two new community stroke teams, staffed."}
    )
    with unit(engine) as session:
        service.assess(
            session,
            service.get_proposal(session, evidenced),
            schemas.AssessIn(verdicts=[verdict]),
            "a",
        )


def test_identified_investment_below_required_cannot_be_sufficient(engine: Engine) -> None:
    proposal_id = _submitted(engine)
    verdict = schemas.VerdictIn(test_slug="sufficient-investment", verdict="met", rationale="x")
    with (
        pytest.raises(service.Invalid, match="below the investment required"),
        unit(engine) as session,
    ):
        service.assess(
            session,
            service.get_proposal(session, proposal_id),
            schemas.AssessIn(verdicts=[verdict]),
            "a",
        )
    funded = _submitted(engine, investment_identified="4000000")
    with unit(engine) as session:
        service.assess(
            session,
            service.get_proposal(session, funded),
            schemas.AssessIn(verdicts=[verdict]),
            "a",
        )


def test_proposal_input_is_validated() -> None:
    with pytest.raises(ValidationError):
        schemas.ProposalIn.model_validate(PROPOSAL | {"affected_boroughs": ""})
    with pytest.raises(ValidationError):
        schemas.ProposalIn.model_validate(PROPOSAL | {"beds_now": -1})
    with pytest.raises(ValidationError):
        schemas.ProposalIn.model_validate(PROPOSAL | {"affected_boroughs": "Camden"})
    data = schemas.ProposalIn.model_validate(PROPOSAL)
    assert str(data.social_care_cost_impact) == "-25000.00"
    assert data.affected_boroughs == ["E09000005", "E09000009"]


def test_submitting_needs_engagement_and_clinical_evidence(engine: Engine) -> None:
    load_london(engine)
    with pytest.raises(service.Invalid) as refused, unit(engine) as session:
        draft = service.create_proposal(
            session,
            schemas.ProposalIn.model_validate(PROPOSAL | {"clinical_evidence": ""}),
            "s",
        )
        service.submit(session, draft)
    assert set(refused.value.errors) == {"clinical_evidence"}
