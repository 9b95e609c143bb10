"""The disposals pipeline (devolution MoU): surplus sites from candidate to sold, and receipts.

London's devolution agreement gives the city estates modernisation: business cases
decided at London and sub-regional level, an agreed disposals pipeline built to
sub-regional plans, and "London receipts stay in London". A `Disposal` moves
candidate → approved → marketed → sold, or is withdrawn; the rules here hold for the
forms, the JSON API and anything else that changes one:

- a stage moves forward one step at a time (a candidate is approved before it is
  marketed); it may step back to an earlier stage (taken off the market), except that
  a sold disposal stays sold and a withdrawn one stays withdrawn;
- from approval on, the business case's deciding forum is named;
- a sold disposal has its actual receipt, and only a sold one has one;
- a withdrawn disposal says why;
- each stage reached is kept with its date (`DisposalStage`), never before the last
  one's and never in the future;
- only a candidate may be deleted (later stages are history: withdraw them instead).

Every change is audited (`Audited`): the disposal and its stages share one history.
Receipts are summed per sub-region in exact pounds (Decimal), so the public table's
totals are the sum of its rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import Conflict, Invalid, NotFound
from healthycity.core.inputs import (
    Input,
    OptionalDate,
    OptionalMoney,
    OptionalName,
    OptionalProse,
    OptionalTitle,
    Title,
    blank_to_none,
)
from healthycity.estates.models import (
    AGGREGATE_SITE_CODE,
    CANDIDATE,
    FORUMS,
    PIPELINE,
    SOLD,
    STAGE_LABELS,
    WITHDRAWN,
    Disposal,
    DisposalStage,
    EstatesOrganisation,
    EstatesSite,
)
from healthycity.estates.register import SUBREGIONS

Stage = Literal["candidate", "approved", "marketed", "sold", "withdrawn"]
Forum = Literal["subregional_board", "london_estates_board"]
Homes = Annotated[Annotated[int, Field(ge=0, le=1_000_000)] | None, BeforeValidator(blank_to_none)]


def _upper(value: object) -> object:
    value = blank_to_none(value)
    return value.strip().upper() if isinstance(value, str) else value


Code = Annotated[Annotated[str, StringConstraints(max_length=12)] | None, BeforeValidator(_upper)]


class DisposalIn(Input):
    """A disposal as the estates team records it (forms, API)."""

    name: Title
    org_code: Code = None
    site_code: Code = None
    site_description: OptionalTitle = None
    subregion: Annotated[OptionalName, BeforeValidator(_upper)] = None
    stage: Stage = "candidate"
    stage_on: OptionalDate = None
    forum: Annotated[Forum | None, BeforeValidator(blank_to_none)] = None
    expected_receipt: OptionalMoney = None
    actual_receipt: OptionalMoney = None
    homes_enabled: Homes = None
    expected_completion: OptionalDate = None
    withdrawn_reason: OptionalProse = None
    notes: OptionalProse = None
    published: bool = False

    @model_validator(mode="after")
    def _site_given(self) -> Self:
        if bool(self.org_code) != bool(self.site_code):
            missing = "site_code" if self.org_code else "org_code"
            raise ValueError(
                f"give both the organisation and the site code ({missing.replace('_', ' ')} "
                "is missing), or describe the site instead"
            )
        if not self.org_code and not self.site_description:
            raise ValueError(
                "give the site from the estates register (organisation and site code) "
                "or describe the site"
            )
        return self


# --------------------------------------------------------------------------- the rules


def _site_subregion(session: Session, data: DisposalIn) -> str | None:
    """The register's sub-region for the site given (None when it has none to offer)."""
    if not data.org_code or not data.site_code:
        return None
    if data.site_code == AGGREGATE_SITE_CODE:
        raise Invalid(
            {"site_code": "AGGRE is the aggregate of a trust's small sites, not one site"}
        )
    site = session.scalar(
        select(EstatesSite).where(
            EstatesSite.org_code == data.org_code, EstatesSite.site_code == data.site_code
        )
    )
    if site is None:
        raise Invalid(
            {"site_code": f"the estates register has no site {data.site_code} of {data.org_code}"}
        )
    if site.subregion in SUBREGIONS:
        return site.subregion
    org = session.get(EstatesOrganisation, data.org_code)
    return org.subregion if org is not None and org.subregion in SUBREGIONS else None


