"""The city-pack schema: one pydantic model per pack file, and the whole ``Pack``.

A city pack is data another city can write, so the schema is the contract. Every model
forbids unknown keys (a misspelt key is an error, not a silently ignored value) and is
frozen (a loaded pack is a value, safe to share between threads and cache).

Checks come in three layers, so that a pack author gets every problem at once and each
problem names the exact key:

1. field types and constraints (pydantic), e.g. an ONS code pattern, a non-negative
   budget, money written as a string;
2. checks within one file (``FileModel.issues``), e.g. unique slugs, a target's value
   consistent with its status;
3. checks across files (``cross_file_issues``), e.g. a CCG's areas are local authorities
   the pack defines, a programme supports aspirations that exist.

Layers 2 and 3 return issues rather than raising, so the reader can collect all of them
with precise locations. The model validators still run them and raise when a model is
built directly in code, unless the validation context carries ``{"collect": True}``
(which is how :mod:`healthycity.packs.reader` asks to collect instead).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------- types

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
"""Lower-case words joined by hyphens: stable identifiers used in URLs and references."""

ShortCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,7}$")]
"""A short upper-case code such as a sub-region (NWL) or planning group (WELC)."""

GSS_PATTERN = r"^[EKNSW]\d{8}$"
"""ONS Government Statistical Service codes: a country letter and eight digits."""

GssCode = Annotated[str, StringConstraints(pattern=GSS_PATTERN)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^(E92|W92|S92|N92|K0[234])\d{6}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^(E12|E92|W92|S92|N92)\d{6}$")]
LocalAuthorityCode = Annotated[str, StringConstraints(pattern=r"^(E0[6-9]|W06|S12|N09)\d{6}$")]
"""Local authority districts: English unitary (E06), district (E07), metropolitan (E08) and
London borough (E09) codes, and their Welsh, Scottish and Northern Irish equivalents."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Required prose: blank strings are refused, since a blank vision or reason is a mistake."""

SourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]


def _no_float(value: object) -> object:
    """Refuse binary floats: 0.1 + 0.2 is not 0.3, and money must add up exactly."""
    if isinstance(value, float):
        raise ValueError(
            'write decimals as quoted strings (e.g. "1234567.00" or "13.5"), not bare numbers'
        )
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


def _money(value: object) -> object:
    """Money is pounds with at most two decimal places, written in YAML as a quoted string.

    A Decimal from code is accepted as it is exact; bare YAML numbers are refused, since a
    float may already have lost pennies before the schema sees it.
    """
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.quantize(Decimal("0.01")):
            return value
        raise ValueError(f"{value} is not an amount in pounds and pence")
    if not isinstance(value, str):
        raise ValueError('money must be a quoted decimal string such as "1234567.00"')
    if not re.fullmatch(r"-?\d{1,15}(\.\d{1,2})?", value.strip()):
        raise ValueError(f'{value!r} is not an amount in pounds such as "1234567.00"')
    return value.strip()


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _date_text(value: object) -> object:
    """YAML turns 2017-11-16 into a date; keep every date as ISO text (year, month or day)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


Money = Annotated[Decimal, BeforeValidator(_money), AfterValidator(_non_negative)]
"""Pounds as an exact Decimal, written in YAML as a quoted string; never negative."""

Number = Annotated[
    Decimal, BeforeValidator(_no_float), AfterValidator(_finite), AfterValidator(_non_negative)
]
"""An exact, non-negative number (a target value, a demo value): int or quoted decimal."""

SignedNumber = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_finite)]


def _real_date(value: str) -> str:
    if len(value) == 10:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date in the calendar") from None
    return value


PartialDate = Annotated[
    str,
    BeforeValidator(_date_text),
    StringConstraints(pattern=r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"),
    AfterValidator(_real_date),
]
"""A year, year-month or full date as ISO text: the seeds date things to varying precision."""

Period = Annotated[str, BeforeValidator(_date_text), StringConstraints(min_length=4, max_length=20)]
"""A reporting period as Fingertips writes it: 2020, 2018/19, 2016 - 18."""


def _person(value: object) -> object:
    """Let authors write a bare name where no note is needed."""
    if isinstance(value, str):
        return {"name": value}
    return value


class Model(BaseModel):
    """Base for every pack model: unknown keys are errors and loaded values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Issue = tuple[str, str]
"""(location within the file, reason): a problem found by a within-file check."""

FileIssue = tuple[str, str, str]
"""(file name, location, reason): a problem found by a cross-file check."""


def _collecting(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get("collect"))


def _raise_issues(issues: Sequence[Issue] | Sequence[FileIssue]) -> None:
    if issues:
        lines = [": ".join(issue) for issue in issues]
        raise ValueError("; ".join(lines))


