"""The exchange's audit chain as core's tamper-evident log: keyed, with signed checkpoints
outside the database (issue 13, item 3). On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from test_exchange_audit import bypass_guards, entry, fill
from typer.testing import CliRunner

from healthycity.core import tamper
from healthycity.core.db import transaction
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.cli import app
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.settings import ExchangeSettings

KEY = b"exchange-test-key-0123456789abcdefghijklmnop"


@pytest.fixture
def log(tmp_path: Path) -> tamper.TamperLog:
    keyed = tamper.TamperLog("exchange", KEY, tamper.FileSink(tmp_path / "x.jsonl"), every=4)
    audit.configure(keyed)
    return keyed


def verify(engine: Engine) -> tamper.Report:
    with transaction(engine) as session:
        return audit.verify(session)


def rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        result = connection.execute(text("SELECT * FROM exchange_audit_event ORDER BY seq"))
        return [dict(row) for row in result.mappings()]


def rewrite(engine: Engine, change: str, *, key: bytes | None, upto: int | None = None) -> None:
    """What someone without the key would do: change rows, recompute every link after
    them (unkeyed, or under a guessed key), delete the rest, and move the head to match."""
    bypass_guards(engine)
    with engine.begin() as connection:
        connection.execute(text(change))
        if upto is not None:
            connection.execute(text("DELETE FROM exchange_audit_event WHERE seq > :n"), {"n": upto})
    previous, chain = audit.GENESIS_HASH, rows(engine)
    with engine.begin() as connection:
        for row in chain:
            row["prev_hash"] = previous
            previous = audit._row_hash(row, key)
            connection.execute(
                text("UPDATE exchange_audit_event SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": row["prev_hash"], "h": previous, "s": row["seq"]},
            )
            last = row["seq"]
        connection.execute(
            text("UPDATE exchange_audit_head SET seq = :s, hash = :h"), {"s": last, "h": previous}
        )


def test_appends_are_keyed_and_checkpointed(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 9)
    report = verify(engine)
    assert report.ok, report.problems
    assert (report.rows, report.checkpoints) == (9, 2)
    assert [c.seq for c in log.sink.read()[0]] == [4, 8]
    first = rows(engine)[0]
    assert first["hash"] == tamper.link_mac(KEY, 1, audit.GENESIS_HASH, audit._material(first))
    assert first["hash"] != audit._row_hash(first)  # not the unkeyed hash


@pytest.mark.parametrize("key", [None, b"a guess at the key"])
def test_an_edit_with_the_whole_chain_recomputed_without_the_key(
    engine: Engine, log: tamper.TamperLog, key: bytes | None
) -> None:
    fill(engine, 6)
    rewrite(engine, "UPDATE exchange_audit_event SET agent_subject = 'x' WHERE seq = 3", key=key)
    report = verify(engine)
    assert "row 1 was altered after it was written" in report.problems, report.problems
    assert any("differs from the checkpoint" in p for p in report.problems), report.problems


def test_a_truncated_tail_with_the_head_wound_back(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 10)
    bypass_guards(engine)
    kept = rows(engine)[5]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM exchange_audit_event WHERE seq > 6"))
        connection.execute(
            text("UPDATE exchange_audit_head SET seq = 6, hash = :h"), {"h": kept["hash"]}
        )
    report = verify(engine)
    assert len(report.problems) == 1, report.problems
    assert "recorded 8 rows, the log now ends at 6: rows 7..8 were cut off" in report.problems[0]


def test_a_deleted_row_and_an_edit_after_a_disabled_trigger(
    engine: Engine, log: tamper.TamperLog
) -> None:
    fill(engine, 5)
    bypass_guards(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM exchange_audit_event WHERE seq = 2"))
        connection.execute(text("UPDATE exchange_audit_event SET outcome = '4' WHERE seq = 4"))
    report = verify(engine)
    assert report.problems == [
        "rows 2..2 are missing (deleted)",
        "row 3 does not follow its predecessor",
        "row 4 was altered after it was written",
    ]


def test_the_running_exchange_seals_the_log_when_it_starts(sqlite_engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from healthycity.exchange.api import create_app

    fill(sqlite_engine, 2)
    with TestClient(create_app(engine=sqlite_engine)):
        pass
    checkpoints, _ = audit.current_log().sink.read()
    assert [(c.seq, c.legacy_count) for c in checkpoints] == [(2, 0)]
    assert verify(sqlite_engine).checkpoints == 1


def test_rows_before_the_key_are_sealed_at_the_cut_over(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0004")
        previous = audit.GENESIS_HASH
        with engine.begin() as connection:  # three rows as the unkeyed code wrote them
            for seq in (1, 2, 3):
                row = {
                    "seq": seq,
                    "recorded": f"2026-11-2{seq}T10:00:00.000000Z",
                    "person_id": "p-1",
                    "agent_subject": "gp",
                    "agent_role": "R8000",
                    "agent_organisation": "F1",
                    "action": "read Patient",
                    "outcome": "0",
                    "body": "{}",
                    "prev_hash": previous,
                }
                row["hash"] = previous = audit._row_hash(row)
                connection.execute(
                    text(
                        "INSERT INTO exchange_audit_event VALUES (:seq, :recorded, :person_id, "
                        ":agent_subject, :agent_role, :agent_organisation, :action, :outcome, "
                        ":body, :prev_hash, :hash)"
                    ),
                    row,
                )
            connection.execute(
                text("UPDATE exchange_audit_head SET seq = 3, hash = :h"), {"h": previous}
            )
        upgrade(engine)
        keyed = tamper.TamperLog("exchange", KEY, tamper.FileSink(tmp_path / "cp"), every=0)
        audit.configure(keyed)
        with transaction(engine) as session:
            audit.append(session, entry(1))
            seal = audit.checkpoint(session)
        assert (seal.legacy_count, seal.seq) == (3, 4)
        assert verify(engine).ok
        # Declaring the keyed row legacy too, then rewriting it unkeyed, breaks the seal.
        rewrite(engine, "UPDATE exchange_audit_head SET legacy_until = 4", key=None)
        report = verify(engine)
        assert (
            f"the 4 rows from before the chain differ from the seal in the checkpoint of "
            f"{seal.at} (3 rows)"
        ) in report.problems, report.problems
    finally:
        audit.configure(None)
        engine.dispose()


def test_the_audit_key_is_required_outside_development() -> None:
    strong = {
        "jwt_issuer": "https://idp",
        "jwt_audience": "exchange",
        "jwks_url": "https://idp/jwks",
        "binary_link_secret": hashlib.sha256(b"b").hexdigest(),
    }
    for weak in (None, "changeme", "z" * 64):
        with pytest.raises(ValidationError, match="HEALTHYCITY_EXCHANGE_AUDIT_KEY"):
            ExchangeSettings(environment="production", audit_key=weak, **strong)
    settings = ExchangeSettings(environment="production", audit_key=KEY.decode(), **strong)
    assert audit.log_for(settings).key == KEY


def test_the_command_line_checkpoints_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HEALTHYCITY_EXCHANGE_AUDIT_KEY", KEY.decode())
    engine = make_engine(url)
    upgrade(engine)
    fill(engine, 3)
    runner = CliRunner()
    sealed = runner.invoke(app, ["--exchange-database", url, "audit", "checkpoint"])
    assert sealed.exit_code == 0, sealed.output
    assert "3 chained rows" in sealed.output
    assert runner.invoke(app, ["--exchange-database", url, "audit", "verify"]).exit_code == 0
    bypass_guards(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM exchange_audit_event WHERE seq = 3"))
        connection.execute(
            text(
                "UPDATE exchange_audit_head SET seq = 2, "
                "hash = (SELECT hash FROM exchange_audit_event WHERE seq = 2)"
            )
        )
    engine.dispose()
    failed = runner.invoke(app, ["--exchange-database", url, "audit", "verify"])
    assert failed.exit_code == 1
    assert "rows 3..3 were cut off the end" in failed.output
