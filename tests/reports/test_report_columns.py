"""The PDF progress report has every column the HTML has: spend to date and forecast
outturn for each programme, the totals, variance explanations and delivery-confidence
commentary (read back with poppler's pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.core.pack_loading import load_pack
from healthycity.portfolio import schemas, service
from healthycity.reports import progress
from tests.workspace.helpers import london_pack, unit


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_the_pdf_carries_spend_outturn_totals_explanations_and_commentary(
    engine: Engine, tmp_path: Path
) -> None:
    load_pack(engine, london_pack())
    with unit(engine) as session:
        for n, programme in enumerate(service.programmes(session)):
            service.record_spend(
                session,
                schemas.SpendIn(
                    programme_slug=programme.slug,
                    month=date(2015, 7, 1),
                    actual=f"{1000 + n * 111}.25",
                    explanation="Recruitment was slower than planned",
                ),
            )
        service.add_confidence(
            session,
            schemas.ConfidenceIn(
                programme_slug="cancer",
                assessed_on=date(2015, 7, 20),
                rating="Amber/Green",
                assessor="Portfolio office",
                commentary="Screening pilots on track; diagnostics capacity a concern",
            ),
        )
    with transaction(engine) as session:
        report = progress.build(session, progress.parse_period("2015-07"))
        html = progress.render_html(report)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(progress.render_pdf(html))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words = " ".join(text.split())
    for row in report.budgets:
        assert row.spend_to_date > 0
        assert service.pounds(row.spend_to_date) in words, row.name
        assert service.pounds(row.outturn) in words, row.name
    assert service.pounds(report.spend_total) in words
    assert service.pounds(report.outturn_total) in words
    assert "Variance explanations" in words and "Recruitment was slower than planned" in words
    assert "Screening pilots on track; diagnostics capacity a concern" in words
    for column in ("Spend to date", "Forecast outturn", "Variance"):
        assert column in html
