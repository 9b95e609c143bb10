"""The progress report, as seed 004's July 2015 report: HTML first, then a tagged PDF whose
text carries every programme's name, SRO and budget, totalling £15,525,236."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.db import transaction
from healthycity.portfolio import service
from healthycity.reports import progress
from tests.workspace.helpers import cli_for, url_of

EXAMPLE = Path(__file__).resolve().parents[2] / "healthycity/reports/examples/london-2015-07.csv"


def _run(engine: Engine, *args: str) -> str:
    result = CliRunner().invoke(cli_for(url_of(engine)), ["--database", url_of(engine), *args])
    assert result.exit_code == 0, result.output
    return result.output


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_july_2015_report_as_a_tagged_pdf(engine: Engine, tmp_path: Path) -> None:
    _run(engine, "pack", "load", "london")
    _run(engine, "portfolio", "import", "progress", str(EXAMPLE))
    output = tmp_path / "progress.pdf"
    said = _run(
        engine,
        "report",
        "progress",
        "--period",
        "2015-07",
        "--format",
        "pdf",
        "--output",
        str(output),
    )
    assert "July 2015" in said
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(output.read_bytes()))
    text = _words("\n".join(page.extract_text() for page in reader.pages))
    with transaction(engine) as session:
        programmes = service.programmes(session)
        assert len(programmes) == 15
        for programme in programmes:
            assert programme.name in text, programme.name
            assert programme.sro and programme.sro in text, programme.sro
            assert service.pounds(programme.whole_life_budget) in text, programme.name
    assert "Total £15,525,236" in text
    assert "Cancer Research UK" in text and "London Clinical Senate" in text
    # Tagged for assistive technology: a structure tree, marked content and a language.
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert str(catalog.get("/Lang", "")).startswith("en")


def test_the_html_report_has_every_part_of_seed_004(engine: Engine, tmp_path: Path) -> None:
    _run(engine, "pack", "load", "london")
    _run(engine, "portfolio", "import", "progress", str(EXAMPLE))
    output = tmp_path / "progress.html"
    _run(engine, "report", "progress", "--period", "2015-07", "--output", str(output))
    html = output.read_text()
    headings = re.findall(r"<h2 id=\"([a-z]+)\">", html)
    assert headings == ["introduction", "highlights", "events", "progress", "budgets", "leads"]
    assert '<html lang="en-GB">' in html and html.count("<h1") == 1
    assert "£108,000" in html and "9 July 2015" in html
    assert "Healthy London Partnership" in html
    assert "Shaun Danielli" in html and "Teresa Moss" in html  # leads and SROs
    assert 'scope="col"' in html and "<caption>" in html


def test_quarters_and_bad_periods(engine: Engine) -> None:
    quarter = progress.parse_period("2015-q3")
    assert quarter.months == ["2015-07", "2015-08", "2015-09"]
    assert quarter.label == "July to September 2015" and quarter.last_day.day == 30
    for bad in ("2015-13", "July", "2015-Q5"):
        with pytest.raises(progress.PeriodError):
            progress.parse_period(bad)
    result = CliRunner().invoke(
        cli_for(url_of(engine)),
        ["--database", url_of(engine), "report", "progress", "--period", "2015-13", "-o", "x"],
    )
    assert result.exit_code == 1 and "not a month" in result.output
