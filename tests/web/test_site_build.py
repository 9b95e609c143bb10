"""`healthycity site build OUTDIR`: every page, twin and chart download as files, the same
HTML the live server renders, and every link inside the site resolving to a file."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from healthycity.cli import app as cli
from healthycity.web.app import create_app
from healthycity.web.site_build import BuildResult, build_site, file_target, html_target
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

# Session fixtures shared with the other dashboard tests (built once per engine).
london_sqlite = shared_data.london_sqlite

NONCE = re.compile(r'nonce="[^"]*"')


@pytest.fixture(scope="module")
def export(
    london_sqlite: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildResult, Path]:
    from healthycity.core.settings import load_settings

    folder = tmp_path_factory.mktemp("site")
    settings = load_settings(database_url=london_sqlite, cache_dir=str(folder / "cache"))
    # Without the review PDFs (seconds each to typeset; `report annual` and
    # tests/test_review_pdf.py cover them): they are listed as needing a server instead.
    result = build_site(settings, folder / "public", documents=False)
    assert result.pages > 100
    return result, folder / "public"


@pytest.fixture(scope="module")
def build(export: tuple[BuildResult, Path]) -> BuildResult:
    return export[0]


@pytest.fixture(scope="module")
def built(export: tuple[BuildResult, Path]) -> Path:
    return export[1]


def _resolve(outdir: Path, href: str) -> Path | None:
    """The file a static host would serve for a root-relative link (None: not ours)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    path = parts.path
    if path.startswith("/static/"):
        return outdir / path.lstrip("/")
    last = path.rsplit("/", 1)[-1]
    if "." in last:
        return file_target(outdir, path)
    return html_target(outdir, path)


def test_the_whole_site_is_written(built: Path) -> None:
    for relative in (
        "index.html",
        "index.csv",
        "index.json",
        "404.html",
        "aspirations/healthy-start/index.html",
        "aspirations/healthy-start.csv",
        "commitments/cut-child-obesity/index.html",
        "indicators/90323/index.html",
        "indicators/90323.csv",
        "indicators/90323.json",
        "indicators/90323/chart-map.csv",
        "indicators/90323/chart-trend.vl.json",
        "areas/E09000007/index.html",
        "areas/E09000007/chart-spine.csv",
        "areas/E54000027/index.html",
        "inequalities/index.html",
        "search/index.html",
        "accessibility/index.html",
        "api/v1/docs/index.html",
        "api/v1/openapi.json",
        "static/nhsuk/nhsuk-frontend.min.css",
        "static/app.css",
        "static/outcomes/outcomes.css",
    ):
        assert (built / relative).is_file(), relative
    assert len(list((built / "indicators").glob("*/index.html"))) >= 40
    assert len(list((built / "areas").glob("E09*/index.html"))) == 33


def test_documents_are_left_out_when_asked(built: Path, build: BuildResult) -> None:
    reviews = sorted(p.name for p in (built / "review").iterdir() if p.is_dir())
    assert reviews, "the annual reviews are exported"
    assert not list(built.rglob("*.pdf"))
    assert {f"/review/{year}.pdf" for year in reviews} <= set(build.live_only)


def test_same_html_as_the_live_server(built: Path, london_sqlite: str) -> None:
    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        for path in ("/", "/indicators/90323", "/areas/E09000007", "/aspirations/healthy-start"):
            live = httpx.get(server.url + path, timeout=30).text
            static = html_target(built, path).read_text(encoding="utf-8")
            assert NONCE.sub("", live) == NONCE.sub("", static), path
        csv = httpx.get(server.url + "/indicators/90323.csv", timeout=30).text
    assert (built / "indicators" / "90323.csv").read_text(encoding="utf-8") == csv


def test_every_link_inside_the_site_resolves(built: Path, build: BuildResult) -> None:
    """Every root-relative link is a file, or one the app itself would not serve
    publicly at build time (the workspace's sign-in, say), which the build reports."""
    missing: set[str] = set()
    pages = list(built.rglob("*.html"))
    assert len(pages) > 100
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for href in re.findall(r'(?:href|src)="([^"#]+)', html):
            href = href.replace("&amp;", "&")
            if href.split("?")[0] in build.live_only:
                continue
            target = _resolve(built, href.split("?")[0])
            if target is not None and not target.is_file():
                missing.add(href)
    assert not missing, sorted(missing)[:20]
    assert "/health" in build.live_only  # JSON at a clean URL: only a server can answer


