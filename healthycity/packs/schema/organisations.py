"""``organisations.yaml``: partners, forums and place-based partnerships."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    LocalAuthorityCode,
    Model,
    ShortCode,
    Slug,
    SourceId,
    Text,
    duplicates,
)

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
