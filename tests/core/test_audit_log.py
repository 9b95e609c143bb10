"""The workspace audit trail as a tamper-evident log (core.tamper), on SQLite and PostgreSQL.

Each attack starts the way someone with database access would: lift the append-only
triggers, then change the rows. Only the key (in the settings, never in the database)
and the checkpoints (outside the database) are out of their reach.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core import audit, audit_cli, tamper
from healthycity.core.cli_context import CliContext
from healthycity.core.db import make_engine, transaction
from healthycity.core.migrate import upgrade
from healthycity.core.settings import load_settings

SECRET = hashlib.sha256(b"session secret").hexdigest()
KEY = b"k3y-for-tests-0123456789abcdefghijklmnopqrstuvwxyz"
ACTOR = audit.Actor("tester", account_id=7)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tamper.TamperLog]:
    chained = tamper.TamperLog(
        name="workspace", key=KEY, sink=tamper.FileSink(tmp_path / "cp.jsonl"), every=5
    )
    audit.configure(chained)
    yield chained
    audit.configure(None)


def fill(engine: Engine, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        with transaction(engine) as session:
            audit.record_event(
                session, "account", str(n), audit.LOCKED, {"n": n, "why": "é"}, actor=ACTOR
            )


def verify(engine: Engine, log: tamper.TamperLog) -> tamper.Report:
    with transaction(engine) as session:
        return audit.verify(session, log=log)


def lift_triggers(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for name in ("audit_record_no_update", "audit_record_no_delete"):
                connection.execute(text(f"DROP TRIGGER {name}"))
        else:
            connection.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))


def rows(engine: Engine) -> list[dict[str, object]]:
    with transaction(engine) as session:
        result = session.execute(text("SELECT * FROM audit_record ORDER BY seq"))
        return [dict(row) for row in result.mappings()]


def rechain(engine: Engine, key: bytes, start: int) -> None:
    """Recompute every link from ``start`` on with ``key`` and move the head to match."""
    chain = rows(engine)
    previous = chain[start - 2]["mac"] if start > 1 else tamper.GENESIS
    with engine.begin() as connection:
        for row in chain[start - 1 :]:
            mac = tamper.link_mac(key, int(str(row["seq"])), str(previous), audit._material(row))
            connection.execute(
                text("UPDATE audit_record SET prev_mac = :p, mac = :m WHERE seq = :s"),
                {"p": previous, "m": mac, "s": row["seq"]},
            )
            previous = mac
        connection.execute(
            text("UPDATE audit_chain_head SET seq = :s, mac = :m"),
            {"s": chain[-1]["seq"], "m": previous},
        )


def test_records_are_chained_and_checkpointed(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 12)
    report = verify(engine, log)
    assert report.ok, report.problems
    assert (report.rows, report.head_seq, report.checkpoints) == (12, 12, 2)
    assert [row["seq"] for row in rows(engine)] == list(range(1, 13))
    checkpoints, _ = log.sink.read()
    assert [c.seq for c in checkpoints] == [5, 10]


def test_changes_through_the_orm_are_chained_too(engine: Engine, log: tamper.TamperLog) -> None:
    from healthycity.core.auth_models import Account

    with transaction(engine) as session, audit.acting_as(session, ACTOR):
        session.add(
            Account(email="a@example.org", display_name="A", role="viewer", password_hash="x")
        )
    fill(engine, 1)
    assert verify(engine, log).ok
    assert [row["action"] for row in rows(engine)] == ["create", "locked"]


def test_an_edit_with_the_chain_recomputed_without_the_key(
    engine: Engine, log: tamper.TamperLog
) -> None:
    fill(engine, 6)
    lift_triggers(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_record SET actor = 'someone else' WHERE seq = 3"))
    rechain(engine, b"a guessed key that is not the real one", start=3)
    report = verify(engine, log)
    assert any("row 3 was altered" in p for p in report.problems), report.problems
    assert any("differs from the checkpoint" in p for p in report.problems), report.problems


def test_an_edit_after_a_disabled_trigger(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 4)
    lift_triggers(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_record SET action = 'unlocked' WHERE seq = 2"))
    report = verify(engine, log)
    assert report.problems == ["row 2 was altered after it was written"]


def test_a_deleted_row(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 4)
    lift_triggers(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_record WHERE seq = 2"))
    report = verify(engine, log)
    assert "rows 2..2 are missing (deleted)" in report.problems
    assert "row 3 does not follow its predecessor" in report.problems


def test_a_truncated_tail_with_the_head_wound_back(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 12)
    lift_triggers(engine)
    kept = rows(engine)[7]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_record WHERE seq > 8"))
        connection.execute(
            text("UPDATE audit_chain_head SET seq = 8, mac = :m"), {"m": kept["mac"]}
        )
    report = verify(engine, log)
    assert report.problems == [
        f"the checkpoint of {log.sink.read()[0][1].at} recorded 10 rows, the log now ends "
        "at 8: rows 9..10 were cut off the end"
    ]


def test_a_forged_checkpoint_is_refused(engine: Engine, log: tamper.TamperLog) -> None:
    fill(engine, 3)
    with transaction(engine) as session:
        written = audit.checkpoint(session, log=log)
    forged = tamper.Checkpoint(**{**written.__dict__, "seq": 1})
    log.sink.append(forged)
    report = verify(engine, log)
    assert any("is not signed with this log's key" in p for p in report.problems)


def test_records_before_the_chain_are_sealed_at_the_cut_over(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0009")
        with engine.begin() as connection:
            for n in range(3):
                connection.execute(
                    text(
                        "INSERT INTO audit_record (at, actor, record_type, record_id, action) "
                        "VALUES (:at, 'old', 'account', :n, 'create')"
                    ),
                    {"at": "2026-01-01 10:00:00.000000", "n": str(n)},
                )
        upgrade(engine)
        chained = tamper.TamperLog("workspace", KEY, tamper.FileSink(tmp_path / "cp"), every=0)
        audit.configure(chained)
        fill(engine, 2)
        before = verify(engine, chained)
        assert before.ok and before.warnings  # no checkpoint yet: said, not failed
        with transaction(engine) as session:
            seal = audit.checkpoint(session, log=chained)
        assert (seal.legacy_count, seal.seq) == (3, 2)
        assert verify(engine, chained).ok
        lift_triggers(engine)
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE audit_record SET actor = 'new' WHERE seq IS NULL AND record_id = '1'")
            )
        report = verify(engine, chained)
        assert report.problems == [
            f"the 3 rows from before the chain differ from the seal in the checkpoint of "
            f"{seal.at} (3 rows)"
        ]
    finally:
        audit.configure(None)
        engine.dispose()


def test_keys_are_refused_outside_development_and_warned_about_in_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for weak in (None, "", "secret", "a" * 40, "short-but-random-9f3k"):
        with pytest.raises(tamper.AuditKeyError, match="HEALTHYCITY_AUDIT_KEY"):
            audit.log_for(
                load_settings(environment="production", secret_key=SECRET, audit_key=weak)
            )
    strong = hashlib.sha256(b"x").hexdigest()
    assert audit.log_for(
        load_settings(environment="production", secret_key=SECRET, audit_key=strong)
    ).key == (strong.encode())
    tamper._warned.discard("HEALTHYCITY_AUDIT_KEY")
    with caplog.at_level(logging.WARNING, logger="healthycity.tamper"):
        development = audit.log_for(load_settings(environment="development"))
    assert development.key == tamper.DEVELOPMENT_KEY.encode()
    assert "not tamper-evident" in caplog.text


def test_the_command_line_verifies_and_checkpoints(
    engine: Engine, log: tamper.TamperLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHYCITY_AUDIT_CHECKPOINT_PATH", str(log.sink.path))
    monkeypatch.setenv("HEALTHYCITY_AUDIT_KEY", KEY.decode())
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = CliContext(database=engine.url.render_as_string(hide_password=False))

    audit_cli.register(app)
    runner = CliRunner()
    fill(engine, 3)
    sealed = runner.invoke(app, ["audit", "checkpoint"])
    assert sealed.exit_code == 0, sealed.output
    assert "3 chained rows" in sealed.output
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit trail verified" in ok.output
    lift_triggers(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_record WHERE seq = 3"))
        connection.execute(
            text(
                "UPDATE audit_chain_head SET seq = 2, mac = (SELECT mac FROM audit_record "
                "WHERE seq = 2)"
            )
        )
    failed = runner.invoke(app, ["audit", "verify"])
    assert failed.exit_code == 1
    assert "rows 3..3 were cut off the end" in failed.output