def test_base_path_prefixes_every_link(london_sqlite: str, tmp_path: Path) -> None:
    from healthycity.core.settings import load_settings
    from healthycity.web.site_build import build_site

    outdir = tmp_path / "sub"
    result = build_site(
        load_settings(database_url=london_sqlite),
        outdir,
        base_path="/health-site",
        paths=["/", "/indicators/90323"],
    )
    assert result.pages == 2
    home = (outdir / "index.html").read_text(encoding="utf-8")
    indicator = (outdir / "indicators" / "90323" / "index.html").read_text(encoding="utf-8")
    for html in (home, indicator):
        links = re.findall(r'(?:href|src|action)="(/[^"]*)"', html)
        assert links and all(link.startswith("/health-site/") for link in links), [
            link for link in links if not link.startswith("/health-site/")
        ]


def test_site_build_command_on_an_empty_database(tmp_path: Path) -> None:
    from healthycity.core.db import make_engine
    from healthycity.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(make_engine(url))
    outdir = tmp_path / "public"
    result = CliRunner().invoke(cli, ["--database", url, "site", "build", str(outdir)])
    assert result.exit_code == 0, result.output
    assert "pages" in result.output
    assert (outdir / "index.html").is_file() and (outdir / "search" / "index.html").is_file()


def test_bad_base_path_is_refused(london_sqlite: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--database", london_sqlite, "site", "build", str(tmp_path), "--base-path", "nope/"],
    )
    assert result.exit_code != 0
    assert "--base-path" in result.output


def test_load_boundaries_command(tmp_path: Path, shared_dir: Path) -> None:
    from healthycity.core.db import make_engine
    from healthycity.core.migrate import upgrade
    from tests.web.test_dashboard_data import load_pack_only

    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_pack_only(engine)
    engine.dispose()
    geojson = shared_dir / "data" / "boundaries" / "london_lad_may2024_bsc.geojson"
    runner = CliRunner()
    first = runner.invoke(cli, ["--database", url, "load", "boundaries", str(geojson)])
    assert first.exit_code == 0, first.output
    assert "33 stored" in first.output
    england = shared_dir / "data" / "boundaries" / "england_lad2013_topo.json"
    wide = runner.invoke(cli, ["--database", url, "load", "boundaries", str(england)])
    assert wide.exit_code == 0, wide.output
    assert "skipped" in wide.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "Point", "coordinates": [0, 0]}')
    refused = runner.invoke(cli, ["--database", url, "load", "boundaries", str(bad)])
    assert refused.exit_code == 1 and "Error:" in refused.output


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_an_export_from_the_cache_is_the_same_file_for_file(
    export: tuple[BuildResult, Path], london_sqlite: str, tmp_path: Path
) -> None:
    """The second export at the same data version renders nothing: every file comes from
    the response cache the first one filled, and is the same as the first one wrote."""
    from healthycity.core.settings import load_settings

    first, outdir = export
    settings = load_settings(database_url=london_sqlite, cache_dir=str(outdir.parent / "cache"))
    again = build_site(settings, tmp_path / "again", documents=False)
    assert (again.workers, again.cached) == (0, again.files)
    assert (again.pages, again.files, again.live_only) == (
        first.pages,
        first.files,
        first.live_only,
    )
    assert _files(tmp_path / "again") == _files(outdir)


def test_a_parallel_export_equals_a_single_process_export(
    london_sqlite: str, tmp_path: Path
) -> None:
    paths = [
        "/",
        "/indicators/90323",
        "/indicators/90631",
        "/areas/E09000007",
        "/areas/E54000027",
        "/aspirations/healthy-start",
        "/commitments/cut-child-obesity",
        "/inequalities",
        "/search",
        "/accessibility",
    ]
    settings = settings_for(london_sqlite)
    single = build_site(settings, tmp_path / "single", paths=paths, jobs=1)  # type: ignore[arg-type]
    parallel = build_site(settings, tmp_path / "parallel", paths=paths, jobs=2)  # type: ignore[arg-type]
    assert (single.workers, parallel.workers) == (1, 2)
    assert single.files == parallel.files > len(paths) * 3
    assert _files(tmp_path / "parallel") == _files(tmp_path / "single")
