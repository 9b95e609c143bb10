"""``vision.yaml``: the vision by life stage, its priorities and commitments."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from healthycity.packs.schema.common import (
    FileModel,
    Issue,
    Model,
    PartialDate,
    PersonRef,
    Slug,
    SourceId,
    Text,
    duplicates,
)


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