def _subregion(session: Session, data: DisposalIn) -> str:
    registered = _site_subregion(session, data)
    given = data.subregion or registered
    if given is None:
        raise Invalid({"subregion": "choose the sub-region whose plan the disposal belongs to"})
    if given not in SUBREGIONS:
        raise Invalid({"subregion": f"choose one of the sub-regions: {', '.join(SUBREGIONS)}"})
    if registered is not None and given != registered:
        raise Invalid(
            {"subregion": f"the estates register places this site in {registered}, not {given}"}
        )
    return given


def _stage_needs(data: DisposalIn) -> None:
    """What a stage needs, whatever came before it."""
    errors: dict[str, str] = {}
    if data.stage in PIPELINE[1:] and data.forum is None:
        errors["forum"] = "name the forum that decided the business case (approval onwards)"
    if data.stage == SOLD and data.actual_receipt is None:
        errors["actual_receipt"] = "a sold disposal needs its actual receipt"
    if data.stage != SOLD and data.actual_receipt is not None:
        errors["actual_receipt"] = "only a sold disposal has an actual receipt"
    if data.stage == WITHDRAWN and not data.withdrawn_reason:
        errors["withdrawn_reason"] = "say why the disposal was withdrawn"
    if data.stage_on is not None and data.stage_on > date.today():
        errors["stage_on"] = "a stage is recorded once it is reached: the date is in the future"
    if errors:
        raise Invalid(errors)


def check_move(old: str, new: str) -> None:
    """Refuse a stage change the pipeline does not allow (`Invalid` on the stage field)."""
    if old == new:
        return
    if old == SOLD:
        raise Invalid({"stage": "a sold disposal stays sold"})
    if old == WITHDRAWN:
        raise Invalid({"stage": "a withdrawn disposal stays withdrawn; add it again if it returns"})
    if new == WITHDRAWN:
        return
    step = PIPELINE.index(new) - PIPELINE.index(old)
    if step > 1:
        skipped = PIPELINE[PIPELINE.index(old) + 1]
        raise Invalid(
            {
                "stage": f"a {STAGE_LABELS[old].lower()} disposal must be "
                f"{STAGE_LABELS[skipped].lower()} before it is {STAGE_LABELS[new].lower()}"
            }
        )


FIELDS = (
    "name",
    "org_code",
    "site_code",
    "site_description",
    "forum",
    "expected_receipt",
    "actual_receipt",
    "homes_enabled",
    "expected_completion",
    "withdrawn_reason",
    "notes",
    "published",
)


def _assign(session: Session, row: Disposal, data: DisposalIn) -> None:
    subregion = _subregion(session, data)
    _stage_needs(data)
    for name in FIELDS:
        setattr(row, name, getattr(data, name))
    row.subregion = subregion


def create(session: Session, data: DisposalIn, created_by: str) -> Disposal:
    row = Disposal(stage=data.stage, created_by=created_by)
    _assign(session, row, data)
    row.stages.append(DisposalStage(stage=data.stage, reached_on=data.stage_on or date.today()))
    session.add(row)
    session.flush()
    return row


def update(session: Session, row: Disposal, data: DisposalIn) -> None:
    """Change a disposal; a new stage is checked against the old and added to its history."""
    check_move(row.stage, data.stage)
    _assign(session, row, data)
    latest = row.stages[-1] if row.stages else None
    when = data.stage_on or date.today()
    if data.stage != row.stage or latest is None:
        if latest is not None and when < latest.reached_on:
            raise Invalid(
                {
                    "stage_on": f"the date is before the disposal became "
                    f"{STAGE_LABELS[latest.stage].lower()} ({latest.reached_on.isoformat()})"
                }
            )
        row.stage = data.stage
        row.stages.append(DisposalStage(stage=data.stage, reached_on=when))
    elif data.stage_on is not None and data.stage_on != latest.reached_on:
        earlier = row.stages[-2] if len(row.stages) > 1 else None
        if earlier is not None and data.stage_on < earlier.reached_on:
            raise Invalid(
                {"stage_on": f"the date is before the previous stage ({earlier.reached_on})"}
            )
        latest.reached_on = data.stage_on
    session.flush()


