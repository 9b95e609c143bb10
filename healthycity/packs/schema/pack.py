"""The whole pack: the file list, the ``Pack`` model and the checks across files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Self

from pydantic import ValidationInfo, model_validator

from healthycity.packs.schema.aspirations import Aspirations
from healthycity.packs.schema.assurance import Assurance
from healthycity.packs.schema.common import FileIssue, FileModel, Model, collecting, raise_issues
from healthycity.packs.schema.devolution import Devolution
from healthycity.packs.schema.geography import Geography, SubRegion
from healthycity.packs.schema.global_cities import CityFigure
from healthycity.packs.schema.indicators import Indicator, Indicators
from healthycity.packs.schema.local_authorities import (
    LOCAL_AUTHORITIES_FILE,
    LocalAuthority,
    local_authority_issues,
)
from healthycity.packs.schema.organisations import Organisations
from healthycity.packs.schema.pack_info import PackInfo
from healthycity.packs.schema.programmes import Lead, Portfolio, PortfolioLine, Programme
from healthycity.packs.schema.vision import Vision

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
        objectives = {o.slug for o in aspirations.shared_objectives} if aspirations else None
        self.leads("portfolio_leads.spg_leads", portfolio.portfolio_leads.spg_leads)
        self.leads("portfolio_leads.ccg_leads", portfolio.portfolio_leads.ccg_leads)
        for i, programme in enumerate(portfolio.programmes):
            where = f"programmes[{i}]"
            for k, slug in enumerate(programme.aspirations):
                if known is not None and slug not in known:
                    self.add(file, f"{where}.aspirations[{k}]", f"unknown aspiration {slug!r}")
            for k, slug in enumerate(programme.objectives):
                if objectives is not None and slug not in objectives:
                    self.add(file, f"{where}.objectives[{k}]", f"unknown shared objective {slug!r}")
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
    # Optional ``global_cities.csv``: other cities' figures for the annual review.
    global_cities: tuple[CityFigure, ...] = ()

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Self:
        if not collecting(info):
            raise_issues([(loc, reason) for _file, loc, reason in self.issues()])
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