def duplicates(items: Iterable[tuple[int, str]], where: str, what: str = "slug") -> list[Issue]:
    """Issues for repeated keys: the second and later uses, pointing back at the first."""
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for index, key in items:
        if key in first:
            issues.append(
                (f"{where}[{index}].{what}", f"duplicate {what} {key!r} (first at [{first[key]}])")
            )
        else:
            first[key] = index
    return issues


class FileModel(Model):
    """A model for one whole pack file, with its own within-file checks."""

    FILE: ClassVar[str] = ""

    def issues(self) -> list[Issue]:
        """Within-file problems; empty when the file is consistent."""
        return []

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        if not _collecting(info):
            _raise_issues(self.issues())
        return self


# ---------------------------------------------------------------------------- pack.yaml


class Source(Model):
    """A document the pack's facts come from; other files cite it by ``id``."""

    id: SourceId
    title: Text
    publisher: Text | None = None
    date: PartialDate | None = None
    summary: Text | None = None
    url: Text | None = None


class PackInfo(FileModel):
    """``pack.yaml``: who the pack is for, where its facts come from, which schema it uses."""

    FILE: ClassVar[str] = "pack.yaml"

    schema_version: Literal[1]
    id: Slug
    name: Text
    city: Text
    country_code: CountryCode
    region_code: RegionCode
    goal: Text | None = None
    licence: Text
    source_note: Text
    sources: tuple[Source, ...] = Field(min_length=1)

    def issues(self) -> list[Issue]:
        return duplicates(enumerate(s.id for s in self.sources), "sources", "id")


# ---------------------------------------------------------------------------- geography


class NamedArea(Model):
    code: GssCode
    name: Text


class SubRegion(Model):
    """A sub-region of the city: the footprint of an NHS partnership (STP, later ICB)."""

    code: ShortCode
    name: Text
    nhs_code: GssCode
    nhs_name: Text | None = None
    approx_population: int = Field(gt=0)
    population_note: Text | None = None


class PlanningGroup(Model):
    """A commissioning footprint that leads were named for (the 2015 SPGs in London)."""

    code: ShortCode
    name: Text
    sub_region: ShortCode
    areas: tuple[LocalAuthorityCode, ...] = Field(min_length=1)


class Geography(FileModel):
    """``geography.yaml``: the country, the region, sub-regions and planning groups."""

    FILE: ClassVar[str] = "geography.yaml"

    country: NamedArea
    region: NamedArea
    sub_regions: tuple[SubRegion, ...] = Field(min_length=1)
    planning_groups: tuple[PlanningGroup, ...] = ()

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(s.code for s in self.sub_regions), "sub_regions", "code")
        found += duplicates(
            enumerate(s.nhs_code for s in self.sub_regions), "sub_regions", "nhs_code"
        )
        found += duplicates(
            enumerate(g.code for g in self.planning_groups), "planning_groups", "code"
        )
        codes = {s.code for s in self.sub_regions}
        for i, group in enumerate(self.planning_groups):
            if group.sub_region not in codes:
                found.append(
                    (f"planning_groups[{i}].sub_region", f"unknown sub-region {group.sub_region!r}")
                )
        return found


class LocalAuthority(Model):
    """One row of ``local_authorities.csv``: a local authority and its tile on the map.

    ``tile_col``/``tile_row`` place it on a grid (column 0 is west, row 0 is north) so a
    tile map of the city needs no boundary file.
    """

    code: LocalAuthorityCode
    name: Text
    sub_region: ShortCode
    tile_col: int = Field(ge=0, le=99)
    tile_row: int = Field(ge=0, le=99)


LOCAL_AUTHORITY_COLUMNS = ("code", "name", "sub_region", "tile_col", "tile_row")
LOCAL_AUTHORITIES_FILE = "local_authorities.csv"


def local_authority_issues(rows: Sequence[LocalAuthority]) -> list[Issue]:
    """Within-file checks for the local-authority table: unique codes, names and tiles."""
    found = duplicates(enumerate(r.code for r in rows), "local_authorities", "code")
    found += duplicates(enumerate(r.name for r in rows), "local_authorities", "name")
    found += duplicates(
        enumerate(f"({r.tile_col},{r.tile_row})" for r in rows), "local_authorities", "tile"
    )
    if not rows:
        found.append(("local_authorities", "the table has no rows"))
    return found


# ---------------------------------------------------------------------------- organisations


OrganisationKind = Literal[
    "ccg", "council", "mayor", "national_body", "association", "partnership_unit"
]


