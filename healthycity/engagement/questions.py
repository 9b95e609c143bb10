"""Questions: their kinds, the line syntax the workspace form uses, and reading answers.

A consultation's questions are a list of plain dicts (stored as JSON), validated here by
`QuestionIn`. The workspace form takes them as lines, one question a line, because a
form that works without JavaScript cannot grow a question editor; the JSON API takes
the same thing as a list. The syntax, fields separated by `` | ``::

    id | kind[*] | text | options; separated; by semicolons | extra | if other-id = Option

``*`` marks a required question. ``options`` are the choices (single, multiple,
ranking), the scale (rating, likert) or, for free text, the length limit. ``extra`` is
the likert grid's statements. The last field shows the question only when another
question was answered with that option: the form draws it inside that option, shown
without JavaScript (with a hint) and revealed by the design system's script only when
the option is chosen; an answer given when the condition is not met is dropped.

`read_answers` turns a posted form into answers, refusing an unknown option, an
over-long text or a missing required answer with a message per question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from healthycity.core.errors import Invalid

SINGLE, MULTIPLE, RATING, LIKERT, RANKING, TEXT = (
    "single",
    "multiple",
    "rating",
    "likert",
    "ranking",
    "text",
)
KINDS = (SINGLE, MULTIPLE, RATING, LIKERT, RANKING, TEXT)
KIND_LABELS = {
    SINGLE: "Choose one",
    MULTIPLE: "Choose all that apply",
    RATING: "Rating",
    LIKERT: "Grid",
    RANKING: "Ranking",
    TEXT: "Free text",
}
MAX_TEXT = 5000
DEFAULT_TEXT = 1000


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=60)
    equals: str = Field(min_length=1, max_length=200)


class QuestionIn(BaseModel):
    """One question; what each kind needs is checked as a whole."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=60)
    kind: Literal["single", "multiple", "rating", "likert", "ranking", "text"]
    text: str = Field(min_length=1, max_length=500)
    required: bool = False
    options: list[str] = Field(default_factory=list, max_length=30)
    statements: list[str] = Field(default_factory=list, max_length=30)
    max_length: int = Field(DEFAULT_TEXT, ge=1, le=MAX_TEXT)
    show_if: Condition | None = None

    @model_validator(mode="after")
    def _shape(self) -> QuestionIn:
        if self.kind != TEXT and len(self.options) < 2:
            raise ValueError(f"question {self.id}: give at least two options")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"question {self.id}: an option is listed twice")
        if self.kind == LIKERT and not self.statements:
            raise ValueError(f"question {self.id}: a grid needs statements to rate")
        if any(len(o) > 200 for o in (*self.options, *self.statements)):
            raise ValueError(f"question {self.id}: options have at most 200 characters")
        return self


def check_questions(items: list[QuestionIn]) -> None:
    """Ids are unique and a condition names an earlier choice question and its option."""
    seen: dict[str, QuestionIn] = {}
    for q in items:
        if q.id in seen:
            raise ValueError(f"two questions have the id {q.id}")
        if q.show_if is not None:
            target = seen.get(q.show_if.question)
            if target is None or target.kind not in (SINGLE, MULTIPLE, RATING):
                raise ValueError(
                    f"question {q.id}: its condition must name an earlier choice question"
                )
            if q.show_if.equals not in target.options:
                raise ValueError(
                    f"question {q.id}: {q.show_if.equals!r} is not an option of {target.id}"
                )
        seen[q.id] = q


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def parse_lines(text: str) -> list[dict[str, Any]]:
    """The workspace form's lines as question dicts (validated afterwards)."""
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        condition = None
        if len(fields) > 3 and fields[-1].startswith("if "):
            match = re.fullmatch(r"if\s+([a-z0-9-]+)\s*=\s*(.+)", fields.pop())
            if match is None:
                raise ValueError(f"line {number}: write a condition as 'if question-id = Option'")
            condition = {"question": match.group(1), "equals": match.group(2).strip()}
        if len(fields) < 3:
            raise ValueError(f"line {number}: write 'id | kind | question text | options'")
        kind = fields[1].rstrip("*")
        item: dict[str, Any] = {
            "id": fields[0],
            "kind": kind,
            "text": fields[2],
            "required": fields[1].endswith("*"),
        }
        rest = fields[3:]
        if kind == TEXT:
            if rest and rest[0]:
                if not rest[0].isdigit():
                    raise ValueError(f"line {number}: a free-text limit is a number")
                item["max_length"] = int(rest[0])
        else:
            item["options"] = _split(rest[0]) if rest else []
            if kind == LIKERT and len(rest) > 1:
                item["statements"] = _split(rest[1])
        if condition:
            item["show_if"] = condition
        out.append(item)
    return out


