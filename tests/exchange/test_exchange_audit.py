"""The hash-chained audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import orjson
import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from healthycity.core.db import transaction
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.db import current_revision, head_revision


def entry(n: int, person: str | None = "p-1") -> audit.AuditEntry:
    return audit.AuditEntry(
        interaction="search-type",
        action="search Observation",
        outcome="0",
        outcome_desc="ok",
        subject=f"user-{n}",
        role="R8000",
        organisation="F84001",
        issuer="https://idp.invalid",
        person_id=person,
        query=f"Observation?patient={person}",
        client_address="127.0.0.1",
        returned={"Observation": n},
        withheld=1,
        withheld_reasons={"deny category PSY": 1},
        break_glass_reason="unconscious in A&E, no history available" if n % 2 else None,
        overridden=1 if n % 2 else 0,
        node_issues=("node-3: timeout",),
    )


def fill(engine: Engine, count: int) -> None:
    for n in range(count):
        with transaction(engine) as session:
            audit.append(session, entry(n, person=f"p-{n % 3}"))


def bypass_guards(engine: Engine) -> None:
    """What an attacker with database access would do first."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for name in ("exchange_audit_event_no_update", "exchange_audit_event_no_delete"):
                connection.execute(text(f"DROP TRIGGER {name}"))
        else:
            connection.execute(text("ALTER TABLE exchange_audit_event DISABLE TRIGGER USER"))


def verify(engine: Engine) -> audit.VerifyReport:
    with transaction(engine) as session:
        return audit.verify(session)


def test_migrated_with_own_version_table(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert (
            connection.execute(text("select count(*) from exchange_alembic_version")).scalar() == 1
        )


def test_an_untouched_chain_verifies_and_events_are_valid_fhir(engine: Engine) -> None:
    assert verify(engine).ok  # empty chain
    fill(engine, 12)
    report = verify(engine)
    assert report.ok, report.problems
    assert (report.rows, report.head_seq) == (12, 12)
    with transaction(engine) as session:
        events = list(audit.events_for_person(session, "p-1"))
    assert len(events) == 4
    for event in events:
        AuditEvent.model_validate(event)
    assert events[0]["agent"][0]["who"]["identifier"]["value"] == "user-10"


def test_the_database_refuses_updates_and_deletes(engine: Engine) -> None:
    fill(engine, 2)
    for statement in (
        "UPDATE exchange_audit_event SET outcome = '4' WHERE seq = 1",
        "DELETE FROM exchange_audit_event WHERE seq = 2",
        "DELETE FROM exchange_audit_head",
    ):
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text(statement))
    assert verify(engine).ok


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            "UPDATE exchange_audit_event SET agent_subject = 'someone-else' WHERE seq = 3",
            "row 3 was altered",
        ),
        (
            "UPDATE exchange_audit_event SET body = replace(body, 'R8000', 'R8001') WHERE seq = 5",
            "row 5 was altered",
        ),
        ("DELETE FROM exchange_audit_event WHERE seq = 4", "rows 4..4 are missing"),
        ("DELETE FROM exchange_audit_event WHERE seq >= 7", "rows 7..8 are missing from the end"),
    ],
)
def test_verify_detects_edits_and_deletions(engine: Engine, tamper: str, expected: str) -> None:
    fill(engine, 8)
    assert verify(engine).ok
    bypass_guards(engine)
    with engine.begin() as connection:
        connection.execute(text(tamper))
    report = verify(engine)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_rewriting_a_row_with_a_fresh_hash_still_breaks_the_chain(engine: Engine) -> None:
    fill(engine, 4)
    bypass_guards(engine)
    with transaction(engine) as session:
        row = dict(
            session.execute(text("SELECT * FROM exchange_audit_event WHERE seq = 2"))
            .mappings()
            .one()
        )
    row["agent_subject"] = "forged"
    forged_hash = audit._row_hash(row)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE exchange_audit_event SET agent_subject = 'forged', hash = :h WHERE seq = 2"
            ),
            {"h": forged_hash},
        )
    report = verify(engine)
    assert any("row 3 does not follow" in p for p in report.problems), report.problems


def test_audit_rolls_back_with_the_decision(engine: Engine) -> None:
    fill(engine, 1)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        audit.append(session, entry(99))
        raise RuntimeError("the decision failed after the audit row was written")
    report = verify(engine)
    assert report.ok and report.rows == 1


def test_concurrent_appends_keep_one_linear_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for n in range(15):
                with transaction(engine) as session:
                    audit.append(session, entry(k * 100 + n))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = verify(engine)
    assert report.ok, report.problems
    assert report.rows == 90


def test_event_body_is_canonical_json(sqlite_engine: Engine) -> None:
    fill(sqlite_engine, 1)
    with sqlite_engine.connect() as connection:
        body = connection.execute(text("SELECT body FROM exchange_audit_event")).scalar_one()
    assert orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS).decode() == body
