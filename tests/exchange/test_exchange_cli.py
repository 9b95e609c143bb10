"""The ``healthycity exchange`` command line, and batch linkage through it."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
from exchange_support import reference_path
from sqlalchemy import text
from typer.testing import CliRunner

from healthycity.core.db import transaction
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.cli import app
from healthycity.exchange.db import make_engine
from healthycity.exchange.identity.linkage import pairwise_scores, parse_mapping

runner = CliRunner()


def test_the_cli_starts_fast() -> None:
    """The command line starts fast because it imports nothing heavy until a command runs
    (checked by what is imported, not by a clock: timing a shared machine flakes)."""
    heavy = ("fastapi", "sqlalchemy", "fhir", "splink", "duckdb", "httpx", "polars", "numpy")
    code = (
        "import sys, healthycity.exchange.cli; "
        f"print(sorted(n for n in {heavy!r} if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'x.db'}"


def test_audit_verify_passes_then_fails_after_tampering(tmp_path: Path) -> None:
    url = _db(tmp_path)
    assert runner.invoke(app, ["--exchange-database", url, "migrate"]).exit_code == 0
    engine = make_engine(url)
    for n in range(3):
        with transaction(engine) as session:
            audit.append(
                session,
                audit.AuditEntry(
                    interaction="read",
                    action="read Patient",
                    outcome="0",
                    outcome_desc="ok",
                    subject=f"u{n}",
                    role="R8000",
                    organisation="F84001",
                    issuer="i",
                ),
            )
    ok = runner.invoke(app, ["--exchange-database", url, "audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "rows checked: 3" in ok.output
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER exchange_audit_event_no_delete"))
        connection.execute(text("DELETE FROM exchange_audit_event WHERE seq = 2"))
    engine.dispose()
    failed = runner.invoke(app, ["--exchange-database", url, "audit", "verify"])
    assert failed.exit_code == 1
    assert "rows 2..2 are missing" in failed.output


def test_nodes_add_and_list(tmp_path: Path) -> None:
    url = _db(tmp_path)
    added = runner.invoke(
        app,
        [
            "--exchange-database",
            url,
            "nodes",
            "add",
            "nel",
            "http://127.0.0.1:9999/fhir",
            "--sub-region",
            "north-east",
        ],
    )
    assert added.exit_code == 0, added.output
    bad = runner.invoke(app, ["--exchange-database", url, "nodes", "add", "x", "ftp://nope"])
    assert bad.exit_code == 2
    listed = runner.invoke(app, ["--exchange-database", url, "nodes", "list"])
    assert "nel\thttp://127.0.0.1:9999/fhir\tnorth-east\tunknown" in listed.output


def test_demo_starts_nodes_and_the_exchange(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "demo",
            "--nodes",
            "2",
            "--seconds",
            "0.2",
            "--port",
            "0",
            "--database",
            str(tmp_path / "d.db"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"node node-\d\d: http://127\.0\.0\.1:\d+", result.output)) == 2
    assert "token (GP at F80000)" in result.output


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_link_reports_bad_values_keeps_twins_apart_and_writes_every_record(tmp_path: Path) -> None:
    header = ["id", "first", "last", "dob", "nhs", "pc", "sex"]
    a = _write(
        tmp_path / "a.csv",
        [
            header,
            ["a1", "Alice", "Smith", "1980-04-01", "", "E1 6AN", "F"],
            ["a2", "Jaina", "Solo", "20170515", "", "SW1A 1AA", "F"],
            ["a3", "Bob", "Jones", "not a date", "1234567890", "N1 9GU", "?"],
        ],
    )
    b = _write(
        tmp_path / "b.csv",
        [
            header,
            ["b1", "Alice", "Smyth", "19800401", "", "E16AN", "female"],
            ["b2", "Jacen", "Solo", "2017-05-15", "", "SW1A 1AA", "M"],
        ],
    )
    out = tmp_path / "clusters.csv"
    result = runner.invoke(
        app,
        [
            "link", str(a), str(b), "--output", str(out),
            "--map", "record_id=id", "--map", "given_name=first", "--map", "family_name=last",
            "--map", "birth_date=dob", "--map", "nhs_number=nhs", "--map", "postcode=pc",
            "--map", "sex=sex", "--match-threshold", "0.9",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "birth_date 'not a date' is not a date" in result.output
    assert "nhs_number '1234567890' is not a valid NHS number" in result.output
    rows = list(csv.DictReader(out.open()))
    assert [(Path(r["file"]).name, r["row"], r["record_id"]) for r in rows] == [
        ("a.csv", "1", "a1"), ("a.csv", "2", "a2"), ("a.csv", "3", "a3"),
        ("b.csv", "1", "b1"), ("b.csv", "2", "b2"),
    ]  # fmt: skip
    cluster = {r["record_id"]: r["cluster_id"] for r in rows}
    assert cluster["a2"] != cluster["b2"]  # twins


def test_mapping_errors_are_plain() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        parse_mapping(["surname=last"])
    with pytest.raises(ValueError, match="field=column"):
        parse_mapping(["given_name"])


def test_febrl3_linkage_meets_the_goal(tmp_path: Path) -> None:
    source = reference_path("linkage", "febrl_dataset3.csv")
    out = tmp_path / "febrl.csv"
    maps = [
        "record_id=rec_id", "given_name=given_name", "family_name=surname",
        "birth_date=date_of_birth", "postcode=postcode", "address_line=address_1",
        "town=suburb", "other_identifier=soc_sec_id",
    ]  # fmt: skip
    args = ["link", str(source), "--output", str(out), "--match-threshold", "0.9"]
    for item in maps:
        args += ["--map", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    truth = [re.match(r"rec-(\d+)-", r["record_id"]).group(1) for r in rows]  # type: ignore[union-attr]
    precision, recall, *_ = pairwise_scores([r["cluster_id"] for r in rows], truth)
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)


def test_review_queue_list_and_decide(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from exchange_support import patient

    from healthycity.exchange.federation import nodes
    from healthycity.exchange.identity import index as identity
    from healthycity.exchange.identity.nhsnumber import generate_test_numbers
    from healthycity.exchange.models import ReviewItem

    url = _db(tmp_path)
    assert runner.invoke(app, ["--exchange-database", url, "migrate"]).exit_code == 0
    engine = make_engine(url)
    number = generate_test_numbers(1, seed=8)[0]
    with transaction(engine) as session:
        north = nodes.register_node(session, name="north", base_url="http://127.0.0.1:1")
        south = nodes.register_node(session, name="south", base_url="http://127.0.0.1:2")
        first = identity.index_patient(session, north, patient("n1", number, "Khan", "Aisha"))
        identity.index_patient(
            session, south, patient("s1", None, "Kahn", "Aisha", postcode="N7 6AA")
        )
        session.add(
            ReviewItem(
                node_id=south.id, local_id="s1", candidate_person_id=first.person_id,
                probability=0.72, reason="possible match on demographics", status="open",
                created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    listed = runner.invoke(app, ["--exchange-database", url, "review", "list"])
    assert "south/Patient/s1" in listed.output and "0.720" in listed.output
    item = listed.output.split("\t", 1)[0]
    decided = runner.invoke(
        app, ["--exchange-database", url, "review", "decide", item, "--link", "--reviewer", "r1"]
    )
    assert decided.exit_code == 0, decided.output
    with transaction(engine) as session:
        assert [local for _, local in identity.links_of(session, first.person_id)] == ["n1", "s1"]
        assert audit.verify(session).ok
    again = runner.invoke(
        app,
        ["--exchange-database", url, "review", "decide", item, "--keep-apart", "--reviewer", "r1"],
    )
    assert again.exit_code == 2
    engine.dispose()