class Organisation(Model):
    """A party to the partnership or a body it works with."""

    slug: Slug
    name: Text
    kind: OrganisationKind
    ods_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,6}$")] | None = None
    sub_region: ShortCode | None = None
    areas: tuple[LocalAuthorityCode, ...] = ()
    partial_areas: tuple[LocalAuthorityCode, ...] = ()
    party_to_agreement: bool
    aliases: tuple[Text, ...] = ()
    description: Text | None = None
    sources: tuple[SourceId, ...] = ()

    @model_validator(mode="after")
    def _kind_rules(self) -> Self:
        if self.kind == "ccg" and not self.areas:
            raise ValueError("a CCG must list the areas it covers")
        if self.kind == "council" and len(self.areas) != 1:
            raise ValueError("a council covers exactly one local authority area")
        if set(self.areas) & set(self.partial_areas):
            raise ValueError("an area cannot be both wholly and partly covered")
        return self


class Forum(Model):
    """A decision-making forum or a group that supports one."""

    slug: Slug
    name: Text
    kind: Literal["decision_making", "supporting"]
    chair: Text | None = None
    members: tuple[Text, ...] = ()
    role: Text
    sources: tuple[SourceId, ...] = ()


class Partnership(Model):
    """A place-based health and care partnership within a sub-region."""

    slug: Slug
    name: Text
    sub_region: ShortCode
    level: Literal["locality", "borough", "multi_borough", "sub_region"]
    areas: tuple[LocalAuthorityCode, ...] = ()
    description: Text
    sources: tuple[SourceId, ...] = ()


class Organisations(FileModel):
    """``organisations.yaml``: parties, forums and place-based partnerships."""

    FILE: ClassVar[str] = "organisations.yaml"

    organisations: tuple[Organisation, ...] = Field(min_length=1)
    forums: tuple[Forum, ...] = ()
    partnerships: tuple[Partnership, ...] = ()

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(o.slug for o in self.organisations), "organisations")
        found += duplicates(
            ((i, o.ods_code) for i, o in enumerate(self.organisations) if o.ods_code),
            "organisations",
            "ods_code",
        )
        found += duplicates(enumerate(f.slug for f in self.forums), "forums")
        found += duplicates(enumerate(p.slug for p in self.partnerships), "partnerships")
        return found


# ---------------------------------------------------------------------------- aspirations


class Ambition(Model):
    slug: Slug
    statement: Text


class Aspiration(Model):
    """A long-term aspiration with the ambitions that make it concrete."""

    slug: Slug
    number: int = Field(ge=1)
    title: Text
    ambitions: tuple[Ambition, ...] = Field(min_length=1)
    sources: tuple[SourceId, ...] = ()


class SharedObjective(Model):
    slug: Slug
    number: int = Field(ge=1)
    text: Text


class Aspirations(FileModel):
    """``aspirations.yaml``: the aspirations, their ambitions, and the shared objectives."""

    FILE: ClassVar[str] = "aspirations.yaml"

    aspirations: tuple[Aspiration, ...] = Field(min_length=1)
    shared_objectives: tuple[SharedObjective, ...] = ()

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(a.slug for a in self.aspirations), "aspirations")
        found += duplicates(
            enumerate(str(a.number) for a in self.aspirations), "aspirations", "number"
        )
        for i, aspiration in enumerate(self.aspirations):
            found += duplicates(
                enumerate(b.slug for b in aspiration.ambitions), f"aspirations[{i}].ambitions"
            )
        found += duplicates(enumerate(o.slug for o in self.shared_objectives), "shared_objectives")
        return found


# ---------------------------------------------------------------------------- vision


class Person(Model):
    """A named person, with an optional note (a role, an organisation, a caveat)."""

    name: Text
    note: Text | None = None


PersonRef = Annotated[Person, BeforeValidator(_person)]


class LifeStage(Model):
    slug: Slug
    name: Text
    summary: Text | None = None


class Commitment(Model):
    """A draft shared commitment. ``target_placeholder`` is true where the figure was "X%"."""

    slug: Slug
    statement: Text
    target_placeholder: bool = False


class Priority(Model):
    slug: Slug
    number: int = Field(ge=1)
    name: Text
    life_stage: Slug
    commitments: tuple[Commitment, ...] = Field(min_length=1)


class Principle(Model):
    slug: Slug
    name: Text
    summary: Text | None = None


class SlugText(Model):
    slug: Slug
    text: Text


