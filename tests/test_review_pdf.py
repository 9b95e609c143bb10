"""The review's PDF is fit to publish: tagged (PDF/UA-1), titled, in English, with
bookmarks from its headings, a structure tree with headings and figures, and text that
holds every aspiration and every city the pack ships (read back with poppler)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from healthycity.core.db import make_engine
from healthycity.outcomes import queries as q
from healthycity.packs.reader import PACKS_DIR, read_pack
from tests.web.test_dashboard_data import london_sqlite  # noqa: F401 - the fixture
from tests.workspace.helpers import cli_for

pytestmark = pytest.mark.skipif(
    shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils not installed",
)


@pytest.fixture(scope="module")
def pdf(london_sqlite: str, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("review") / "review-2019.pdf"
    result = CliRunner().invoke(
        cli_for(london_sqlite),
        [
            "--database",
            london_sqlite,
            "report",
            "annual",
            "--year",
            "2019",
            "--format",
            "pdf",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_the_pdf_is_tagged_titled_and_in_english(pdf: Path) -> None:
    info = _run("pdfinfo", str(pdf))
    assert re.search(r"^Tagged:\s+yes$", info, flags=re.M), info
    assert re.search(
        r"^Title:\s+Healthy London Partnership – annual strategic review 2019$", info, flags=re.M
    ), info
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en-GB"
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    bookmarks: list[str] = []

    def walk(items: list[object]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                bookmarks.append(str(getattr(item, "title", "")))

    walk(list(reader.outline))
    assert bookmarks[0] == "Annual strategic review 2019"
    for heading in (
        "The year in two minutes",
        "The ten aspirations",
        "The shared commitments",
        "Variation across London",
        "The partnership's delivery",
        "London among other global cities",
        "Appendix: the charts' figures",
    ):
        assert heading in bookmarks, bookmarks


def test_the_structure_tree_has_headings_and_a_figure_per_chart(pdf: Path) -> None:
    tree = _run("pdfinfo", "-struct", str(pdf))
    tags = re.findall(r"^\s*(\w+)", tree, flags=re.M)
    assert tags.count("H1") == 1 and tags.count("H2") >= 7 and tags.count("H3") >= 20
    assert tags.count("Figure") == 3  # one per global-city measure
    assert tags.count("Table") >= 20  # the aspirations' and commitments' tables, the appendix


def test_the_text_holds_every_aspiration_and_every_shipped_city(
    pdf: Path,
    london_sqlite: str,  # noqa: F811
) -> None:
    text = " ".join(_run("pdftotext", str(pdf), "-").split())
    with Session(make_engine(london_sqlite)) as session:
        titles = [a.title for a in q.aspirations(session)]
    assert len(titles) == 10
    for title in titles:
        assert title in text, title
    cities = {f.city for f in read_pack(PACKS_DIR / "london").global_cities}
    assert len(cities) == 10
    for city in cities:
        assert city in text, city
    assert "OECD (2023), Life expectancy at birth (indicator)" in text
    assert "Page 1 of" in text
