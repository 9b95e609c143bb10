"""``geography.yaml``: the country, the region, sub-regions and planning groups."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from healthycity.packs.schema.common import (
    FileModel,
    GssCode,
    Issue,
    LocalAuthorityCode,
    Model,
    ShortCode,
    Text,
    duplicates,
)


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