class Vision(FileModel):
    """``vision.yaml``: a city vision by life stage, its priorities and commitments."""

    FILE: ClassVar[str] = "vision.yaml"

    title: Text
    date: PartialDate
    status: Literal["draft", "agreed", "superseded"]
    goal: Text | None = None
    senior_responsible_officers: tuple[PersonRef, ...] = ()
    sources: tuple[SourceId, ...] = ()
    life_stages: tuple[LifeStage, ...] = Field(min_length=1)
    priorities: tuple[Priority, ...] = Field(min_length=1)
    principles: tuple[Principle, ...] = ()
    partnership_actions: tuple[SlugText, ...] = ()

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(s.slug for s in self.life_stages), "life_stages")
        found += duplicates(enumerate(p.slug for p in self.priorities), "priorities")
        found += duplicates(
            enumerate(str(p.number) for p in self.priorities), "priorities", "number"
        )
        stages = {s.slug for s in self.life_stages}
        first: dict[str, str] = {}
        for i, priority in enumerate(self.priorities):
            if priority.life_stage not in stages:
                found.append(
                    (f"priorities[{i}].life_stage", f"unknown life stage {priority.life_stage!r}")
                )
            for j, commitment in enumerate(priority.commitments):
                where = f"priorities[{i}].commitments[{j}].slug"
                if commitment.slug in first:
                    reason = (
                        f"duplicate slug {commitment.slug!r} (first at {first[commitment.slug]})"
                    )
                    found.append((where, reason))
                else:
                    first[commitment.slug] = where
        found += duplicates(enumerate(p.slug for p in self.principles), "principles")
        found += duplicates(
            enumerate(a.slug for a in self.partnership_actions), "partnership_actions"
        )
        return found

    def commitments(self) -> list[Commitment]:
        return [c for p in self.priorities for c in p.commitments]


# ---------------------------------------------------------------------------- programmes


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


# ---------------------------------------------------------------------------- devolution


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


# ---------------------------------------------------------------------------- assurance


class ServiceTest(Model):
    """One test or condition a service change is assessed against."""

    slug: Slug
    number: int = Field(ge=1)
    name: Text
    detail: Text
    refers_to_bed_test: bool = False


class BedTest(Model):
    effective_from: PartialDate
    minimum_conditions_met: int = Field(ge=1)
    rule: Text
    conditions: tuple[ServiceTest, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _satisfiable(self) -> Self:
        if self.minimum_conditions_met > len(self.conditions):
            raise ValueError("minimum_conditions_met is more than the number of conditions")
        return self


class Assurance(FileModel):
    """``assurance.yaml``: the tests a proposed service change must pass."""

    FILE: ClassVar[str] = "assurance.yaml"

    mayor_assurances_date: PartialDate | None = None
    mayor_assurances: tuple[ServiceTest, ...] = ()
    nhs_tests_year: int | None = Field(default=None, ge=1990, le=2100)
    nhs_tests: tuple[ServiceTest, ...] = ()
    bed_test: BedTest | None = None

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(t.slug for t in self.mayor_assurances), "mayor_assurances")
        found += duplicates(enumerate(t.slug for t in self.nhs_tests), "nhs_tests")
        if self.bed_test is not None:
            found += duplicates(
                enumerate(c.slug for c in self.bed_test.conditions), "bed_test.conditions"
            )
        if any(t.refers_to_bed_test for t in self.mayor_assurances) and self.bed_test is None:
            found.append(("bed_test", "an assurance refers to the bed test but none is defined"))
        return found


# ---------------------------------------------------------------------------- indicators

ValueType = Literal[
    "proportion", "crude_rate", "dsr", "isr", "mean", "life_expectancy", "count", "gap"
]
Polarity = Literal["high_is_good", "low_is_good", "no_judgement"]
AreaLevel = Literal["country", "region", "sub_region", "local_authority"]
TargetKind = Literal[
    "absolute", "relative_change", "absolute_change", "zero", "direction", "benchmark"
]


class DataItem(Model):
    definition: Text
    source: Text


class Target(Model):
    """A target for an indicator, as the source states it, tied to one aspiration or commitment.

    ``kind``: ``absolute`` (reach a value), ``relative_change`` (change by a percentage of
    the baseline), ``absolute_change`` (change by an amount), ``zero``, ``direction`` (a
    direction with no figure) or ``benchmark`` (a position such as "top quartile").
    ``status: not_set`` records a target whose figure the source left open ("X%"); its
    ``value`` is then null.
    """

    aspiration: Slug | None = None
    ambition: Slug | None = None
    commitment: Slug | None = None
    statement: Text
    kind: TargetKind
    direction: Literal["increase", "decrease"] | None = None
    value: Number | None = None
    unit: Text | None = None
    benchmark: Text | None = None
    baseline_period: Period | None = None
    target_period: Period | None = None
    status: Literal["set", "not_set"]
    source: SourceId

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.aspiration is None) == (self.commitment is None):
            raise ValueError("a target belongs to exactly one of aspiration or commitment")
        if self.ambition is not None and self.aspiration is None:
            raise ValueError("ambition is only meaningful with an aspiration")
        if self.status == "not_set" and self.value is not None:
            raise ValueError("a target that is not set has no value (use null)")
        needs_value = self.kind in ("absolute", "relative_change", "absolute_change")
        if self.status == "set" and needs_value and self.value is None:
            raise ValueError(f"a set {self.kind} target needs a value")
        if self.kind == "zero" and self.value not in (None, Decimal(0)):
            raise ValueError("a zero target has value 0 (or null)")
        if self.kind in ("relative_change", "absolute_change", "direction") and not self.direction:
            raise ValueError(f"a {self.kind} target needs a direction (increase or decrease)")
        if self.kind == "benchmark" and self.benchmark is None:
            raise ValueError("a benchmark target needs the benchmark it aims at")
        return self