def delete(session: Session, row: Disposal) -> None:
    if row.stage != CANDIDATE:
        raise Conflict(
            f"only a candidate can be deleted; this disposal is {row.stage}: withdraw it instead"
        )
    session.delete(row)
    session.flush()


def get(session: Session, disposal_id: int) -> Disposal:
    row = session.get(Disposal, disposal_id)
    if row is None:
        raise NotFound(f"no disposal {disposal_id}")
    return row


def listing(session: Session, *, published_only: bool = False) -> list[Disposal]:
    query = select(Disposal).order_by(Disposal.subregion, Disposal.id)
    if published_only:
        query = query.where(Disposal.published.is_(True))
    return list(session.scalars(query))


def current(row: Disposal) -> dict[str, Any]:
    """The record as input (what an edit is laid over)."""
    values: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    values |= {
        "subregion": row.subregion,
        "stage": row.stage,
        "stage_on": row.stages[-1].reached_on if row.stages else None,
        "published": "yes" if row.published else "no",
    }
    return values


def site_names(session: Session, rows: Iterable[Disposal]) -> dict[tuple[str, str], str]:
    keys = {(r.org_code, r.site_code) for r in rows if r.org_code and r.site_code}
    if not keys:
        return {}
    orgs = {k[0] for k in keys}
    found = session.scalars(select(EstatesSite).where(EstatesSite.org_code.in_(orgs)))
    return {(s.org_code, s.site_code): s.name for s in found if (s.org_code, s.site_code) in keys}


def public_json(row: Disposal, site_name: str | None = None) -> dict[str, Any]:
    """What the public pipeline shows of a disposal: never its notes or who entered it."""
    return {
        "id": row.id,
        "name": row.name,
        "organisation": row.org_code,
        "site": row.site_code,
        "site_name": site_name,
        "site_description": row.site_description,
        "subregion": row.subregion,
        "subregion_name": SUBREGIONS.get(row.subregion, row.subregion),
        "stage": row.stage,
        "forum": row.forum,
        "forum_name": FORUMS.get(row.forum) if row.forum else None,
        "expected_receipt": row.expected_receipt,
        "actual_receipt": row.actual_receipt,
        "homes_enabled": row.homes_enabled,
        "expected_completion": row.expected_completion,
        "withdrawn_reason": row.withdrawn_reason,
        "stages": [{"stage": s.stage, "reached_on": s.reached_on} for s in row.stages],
    }


def workspace_json(row: Disposal) -> dict[str, Any]:
    return public_json(row) | {
        "notes": row.notes,
        "published": row.published,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


# ------------------------------------------------------------------------------ receipts


@dataclass(frozen=True)
class Receipts:
    """One sub-region's pipeline (or London's, code ``LONDON``) in exact pounds."""

    code: str
    name: str
    in_pipeline: int
    sold: int
    withdrawn: int
    expected_receipts: Decimal
    actual_receipts: Decimal
    homes_enabled: int


def receipts(rows: Sequence[Disposal]) -> list[Receipts]:
    """Each sub-region's disposals and receipts, then London's total (the last row).

    Expected receipts are those of disposals still in the pipeline (not sold, not
    withdrawn); actual receipts those of sold disposals; homes enabled count every
    disposal not withdrawn.
    """
    out = []
    for code, name in [*SUBREGIONS.items(), ("LONDON", "London")]:
        mine = [r for r in rows if code == "LONDON" or r.subregion == code]
        live = [r for r in mine if r.stage not in (SOLD, WITHDRAWN)]
        sold = [r for r in mine if r.stage == SOLD]
        out.append(
            Receipts(
                code=code,
                name=name,
                in_pipeline=len(live),
                sold=len(sold),
                withdrawn=sum(1 for r in mine if r.stage == WITHDRAWN),
                expected_receipts=sum(
                    (r.expected_receipt or Decimal(0) for r in live), Decimal("0.00")
                ),
                actual_receipts=sum(
                    (r.actual_receipt or Decimal(0) for r in sold), Decimal("0.00")
                ),
                homes_enabled=sum(r.homes_enabled or 0 for r in mine if r.stage != WITHDRAWN),
            )
        )
    return out
