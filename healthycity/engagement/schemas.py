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
    co_production: Annotated[bool, BeforeValidator(_yes)] = False
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


WAVE_FIELDS = (
    "fieldwork_start",
    "fieldwork_end",
    "sample_size",
    "percent",
    "weighting",
    "design_effect",
    "margin_of_error",
)


def parse_wave_lines(text: str) -> list[dict[str, Any]]:
    """The workspace form's waves, one a line::

        start | end | sample size | percent | weighting | design effect | margin of error

    The last two may be left empty. Each line is validated here, so the message names
    the line and the field (a form cannot point at the third wave of a list otherwise).
    """
    from pydantic import ValidationError

    waves: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 5 or len(cells) > 7:
            raise ValueError(
                f"wave line {number}: write start | end | sample size | percent | weighting"
                " | design effect | margin of error (the last two may be empty)"
            )
        item = {k: v for k, v in zip(WAVE_FIELDS, cells, strict=False) if v != ""}
        try:
            waves.append(PollWaveIn.model_validate(item).model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]).replace("_", " ") or "wave"
            reason = "this is required" if first["type"] == "missing" else first["msg"]
            reason = str(reason).removeprefix("Value error, ")
            raise ValueError(f"wave line {number}: {field}: {reason}") from None
    if not waves:
        raise ValueError("give at least one wave of fieldwork")
    return waves


def format_wave_lines(waves: list[dict[str, Any]]) -> str:
    """Waves back as the form's lines, so an edit starts from what is stored."""
    lines = []
    for wave in waves:
        cells = ["" if wave.get(k) is None else str(wave[k]) for k in WAVE_FIELDS]
        lines.append(" | ".join(cells).rstrip(" |"))
    return "\n".join(lines)


def _wave_lines(value: object) -> object:
    return parse_wave_lines(value) if isinstance(value, str) else value


class PollFormIn(PollSeriesIn):
    """A series and all its waves, as the workspace form sends them: saving it makes the
    stored waves exactly these (a line removed is a wave removed)."""

    waves: Annotated[list[PollWaveIn], BeforeValidator(_wave_lines)] = Field(
        min_length=1, max_length=200
    )

    @model_validator(mode="after")
    def _distinct_waves(self) -> PollFormIn:
        starts = [w.fieldwork_start for w in self.waves]
        if len(set(starts)) != len(starts):
            raise ValueError("two waves start on the same day; each wave needs its own start")
        return self


PROPOSAL_ABOUT_KINDS = ("indicator", "commitment")


class ProposalIn(Input):
    """A proposal on the outcomes framework, from the public form or the office.

    A change or a comment names what it is about (``indicator:ID`` or
    ``commitment:slug``); a new indicator may name the commitment it would measure.
    """

    kind: str
    about: OptionalProse = None
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=10, max_length=3000)

    @model_validator(mode="after")
    def _whole(self) -> ProposalIn:
        from healthycity.engagement.models import NEW_INDICATOR, PROPOSAL_KINDS

        if self.kind not in PROPOSAL_KINDS:
            raise ValueError("choose what kind of proposal this is")
        self.title = " ".join(self.title.split())
        self.description = self.description.strip()
        about = (self.about or "").strip()
        if about:
            kind, _, key = about.partition(":")
            if kind not in PROPOSAL_ABOUT_KINDS or not key.strip() or len(about) > 120:
                raise ValueError(
                    "say what it is about as indicator:ID or commitment:slug, or leave it empty"
                )
            self.about = f"{kind}:{key.strip()}"
        else:
            self.about = None
        if self.kind != NEW_INDICATOR and self.about is None:
            raise ValueError("a change or a comment must say which indicator or commitment")
        return self