class DemoHint(Model):
    """Plausible values for generating labelled illustrative data; never published.

    ``city`` is a typical value for the whole city; ``country_low``/``country_high`` bound
    the spread across the country's local areas.
    """

    city: SignedNumber
    country_low: SignedNumber | None = None
    country_high: SignedNumber | None = None
    decimals: int = Field(default=1, ge=0, le=6)

    @model_validator(mode="after")
    def _range(self) -> Self:
        low, high = self.country_low, self.country_high
        if (low is None) != (high is None):
            raise ValueError("give both country_low and country_high, or neither")
        if low is not None and high is not None and low > high:
            raise ValueError("country_low is greater than country_high")
        return self


IndicatorId = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{1,9}|hc-[a-z0-9]+(?:-[a-z0-9]+)*)$", max_length=32),
]
"""A Fingertips id (digits) or ``hc-`` and a slug; at most 32 characters, to fit the
identifier columns of the outcomes tables and Fingertips-style CSV exports."""


class Indicator(Model):
    """An indicator with the metadata Fingertips users rely on, its links and its targets."""

    id: IndicatorId
    fingertips_id: int | None = Field(ge=1)
    name: Text
    definition: Text
    rationale: Text
    methodology: Text
    unit: Text
    value_type: ValueType
    multiplier: int = Field(ge=1)
    polarity: Polarity
    numerator: DataItem | None = None
    denominator: DataItem | None = None
    standard_population: Text | None = None
    disclosure_control: Text
    caveats: tuple[Text, ...] = ()
    frequency: Text
    last_updated: PartialDate | None = None
    area_levels: tuple[AreaLevel, ...] = Field(min_length=1)
    sexes: tuple[Literal["Persons", "Male", "Female"], ...] = ("Persons",)
    age: Text = "All ages"
    aspirations: tuple[Slug, ...] = ()
    commitments: tuple[Slug, ...] = ()
    targets: tuple[Target, ...] = ()
    demo: DemoHint | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.id.startswith("hc-"):
            if self.fingertips_id is not None:
                raise ValueError(
                    "an hc- indicator has no fingertips_id; use the Fingertips id as id"
                )
        elif self.fingertips_id != int(self.id):
            raise ValueError("a numeric id is a Fingertips id: fingertips_id must equal it")
        if self.value_type == "dsr" and self.standard_population is None:
            raise ValueError("a directly standardised rate needs its standard_population")
        if self.value_type in ("proportion", "crude_rate", "dsr", "isr") and self.numerator is None:
            raise ValueError(f"a {self.value_type} needs a numerator definition")
        for i, target in enumerate(self.targets):
            if target.aspiration is not None and target.aspiration not in self.aspirations:
                raise ValueError(
                    f"targets[{i}] is for aspiration {target.aspiration!r}, not linked"
                )
            if target.commitment is not None and target.commitment not in self.commitments:
                raise ValueError(
                    f"targets[{i}] is for commitment {target.commitment!r}, not linked"
                )
        return self


class Indicators(FileModel):
    """``indicators.yaml``: the indicator catalogue."""

    FILE: ClassVar[str] = "indicators.yaml"

    indicators: tuple[Indicator, ...] = Field(min_length=1)

    def issues(self) -> list[Issue]:
        found = duplicates(enumerate(i.id for i in self.indicators), "indicators", "id")
        found += duplicates(
            ((n, str(i.fingertips_id)) for n, i in enumerate(self.indicators) if i.fingertips_id),
            "indicators",
            "fingertips_id",
        )
        return found


# ---------------------------------------------------------------------------- the pack

FILE_MODELS: dict[str, type[FileModel]] = {
    m.FILE: m
    for m in (
        PackInfo,
        Geography,
        Organisations,
        Aspirations,
        Vision,
        Portfolio,
        Devolution,
        Assurance,
        Indicators,
    )
}
"""Every YAML file of a pack and its model; ``local_authorities.csv`` is read separately."""

PACK_FILES: tuple[str, ...] = (
    "pack.yaml",
    "geography.yaml",
    LOCAL_AUTHORITIES_FILE,
    "organisations.yaml",
    "aspirations.yaml",
    "vision.yaml",
    "programmes.yaml",
    "devolution.yaml",
    "assurance.yaml",
    "indicators.yaml",
)
"""The files a pack folder must hold, in the order they are read and reported."""


