"""``programmes.yaml``: themes, programmes, portfolio lines and their leads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    LocalAuthorityCode,
    Model,
    Money,
    PersonRef,
    ShortCode,
    Slug,
    SourceId,
    Text,
    duplicates,
)


class Lead(Model):
    """Who leads a programme for one planning group or one area.

    ``status`` is ``named`` when people are given, ``tbc`` when the post is to be
    confirmed (a provisional name may still be given), ``not_applicable``, or ``other``
    with a ``note`` saying how the role is covered.
    """

    group: ShortCode | None = None
    area: LocalAuthorityCode | None = None
    people: tuple[PersonRef, ...] = ()
    status: Literal["named", "tbc", "not_applicable", "other"] = "named"
    note: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.group is None) == (self.area is None):
            raise ValueError("give exactly one of group or area")
        if self.status == "named" and not self.people:
            raise ValueError("status named needs at least one person")
        if self.status == "not_applicable" and self.people:
            raise ValueError("status not_applicable takes no people")
        if self.status == "other" and self.note is None:
            raise ValueError("status other needs a note")
        return self


class LeadSet(Model):
    hlp_leads: tuple[PersonRef, ...] = ()
    spg_leads: tuple[Lead, ...] = ()
    ccg_leads: tuple[Lead, ...] = ()


class Theme(Model):
    slug: Slug
    name: Text


class FocusArea(Model):
    number: int = Field(ge=1)
    text: Text
    details: tuple[Text, ...] = ()


class Programme(Model):
    """A collaborative transformation programme: its case, its plan, its people, its money."""

    slug: Slug
    number: int = Field(ge=1)
    name: Text
    title: Text
    theme: Slug
    vision: Text
    challenges: tuple[Text, ...] = Field(min_length=1)
    focus_areas: tuple[FocusArea, ...] = Field(min_length=1)
    local_actions: tuple[Text, ...] = ()
    collaborative_actions: tuple[Text, ...] = ()
    aspirations: tuple[Slug, ...] = ()
    # The collaboration agreement's shared objectives (aspirations.yaml) it serves.
    objectives: tuple[Slug, ...] = ()
    ccg_lead_sro: Text
    other_sros: tuple[Text, ...] = ()
    hlp_leads: tuple[PersonRef, ...] = ()
    spg_leads: tuple[Lead, ...] = ()
    ccg_leads: tuple[Lead, ...] = ()
    budget: Money
    budget_note: Text | None = None
    notes: Text | None = None
    progress_2015: tuple[Text, ...] = ()
    sources: tuple[SourceId, ...] = ()


class PortfolioLine(Model):
    """A budget line of the portfolio that is not a programme (central support costs)."""

    slug: Slug
    number: int = Field(ge=1)
    name: Text
    sro: Text
    budget: Money
    description: Text | None = None
    sources: tuple[SourceId, ...] = ()


class Portfolio(FileModel):
    """``programmes.yaml``: themes, programmes, portfolio lines and portfolio-wide leads."""

    FILE: ClassVar[str] = "programmes.yaml"

    themes: tuple[Theme, ...] = Field(min_length=1)
    portfolio_leads: LeadSet = LeadSet()
    portfolio_lines: tuple[PortfolioLine, ...] = ()
    programmes: tuple[Programme, ...] = Field(min_length=1)

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(t.slug for t in self.themes), "themes")
        found += duplicates(enumerate(p.slug for p in self.programmes), "programmes")
        found += duplicates(
            enumerate(str(p.number) for p in self.programmes), "programmes", "number"
        )
        found += duplicates(enumerate(p.slug for p in self.portfolio_lines), "portfolio_lines")
        programme_slugs = {p.slug for p in self.programmes}
        for i, line in enumerate(self.portfolio_lines):
            if line.slug in programme_slugs:
                found.append(
                    (f"portfolio_lines[{i}].slug", f"{line.slug!r} is already a programme slug")
                )
        themes = {t.slug for t in self.themes}
        for i, programme in enumerate(self.programmes):
            where = f"programmes[{i}]"
            if programme.theme not in themes:
                found.append((f"{where}.theme", f"unknown theme {programme.theme!r}"))
            numbers = [f.number for f in programme.focus_areas]
            if numbers != list(range(1, len(numbers) + 1)):
                found.append((f"{where}.focus_areas", "focus areas must be numbered 1, 2, 3 …"))
            found += _lead_duplicates(programme.spg_leads, f"{where}.spg_leads")
            found += _lead_duplicates(programme.ccg_leads, f"{where}.ccg_leads")
        return found


def _lead_duplicates(leads: Sequence[Lead], where: str) -> list[Issue]:
    keys = ((i, lead.group or lead.area or "") for i, lead in enumerate(leads))
    return duplicates(keys, where, "group/area")