def format_lines(questions: list[dict[str, Any]]) -> str:
    """Questions back as the form's lines, so an edit starts from what is stored."""
    lines = []
    for q in questions:
        fields = [q["id"], q["kind"] + ("*" if q.get("required") else ""), q["text"]]
        if q["kind"] == TEXT:
            fields.append(str(q.get("max_length", DEFAULT_TEXT)))
        else:
            fields.append("; ".join(q.get("options", [])))
            if q["kind"] == LIKERT:
                fields.append("; ".join(q.get("statements", [])))
        if q.get("show_if"):
            fields.append(f"if {q['show_if']['question']} = {q['show_if']['equals']}")
        lines.append(" | ".join(fields))
    return "\n".join(lines)


def field_name(question: dict[str, Any], index: int | None = None) -> str:
    """The form field of a question (a grid row or ranked option has its index)."""
    return f"q-{question['id']}" if index is None else f"q-{question['id']}-{index}"


def _values(form: dict[str, Any], name: str) -> list[str]:
    value = form.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if str(v) != ""]


def _condition_met(question: dict[str, Any], answers: dict[str, Any]) -> bool:
    condition = question.get("show_if")
    if not condition:
        return True
    given = answers.get(condition["question"])
    chosen = given if isinstance(given, list) else [given]
    return condition["equals"] in chosen


def _one(question: dict[str, Any], form: dict[str, Any]) -> Any:
    """The answer to one question, or None when it is not answered; ValueError if bad."""
    kind, options = question["kind"], question.get("options", [])
    if kind == LIKERT:
        grid = {}
        for index, statement in enumerate(question["statements"]):
            picked = _values(form, field_name(question, index))
            if len(picked) > 1 or (picked and picked[0] not in options):
                raise ValueError("choose one of the options given for each statement")
            if picked:
                grid[statement] = picked[0]
        return grid or None
    if kind == RANKING:
        ranks: dict[str, int] = {}
        for index, option in enumerate(options):
            picked = _values(form, field_name(question, index))
            if not picked:
                continue
            if (
                len(picked) > 1
                or not picked[0].isdigit()
                or not 1 <= int(picked[0]) <= len(options)
            ):
                raise ValueError(f"give each a rank from 1 to {len(options)}")
            ranks[option] = int(picked[0])
        if not ranks:
            return None
        if len(ranks) != len(options) or len(set(ranks.values())) != len(options):
            raise ValueError(f"give every option a different rank from 1 to {len(options)}")
        return sorted(ranks, key=ranks.__getitem__)
    picked = _values(form, field_name(question))
    if kind == TEXT:
        text = picked[0].strip() if len(picked) == 1 else ""
        if len(picked) > 1:
            raise ValueError("give one answer")
        limit = int(question.get("max_length", DEFAULT_TEXT))
        if len(text) > limit:
            raise ValueError(f"your answer is {len(text)} characters; the limit is {limit}")
        return text or None
    unknown = [p for p in picked if p not in options]
    if unknown:
        raise ValueError("choose from the options given")
    if kind == MULTIPLE:
        return sorted(set(picked), key=options.index) or None
    if len(picked) > 1:
        raise ValueError("choose only one option")
    return picked[0] if picked else None


@dataclass(frozen=True)
class FormLayout:
    """Where each question is drawn: a conditional question inside the option it depends
    on (the design system's conditional reveal), the others in order; numbers follow the
    order the office wrote them in."""

    questions: list[dict[str, Any]]

    @property
    def top(self) -> list[dict[str, Any]]:
        return [q for q in self.questions if not q.get("show_if")]

    @property
    def numbers(self) -> dict[str, int]:
        return {q["id"]: n for n, q in enumerate(self.questions, start=1)}

    def children(self, question_id: str) -> dict[str, list[dict[str, Any]]]:
        """The questions shown under each option of ``question_id``."""
        found: dict[str, list[dict[str, Any]]] = {}
        for q in self.questions:
            condition = q.get("show_if")
            if condition and condition["question"] == question_id:
                found.setdefault(condition["equals"], []).append(q)
        return found


def read_answers(questions: list[dict[str, Any]], form: dict[str, Any]) -> dict[str, Any]:
    """Answers keyed by question id; `Invalid` names each question that was answered badly.

    A question whose condition is not met was hidden from a person using JavaScript (and
    marked "answer only if" for one without), so whatever came for it is discarded
    unread: it can neither be stored nor refuse the form.
    """
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in questions:
        if not _condition_met(question, answers):
            continue
        try:
            value = _one(question, form)
        except ValueError as exc:
            errors[field_name(question)] = f"{question['text']}: {exc}"
            continue
        if value is None:
            if question.get("required"):
                errors[field_name(question)] = f"{question['text']}: answer this question"
            continue
        answers[question["id"]] = value
    if errors:
        raise Invalid(errors)
    return answers