def cross_file_issues(
    *,
    pack: PackInfo | None = None,
    geography: Geography | None = None,
    local_authorities: Sequence[LocalAuthority] | None = None,
    organisations: Organisations | None = None,
    aspirations: Aspirations | None = None,
    vision: Vision | None = None,
    portfolio: Portfolio | None = None,
    devolution: Devolution | None = None,
    assurance: Assurance | None = None,
    indicators: Indicators | None = None,
) -> list[FileIssue]:
    """References between files.

    Any file may be ``None`` (it failed to parse): checks that need it are skipped, so one
    broken file does not hide the other files' problems. Locations in
    ``local_authorities.csv`` are written ``local_authorities[i].field``; the reader turns
    them into line numbers.
    """
    check = _CrossCheck(pack, geography, local_authorities)
    if pack is not None and geography is not None:
        check.pack_matches_geography(pack, geography)
    if geography is not None:
        check.planning_groups(geography)
    if local_authorities is not None:
        check.local_authorities(local_authorities, geography)
    if organisations is not None:
        check.organisations(organisations, local_authorities)
    if aspirations is not None:
        for i, aspiration in enumerate(aspirations.aspirations):
            check.sources(Aspirations.FILE, f"aspirations[{i}].sources", aspiration.sources)
    if vision is not None:
        check.sources(Vision.FILE, "sources", vision.sources)
    if portfolio is not None:
        check.portfolio(portfolio, aspirations)
    if devolution is not None:
        check.devolution(devolution)
    if indicators is not None:
        check.indicators(indicators, aspirations, vision)
    return check.found


