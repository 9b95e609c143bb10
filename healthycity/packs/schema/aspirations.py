"""``aspirations.yaml``: long-term aspirations, their ambitions and shared objectives."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    Model,
    Slug,
    SourceId,
    Text,
    duplicates,
)


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
