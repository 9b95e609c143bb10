"""Questions (the line syntax, conditions, answers) and the retention sweep."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.errors import Invalid
from healthycity.engagement import notify, service
from healthycity.engagement.models import Moderation, Response, Subscriber
from healthycity.engagement.questions import FormLayout, format_lines, parse_lines, read_answers
from healthycity.engagement.schemas import ConsultationIn
from tests.engagement.helpers import QUESTIONS, consultation_body
from tests.workspace.helpers import cli_for, unit, url_of


def _questions() -> list[dict[str, object]]:
    return ConsultationIn.model_validate(consultation_body()).question_dicts()


def test_lines_round_trip_and_conditions_are_checked() -> None:
    questions = _questions()
    assert parse_lines(format_lines(questions)) == parse_lines(QUESTIONS)
    assert questions[5]["show_if"] == {"question": "heard", "equals": "Online"}
    with pytest.raises(ValueError, match="not an option of heard"):
        ConsultationIn.model_validate(
            consultation_body(questions=QUESTIONS + "\nx | text | Why? | 10 | if heard = Radio")
        )
    with pytest.raises(ValueError, match="at least two options"):
        ConsultationIn.model_validate(consultation_body(questions="a | single | Pick | Only"))


def test_answers_are_read_and_a_condition_drops_what_does_not_apply() -> None:
    questions = _questions()
    answers = read_answers(
        questions,
        {"q-heard": "Leaflet", "q-online": "Great", "q-services": ["GP", "Pharmacy"]},
    )
    assert answers == {"heard": "Leaflet", "services": ["GP", "Pharmacy"]}
    shown = read_answers(questions, {"q-heard": "Online", "q-online": "Great"})
    assert shown["online"] == "Great"
    with pytest.raises(Invalid) as refused:
        read_answers(questions, {"q-heard": ["Leaflet", "Online"]})
    assert "only one" in refused.value.errors["q-heard"]


def test_a_hidden_question_is_discarded_unread_even_when_badly_answered() -> None:
    questions = _questions()
    too_long = "x" * 301  # over the conditional question's limit of 300
    answers = read_answers(questions, {"q-heard": "Leaflet", "q-online": too_long})
    assert answers == {"heard": "Leaflet"}
    with pytest.raises(Invalid) as refused:
        read_answers(questions, {"q-heard": "Online", "q-online": too_long})
    assert "the limit is 300" in refused.value.errors["q-online"]
    # A required conditional question is required only when it applies.
    required = ConsultationIn.model_validate(
        consultation_body(
            questions="a | single* | Used it? | Yes; No\nb | text* | What for? | 100 | if a = Yes"
        )
    ).question_dicts()
    assert read_answers(required, {"q-a": "No"}) == {"a": "No"}
    with pytest.raises(Invalid) as missing:
        read_answers(required, {"q-a": "Yes"})
    assert "answer this question" in missing.value.errors["q-b"]


def test_the_form_draws_a_conditional_question_under_its_option() -> None:
    layout = FormLayout(_questions())
    assert [q["id"] for q in layout.top] == [
        "heard",
        "services",
        "trust",
        "views",
        "priorities",
        "comments",
    ]
    assert [q["id"] for q in layout.children("heard")["Online"]] == ["online"]
    assert layout.numbers["online"] == 6 and layout.numbers["comments"] == 7


def test_the_purge_command_erases_answers_after_retention(engine: Engine) -> None:
    long_ago = date.today() - timedelta(days=400)
    with unit(engine) as session:
        data = ConsultationIn.model_validate(
            consultation_body(
                opens_on=(long_ago - timedelta(days=30)).isoformat(),
                closes_on=long_ago.isoformat(),
                retention_days=30,
            )
        )
        old = service.create(session, data, "tests")
        service.publish(session, old)
        keep = service.create(
            session, ConsultationIn.model_validate(consultation_body(slug="kept")), "t"
        )
        service.publish(session, keep)
        for row in (old, keep):
            done = service.submit(
                session, row, {"heard": "Leaflet", "comments": "Hi"}, receipt_hash=lambda c: c[-40:]
            )
            notify.subscribe(session, row, done.response_id, "a@example.org", "h" * 64, "k")
    result = CliRunner().invoke(
        cli_for(), ["--database", url_of(engine), "engagement", "purge"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "engaging-londoners: erased 1 answers" in result.output
    with unit(engine) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 1
        assert session.scalar(select(func.count()).select_from(Moderation)) == 1
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