class _CrossCheck:
    """Accumulates cross-file issues; each method checks one file's outward references."""

    def __init__(
        self,
        pack: PackInfo | None,
        geography: Geography | None,
        local_authorities: Sequence[LocalAuthority] | None,
    ) -> None:
        self.found: list[FileIssue] = []
        self.la_codes: set[str] | None = None
        self.la_sub_region: dict[str, str] = {}
        if local_authorities is not None:
            self.la_codes = {la.code for la in local_authorities}
            self.la_sub_region = {la.code: la.sub_region for la in local_authorities}
        self.sub_regions: set[str] | None = None
        self.groups: set[str] | None = None
        if geography is not None:
            self.sub_regions = {s.code for s in geography.sub_regions}
            self.groups = {g.code for g in geography.planning_groups}
        self.source_ids = {s.id for s in pack.sources} if pack is not None else None

    def add(self, file: str, where: str, reason: str) -> None:
        self.found.append((file, where, reason))

    # references of any file ------------------------------------------------------------

    def area(self, file: str, where: str, code: str) -> None:
        if self.la_codes is not None and code not in self.la_codes:
            self.add(file, where, f"unknown area code {code!r}: not a local authority of this pack")

    def areas(self, file: str, where: str, codes: Iterable[str]) -> None:
        for k, code in enumerate(codes):
            self.area(file, f"{where}[{k}]", code)

    def areas_within(self, file: str, where: str, codes: Iterable[str], sub_region: str) -> None:
        """Areas listed for something in one sub-region must lie in that sub-region."""
        for k, code in enumerate(codes):
            actual = self.la_sub_region.get(code, sub_region)
            if actual != sub_region:
                self.add(
                    file, f"{where}[{k}]", f"{code} is in sub-region {actual}, not {sub_region}"
                )

    def sub_region(self, file: str, where: str, code: str | None) -> None:
        if self.sub_regions is not None and code is not None and code not in self.sub_regions:
            self.add(file, where, f"unknown sub-region {code!r}")

    def sources(self, file: str, where: str, ids: Iterable[str]) -> None:
        if self.source_ids is None:
            return
        for k, source in enumerate(ids):
            if source not in self.source_ids:
                self.add(file, f"{where}[{k}]", f"unknown source {source!r}: not in pack.yaml")

    # one method per file ---------------------------------------------------------------

    def pack_matches_geography(self, pack: PackInfo, geography: Geography) -> None:
        file = PackInfo.FILE
        if pack.country_code != geography.country.code:
            reason = f"{pack.country_code!r} differs from geography.yaml country.code"
            self.add(file, "country_code", f"{reason} {geography.country.code!r}")
        if pack.region_code != geography.region.code:
            reason = f"{pack.region_code!r} differs from geography.yaml region.code"
            self.add(file, "region_code", f"{reason} {geography.region.code!r}")

    def planning_groups(self, geography: Geography) -> None:
        for i, group in enumerate(geography.planning_groups):
            where = f"planning_groups[{i}].areas"
            self.areas(Geography.FILE, where, group.areas)
            self.areas_within(Geography.FILE, where, group.areas, group.sub_region)

    def local_authorities(
        self, rows: Sequence[LocalAuthority], geography: Geography | None
    ) -> None:
        for i, la in enumerate(rows):
            where = f"local_authorities[{i}].sub_region"
            self.sub_region(LOCAL_AUTHORITIES_FILE, where, la.sub_region)
        if geography is not None:
            used = {la.sub_region for la in rows}
            for i, sub in enumerate(geography.sub_regions):
                if sub.code not in used:
                    reason = f"no local authority is in sub-region {sub.code!r}"
                    self.add(Geography.FILE, f"sub_regions[{i}].code", reason)

    def organisations(
        self, organisations: Organisations, rows: Sequence[LocalAuthority] | None
    ) -> None:
        file = Organisations.FILE
        ccg_cover: Counter[str] = Counter()
        councils: Counter[str] = Counter()
        for i, org in enumerate(organisations.organisations):
            where = f"organisations[{i}]"
            self.areas(file, f"{where}.areas", org.areas)
            self.areas(file, f"{where}.partial_areas", org.partial_areas)
            self.sub_region(file, f"{where}.sub_region", org.sub_region)
            self.sources(file, f"{where}.sources", org.sources)
            if org.sub_region is not None:
                self.areas_within(file, f"{where}.areas", org.areas, org.sub_region)
            if org.kind == "ccg":
                ccg_cover.update(org.areas)
            elif org.kind == "council":
                councils.update(org.areas)
        if rows is not None:
            kinds = {o.kind for o in organisations.organisations}
            for la in rows:
                if "ccg" in kinds and ccg_cover[la.code] == 0:
                    self.add(file, "organisations", f"no CCG covers {la.code} ({la.name})")
                if "council" in kinds and councils[la.code] != 1:
                    reason = f"{la.code} ({la.name}) has {councils[la.code]} councils, not 1"
                    self.add(file, "organisations", reason)
        for i, forum in enumerate(organisations.forums):
            self.sources(file, f"forums[{i}].sources", forum.sources)
        for i, partnership in enumerate(organisations.partnerships):
            where = f"partnerships[{i}]"
            self.sub_region(file, f"{where}.sub_region", partnership.sub_region)
            self.areas(file, f"{where}.areas", partnership.areas)
            self.sources(file, f"{where}.sources", partnership.sources)

    def leads(self, where: str, leads: Sequence[Lead]) -> None:
        file = Portfolio.FILE
        for k, lead in enumerate(leads):
            if lead.group is not None and self.groups is not None and lead.group not in self.groups:
                self.add(file, f"{where}[{k}].group", f"unknown planning group {lead.group!r}")
            if lead.area is not None:
                self.area(file, f"{where}[{k}].area", lead.area)

    def portfolio(self, portfolio: Portfolio, aspirations: Aspirations | None) -> None:
        file = Portfolio.FILE
        known = {a.slug for a in aspirations.aspirations} if aspirations else None
        self.leads("portfolio_leads.spg_leads", portfolio.portfolio_leads.spg_leads)
        self.leads("portfolio_leads.ccg_leads", portfolio.portfolio_leads.ccg_leads)
        for i, programme in enumerate(portfolio.programmes):
            where = f"programmes[{i}]"
            for k, slug in enumerate(programme.aspirations):
                if known is not None and slug not in known:
                    self.add(file, f"{where}.aspirations[{k}]", f"unknown aspiration {slug!r}")
            self.leads(f"{where}.spg_leads", programme.spg_leads)
            self.leads(f"{where}.ccg_leads", programme.ccg_leads)
            self.sources(file, f"{where}.sources", programme.sources)
        for i, line in enumerate(portfolio.portfolio_lines):
            self.sources(file, f"portfolio_lines[{i}].sources", line.sources)

    def devolution(self, devolution: Devolution) -> None:
        file = Devolution.FILE
        if devolution.mou is not None:
            self.sources(file, "mou.sources", devolution.mou.sources)
        for i, pilot in enumerate(devolution.pilots):
            self.areas(file, f"pilots[{i}].areas", pilot.areas)
            for k, code in enumerate(pilot.sub_regions):
                self.sub_region(file, f"pilots[{i}].sub_regions[{k}]", code)
            self.sources(file, f"pilots[{i}].sources", pilot.sources)
        if devolution.transformation_fund is not None:
            fund_sources = devolution.transformation_fund.sources
            self.sources(file, "transformation_fund.sources", fund_sources)

    def indicators(
        self, indicators: Indicators, aspirations: Aspirations | None, vision: Vision | None
    ) -> None:
        """Links resolve, every aspiration and commitment is measured, and every "X%"
        commitment has a target recorded as not set."""
        file = Indicators.FILE
        ambitions: dict[str, set[str]] | None = None
        if aspirations is not None:
            ambitions = {}
            for aspiration in aspirations.aspirations:  # a repeated slug is reported elsewhere
                ambitions.setdefault(aspiration.slug, set()).update(
                    b.slug for b in aspiration.ambitions
                )
        commitments = {c.slug for c in vision.commitments()} if vision else None
        measured: set[str] = set()
        unset_for: set[str] = set()
        for i, indicator in enumerate(indicators.indicators):
            where = f"indicators[{i}]"
            for k, slug in enumerate(indicator.aspirations):
                measured.add(f"aspiration:{slug}")
                if ambitions is not None and slug not in ambitions:
                    self.add(file, f"{where}.aspirations[{k}]", f"unknown aspiration {slug!r}")
            for k, slug in enumerate(indicator.commitments):
                measured.add(f"commitment:{slug}")
                if commitments is not None and slug not in commitments:
                    self.add(file, f"{where}.commitments[{k}]", f"unknown commitment {slug!r}")
            for k, target in enumerate(indicator.targets):
                self.sources(file, f"{where}.targets[{k}].source", [target.source])
                if (
                    ambitions is not None
                    and target.aspiration in ambitions
                    and target.ambition is not None
                    and target.ambition not in ambitions[target.aspiration]
                ):
                    reason = f"aspiration {target.aspiration!r} has no ambition {target.ambition!r}"
                    self.add(file, f"{where}.targets[{k}].ambition", reason)
                if target.commitment is not None and target.status == "not_set":
                    unset_for.add(target.commitment)
        if aspirations is not None:
            for i, aspiration in enumerate(aspirations.aspirations):
                if f"aspiration:{aspiration.slug}" not in measured:
                    reason = f"no indicator measures aspiration {aspiration.slug!r}"
                    self.add(Aspirations.FILE, f"aspirations[{i}]", reason)
        if vision is not None:
            for i, priority in enumerate(vision.priorities):
                for j, commitment in enumerate(priority.commitments):
                    where = f"priorities[{i}].commitments[{j}]"
                    if f"commitment:{commitment.slug}" not in measured:
                        reason = f"no indicator measures commitment {commitment.slug!r}"
                        self.add(Vision.FILE, where, reason)
                    elif commitment.target_placeholder and commitment.slug not in unset_for:
                        reason = "the figure is a placeholder, but no indicator target for it"
                        self.add(
                            Vision.FILE,
                            f"{where}.target_placeholder",
                            f"{reason} has status not_set",
                        )


