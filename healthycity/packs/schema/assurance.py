"""``assurance.yaml``: the tests a proposed service change must pass."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    Model,
    PartialDate,
    Slug,
    Text,
    duplicates,
)


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
