"""``devolution.yaml``: the devolution agreement, its areas, pilots and funding."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    LocalAuthorityCode,
    Model,
    Money,
    PartialDate,
    Period,
    ShortCode,
    Slug,
    SourceId,
    Text,
    duplicates,
)


class Mou(Model):
    name: Text
    first_proposals: PartialDate | None = None
    signed: PartialDate | None = None
    delay_months: int | None = Field(default=None, ge=0)
    pledges: int | None = Field(default=None, ge=0)
    summary: Text | None = None
    sources: tuple[SourceId, ...] = ()


class DevolutionArea(Model):
    slug: Slug
    number: int = Field(ge=1)
    name: Text


PilotStatus = Literal["announced", "developing", "testing", "tested", "implementing", "closed"]


class PilotMilestone(Model):
    """A step of a pilot the sources date: its title, when, and whether it was met."""

    title: Text
    date: PartialDate
    met: bool = False
    sources: tuple[SourceId, ...] = ()


class Pilot(Model):
    """A devolution pilot: a place (areas and/or a whole sub-region) testing one theme."""

    slug: Slug
    number: int = Field(ge=1)
    name: Text
    theme: Literal["prevention", "integration", "estates"]
    areas: tuple[LocalAuthorityCode, ...] = ()
    sub_regions: tuple[ShortCode, ...] = ()
    description: Text
    partners: tuple[Text, ...] = ()
    status: PilotStatus | None = None
    milestones: tuple[PilotMilestone, ...] = ()
    sources: tuple[SourceId, ...] = ()

    @model_validator(mode="after")
    def _has_place(self) -> Self:
        if not self.areas and not self.sub_regions:
            raise ValueError("a pilot needs at least one area or sub-region")
        return self


class FundCategory(Model):
    slug: Slug
    name: Text
    amount: Money | None = None


class TransformationFund(Model):
    """A transformation fund split into categories whose known amounts must reconcile."""

    period: Period
    total: Money
    categories: tuple[FundCategory, ...] = Field(min_length=1)
    note: Text | None = None
    sources: tuple[SourceId, ...] = ()

    @model_validator(mode="after")
    def _reconciles(self) -> Self:
        known = [c.amount for c in self.categories if c.amount is not None]
        allocated = sum(known, Decimal(0))
        if len(known) == len(self.categories) and allocated != self.total:
            raise ValueError(f"categories add up to {allocated}, not the total {self.total}")
        if allocated > self.total:
            raise ValueError(f"categories add up to {allocated}, more than the total {self.total}")
        return self


class Opportunity(Model):
    slug: Slug
    name: Text
    horizon: Literal["immediate", "longer_term"]


class CriticalTask(Model):
    slug: Slug
    number: int = Field(ge=1)
    year: int = Field(ge=1990, le=2100)
    title: Text
    steps: tuple[Text, ...] = ()


class Devolution(FileModel):
    """``devolution.yaml``: the devolution agreement, its areas, pilots and funding.

    Every part is optional: a city without a devolution deal writes ``{}``.
    """

    FILE: ClassVar[str] = "devolution.yaml"

    mou: Mou | None = None
    areas: tuple[DevolutionArea, ...] = ()
    pilots: tuple[Pilot, ...] = ()
    transformation_fund: TransformationFund | None = None
    opportunities: tuple[Opportunity, ...] = ()
    critical_tasks: tuple[CriticalTask, ...] = ()

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(a.slug for a in self.areas), "areas")
        found += duplicates(enumerate(p.slug for p in self.pilots), "pilots")
        found += duplicates(enumerate(o.slug for o in self.opportunities), "opportunities")
        found += duplicates(enumerate(t.slug for t in self.critical_tasks), "critical_tasks")
        if self.transformation_fund is not None:
            found += duplicates(
                enumerate(c.slug for c in self.transformation_fund.categories),
                "transformation_fund.categories",
            )
        return found
