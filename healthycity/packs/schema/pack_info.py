"""``pack.yaml``: the pack itself and the sources its facts come from."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from healthycity.packs.schema.common import (
    CountryCode,
    FileModel,
    Issue,
    Model,
    PartialDate,
    RegionCode,
    Slug,
    SourceId,
    Text,
    duplicates,
)


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