class Pack(Model):
    """A whole city pack, every file validated and every reference between files checked.

    Attributes follow the files: ``pack`` (pack.yaml), ``geography``,
    ``local_authorities`` (the CSV rows), ``organisations``, ``aspirations``, ``vision``,
    ``portfolio`` (programmes.yaml), ``devolution``, ``assurance``, ``indicators``.
    Convenience properties give the common collections directly.
    """

    pack: PackInfo
    geography: Geography
    local_authorities: tuple[LocalAuthority, ...]
    organisations: Organisations
    aspirations: Aspirations
    vision: Vision
    portfolio: Portfolio
    devolution: Devolution
    assurance: Assurance
    indicators: Indicators

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Self:
        if not _collecting(info):
            _raise_issues([(loc, reason) for _file, loc, reason in self.issues()])
        return self

    def issues(self) -> list[FileIssue]:
        """All within-table and cross-file problems of an assembled pack."""
        found: list[FileIssue] = [
            (LOCAL_AUTHORITIES_FILE, loc, reason)
            for loc, reason in local_authority_issues(self.local_authorities)
        ]
        return found + cross_file_issues(
            pack=self.pack,
            geography=self.geography,
            local_authorities=self.local_authorities,
            organisations=self.organisations,
            aspirations=self.aspirations,
            vision=self.vision,
            portfolio=self.portfolio,
            devolution=self.devolution,
            assurance=self.assurance,
            indicators=self.indicators,
        )

    # Convenience views for loaders and pages -------------------------------------------

    @property
    def id(self) -> str:
        return self.pack.id

    @property
    def sub_regions(self) -> tuple[SubRegion, ...]:
        return self.geography.sub_regions

    @property
    def programmes(self) -> tuple[Programme, ...]:
        return self.portfolio.programmes

    @property
    def portfolio_lines(self) -> tuple[PortfolioLine, ...]:
        return self.portfolio.portfolio_lines

    @property
    def indicator_list(self) -> tuple[Indicator, ...]:
        return self.indicators.indicators

    def sub_region(self, code: str) -> SubRegion:
        """The sub-region with this short code (``NWL``) or NHS code (``E54000027``)."""
        for sub in self.geography.sub_regions:
            if code in (sub.code, sub.nhs_code):
                return sub
        raise KeyError(code)
