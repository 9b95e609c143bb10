"""Service-change proposals as a record kind: JSON API, generic forms and named actions.

``submit`` is an edit by the sponsor's side; ``assess`` and ``publish`` are the
assessor's. Each is checked against the policy as that action, through one path.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.assurance import schemas, service
from healthycity.assurance.models import Proposal
from healthycity.core import auth
from healthycity.core.audit import snapshot
from healthycity.core.auth import Principal
from healthycity.core.web.records import FormField, RecordKind, api_router


def _proposal_form(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if not k.startswith("bed_evidence.")}
    out["bed_evidence"] = {
        key.removeprefix("bed_evidence."): value
        for key, value in data.items()
        if key.startswith("bed_evidence.") and isinstance(value, str)
    }
    return out


def proposal_json(row: Proposal) -> dict[str, Any]:
    body = snapshot(row)
    body["bed_evidence"] = {e.condition_slug: e.evidence for e in row.bed_evidence}
    body["verdicts"] = [
        {
            "test": v.test_slug,
            "verdict": v.verdict,
            "rationale": v.rationale,
            "evidence": v.evidence,
            "assessor": v.assessor,
        }
        for v in row.verdicts
    ]
    return body


def _bed_fields(session: Session) -> tuple[FormField, ...]:
    return tuple(
        FormField(
            f"bed_evidence.{c.slug}",
            f"Bed test evidence: {c.name}",
            kind="textarea",
            hint=c.detail,
        )
        for c in service.conditions(session)
    )


def _submit(session: Session, row: Any, _data: Any, _principal: Principal) -> None:
    service.submit(session, row)


def _assess(session: Session, row: Any, data: Any, principal: Principal) -> None:
    service.assess(session, row, data, principal.label)


def _publish(session: Session, row: Any, _data: Any, _principal: Principal) -> None:
    service.publish(session, row)


PROPOSAL = RecordKind(
    name=auth.PROPOSAL,
    plural="proposals",
    label="service-change proposal",
    model=Proposal,
    schema=schemas.ProposalIn,
    fields=(
        FormField("title", "Title"),
        FormField("sponsor", "Sponsor", hint="The organisation proposing the change"),
        FormField("summary", "Summary", kind="textarea"),
        FormField("services", "Services affected", kind="textarea"),
        FormField(
            "affected_boroughs",
            "Boroughs affected",
            kind="lines",
            hint="Area codes, one per line, like E09000005",
        ),
        FormField("beds_now", "Beds now", kind="number", width=5),
        FormField("beds_proposed", "Beds proposed", kind="number", width=5),
        FormField("investment_required", "Investment required", kind="money"),
        FormField("investment_identified", "Investment identified", kind="money"),
        FormField(
            "social_care_cost_impact",
            "Cost to social care each year",
            kind="money",
            hint="In pounds; a negative amount is a saving to councils",
        ),
        FormField("social_care_note", "How the social care impact was worked out", kind="textarea"),
        FormField("engagement_evidence", "Patient and public engagement", kind="textarea"),
        FormField("clinical_evidence", "Clinical evidence and support", kind="textarea"),
    ),
    parse_key=int,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=service.proposal_input,
    create=lambda session, data, principal: service.create_proposal(session, data, principal.label),
    update=lambda session, row, data, _p: service.update_proposal(session, row, data),
    delete=service.delete_proposal,
    listing=lambda session: list(session.scalars(select(Proposal).order_by(Proposal.id))),
    return_url=lambda row: f"/workspace/proposals/{row.id}",
    title_of=lambda row: row.title,
    to_json=proposal_json,
    form_to_input=_proposal_form,
    more_fields=_bed_fields,
    actions={
        "submit": (auth.EDIT, _submit, None),
        "assess": (auth.ASSESS, _assess, schemas.AssessIn),
        "publish": (auth.PUBLISH, _publish, schemas.PublishIn),
    },
)

KINDS: tuple[RecordKind, ...] = (PROPOSAL,)


def register(app: FastAPI) -> None:
    """Mount the proposals' JSON API (``/api/v1/proposals…``)."""
    from healthycity.core.web.workspace import install

    install(app)
    app.include_router(api_router(KINDS))
