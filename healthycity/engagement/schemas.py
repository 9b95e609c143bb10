"""What the workspace and the JSON API accept for consultations and polls.

Validated whole at the edge, so a form, the API and the command line refuse the same
input with the same words. A poll is refused without its sample size or the exact
question wording: without them its figure cannot be read, or given an interval.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from healthycity.core.inputs import Input, OptionalProse, Prose, Slug, TextList, Title
from healthycity.engagement.questions import QuestionIn, check_questions, parse_lines

LINK_KINDS = ("commitment", "indicator", "programme", "service-change")


def _questions(value: object) -> object:
    if isinstance(value, str):
        return parse_lines(value)
    return value


def _yes(value: object) -> object:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "on", "1")
    return value


class ConsultationIn(Input):
    slug: Slug = Field(max_length=100)
    title: Title
    purpose: Prose
    audience: Prose
    opens_on: date
    closes_on: date
    links: TextList = Field(default_factory=list)
    privacy_notice: Prose
    retention_days: int = Field(ge=1, le=3650)
    confirm_email: Annotated[bool, BeforeValidator(_yes)] = False
    questions: Annotated[list[QuestionIn], BeforeValidator(_questions)] = Field(
        min_length=1, max_length=60
    )

    @model_validator(mode="after")
    def _whole(self) -> ConsultationIn:
        if self.closes_on < self.opens_on:
            raise ValueError("the closing date must be on or after the opening date")
        for link in self.links:
            kind, _, key = link.partition(":")
            if kind not in LINK_KINDS or not key.strip():
                raise ValueError(
                    f"link {link!r}: write kind:slug-or-id, the kind one of {', '.join(LINK_KINDS)}"
                )
        check_questions(self.questions)
        return self

    def question_dicts(self) -> list[dict[str, Any]]:
        return [q.model_dump(exclude_none=True) for q in self.questions]


class WeDidIn(Input):
    we_did: Prose


class PollSeriesIn(Input):
    slug: Slug = Field(max_length=100)
    title: Title
    question_wording: Prose
    sponsor: Title
    agency: Title
    population: Prose
    sampling_frame: Prose
    mode: Title
    indicator_id: OptionalProse = None


class PollWaveIn(Input):
    fieldwork_start: date
    fieldwork_end: date
    sample_size: int = Field(ge=2, le=10_000_000)
    percent: float = Field(ge=0, le=100)
    weighting: Prose
    design_effect: float | None = Field(None, ge=1, le=20)
    margin_of_error: float | None = Field(None, gt=0, le=50)

    @model_validator(mode="after")
    def _dates(self) -> PollWaveIn:
        if self.fieldwork_end < self.fieldwork_start:
            raise ValueError("fieldwork must end on or after it starts")
        return self
