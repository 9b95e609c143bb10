"""The response cache (docs/decisions/0015-page-cache.md): pages, twins, chart downloads
and API answers served again are byte for byte what an uncached render gives; a
Fingertips load, a pack load and a workspace edit are seen at once, by every worker;
signed-in pages never come from the shared cache; ETags, 304 and compression."""

from __future__ import annotations

import asyncio
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from sqlalchemy.engine import Engine, make_url

from healthycity.core.db import make_engine
from healthycity.web.app import create_app
from healthycity.web.response_cache import Warmer, warm_paths
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

london_sqlite = shared_data.london_sqlite

PATHS = [
    "/",
    "/index.json",
    "/index.csv",
    "/aspirations/healthy-start",
    "/aspirations/healthy-start.json",
    "/aspirations/healthy-start/chart-heat-map.csv",
    "/indicators/90362",
    "/indicators/90362.json",
    "/indicators/90362.csv",
    "/indicators/90362?benchmark=london&comparison=99.8",
    "/indicators/90362/chart-map.csv",
    "/indicators/90362/chart-trend.vl.json",
    "/areas/E09000007",
    "/areas/E09000007.csv",
    "/inequalities",
    "/search?q=obesity",
    "/service-changes",
    "/accessibility",
    "/api/v1",
    "/api/v1/indicators",
    "/api/v1/indicators/90362/data?limit=50",
    "/api/v1/areas/E09000007/profile",
    "/api/v1/docs",
    "/no-such-page",
]


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://site.local")


def _get_all(app: Any, paths: list[str], **headers: str) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        async with _client(app) as client:
            return [await client.get(p, headers=headers) for p in paths]

    return asyncio.run(fetch())


@pytest.fixture
def copy_url(london_sqlite: str, tmp_path: Path) -> Iterator[str]:
    """A private copy of the London demo database, free to change."""
    source = make_url(london_sqlite).database
    assert source
    make_engine(london_sqlite).dispose()
    shutil.copy(source, tmp_path / "copy.db")
    yield f"sqlite:///{tmp_path / 'copy.db'}"


def test_served_again_is_byte_for_byte_an_uncached_render(london_sqlite: str) -> None:
    plain = create_app(settings_for(london_sqlite, page_cache=False))  # type: ignore[arg-type]
    cached = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    uncached = _get_all(plain, PATHS, **{"accept-encoding": "identity"})
    first = _get_all(cached, PATHS, **{"accept-encoding": "identity"})
    again = _get_all(cached, PATHS, **{"accept-encoding": "identity"})
    squeezed = _get_all(cached, PATHS, **{"accept-encoding": "gzip"})
    for path, a, b, c, z in zip(PATHS, uncached, first, again, squeezed, strict=True):
        assert a.status_code == b.status_code == c.status_code, path
        assert a.content == b.content == c.content == z.content, path
        assert a.headers["content-type"] == c.headers["content-type"], path
        if a.status_code == 200:
            assert "etag" not in a.headers and c.headers["etag"] == b.headers["etag"], path
            assert c.headers["cache-control"].startswith("public, max-age="), path
            assert "Accept-Encoding" in c.headers["vary"], path
        else:
            assert "etag" not in c.headers, path
    stored = cached.state.response_store
    assert stored.get(cached.state.data_version.read(), ("", "/indicators/90362", "")) is not None


def test_etag_304_head_and_compression(london_sqlite: str) -> None:
    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        raw = client.get("/indicators/90362", headers={"accept-encoding": "identity"})
        tag = raw.headers["etag"]
        assert tag.startswith('"') and not tag.startswith("W/")
        again = client.get("/indicators/90362", headers={"if-none-match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["cache-control"].startswith("public")
        other = client.get("/indicators/90362", headers={"if-none-match": '"nope"'})
        assert other.status_code == 200
        for encoding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
            answer = client.get(
                "/indicators/90362", headers={"accept-encoding": encoding}, extensions={}
            )
            wire = b"".join(answer.iter_raw()) if not answer.is_closed else None
            assert answer.headers["content-encoding"] == encoding
            assert answer.headers["etag"] != tag
            assert answer.content == raw.content
            assert wire is None or decode(wire) == raw.content
        head = client.head("/indicators/90362", headers={"accept-encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(raw.content)
        api = client.get("/api/v1/indicators/90362/data?limit=10", headers={"origin": "https://x"})
        assert api.status_code == 200 and api.headers["etag"]
        assert api.headers["access-control-allow-origin"] == "*"
        assert api.json()["next"] == "/api/v1/indicators/90362/data?offset=10&limit=10"
        assert api.json()["previous"] is None
        assert api.headers["link"] == f'<{api.json()["next"]}>; rel="next"'
        assert "nonce-" in raw.headers["content-security-policy"]
        assert "'sha256-" in raw.headers["content-security-policy"]
        assert " nonce=" not in raw.text


def _publish_a_proposal(engine: Engine) -> str:
    from healthycity.assurance import schemas, service
    from tests.assurance.test_service import PROPOSAL, _all_verdicts
    from tests.workspace.helpers import unit

    title = "Consolidate stroke units in the cache test"
    # Met in full: no beds lost, the investment found.
    changes = {"title": title, "beds_proposed": 120, "investment_identified": "4000000"}
    with unit(engine) as session:
        proposal = service.create_proposal(
            session, schemas.ProposalIn.model_validate(PROPOSAL | changes), "s@x"
        )
        service.submit(session, proposal)
        service.assess(session, proposal, schemas.AssessIn(), "assessor@x")
        data = schemas.AssessIn(verdicts=_all_verdicts(session, "met"), complete=True)
        service.assess(session, proposal, data, "assessor@x")
        service.publish(session, proposal)
    return title


def _load_changed_pack(engine: Engine, tmp_path: Path) -> str:
    from healthycity.core.pack_loading import load_pack
    from healthycity.packs.reader import PACKS_DIR, read_pack

    folder = tmp_path / "pack"
    shutil.copytree(PACKS_DIR / "london", folder)
    title = "Give every London child the best start in life"
    aspirations = folder / "aspirations.yaml"
    text = aspirations.read_text(encoding="utf-8")
    old = "Give all London's children a healthy, happy start to life"
    assert old in text
    aspirations.write_text(text.replace(old, title), encoding="utf-8")
    load_pack(engine, read_pack(folder))
    return title


def test_no_page_is_stale_after_a_load_a_pack_or_a_workspace_edit(
    copy_url: str, tmp_path: Path
) -> None:
    from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

    # Two apps over one database stand for two worker processes.
    one = create_app(settings_for(copy_url))  # type: ignore[arg-type]
    two = create_app(settings_for(copy_url))  # type: ignore[arg-type]
    pages = ["/search", "/aspirations/healthy-start", "/service-changes", "/api/v1/indicators"]
    for app in (one, two):
        before = _get_all(app, pages)
        assert [r.status_code for r in before] == [200, 200, 200, 200]
    engine = make_engine(copy_url)
    try:
        import_fingertips_csv(
            engine, [shared_data.new_indicator_file(tmp_path / "new.csv", name="Cached pigeons")]
        )
        for app in (one, two):
            search, _, _, api = _get_all(app, pages)
            assert "Cached pigeons" in search.text
            assert "99901" in api.text
        title = _load_changed_pack(engine, tmp_path)
        for app in (one, two):
            assert title in _get_all(app, ["/aspirations/healthy-start"])[0].text
        published = _publish_a_proposal(engine)
        for app in (one, two):
            assert published in _get_all(app, ["/service-changes"])[0].text
    finally:
        engine.dispose()


def test_signed_in_pages_are_private_and_never_from_the_shared_cache(copy_url: str) -> None:
    from tests.workspace.helpers import add_people

    engine = make_engine(copy_url)
    tokens = add_people(engine)
    engine.dispose()
    app = create_app(settings_for(copy_url))  # type: ignore[arg-type]
    bearer = {"authorization": f"Bearer {tokens['admin']}"}
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        client.get("/")  # the public page is now stored
        workspace = client.get("/workspace", headers=bearer)
        home = client.get("/", headers=bearer)
        anonymous = client.get("/workspace", follow_redirects=False)
    assert workspace.status_code == 200
    for answer in (workspace, home):
        assert "no-store" in answer.headers["cache-control"]
        assert "etag" not in answer.headers
    assert home.headers["cache-control"] == "private, no-store"
    assert "etag" not in anonymous.headers and "public" not in anonymous.headers.get(
        "cache-control", ""
    )


def test_workers_share_the_cache_on_disk_and_the_warmer_fills_it(
    copy_url: str, tmp_path: Path
) -> None:
    from healthycity.core.settings import load_settings

    settings = load_settings(
        database_url=copy_url,
        environment="development",
        cache_dir=str(tmp_path / "c"),
    )
    one = create_app(settings)  # type: ignore[arg-type]
    warmer: Warmer = one.state.warmer
    warmer.paths = lambda app: warm_paths(app)[:4]
    assert warmer.warm() == 4
    version = one.state.data_version.read()
    files = list((tmp_path / "c" / "pages").glob(f"*/{version}/*"))
    assert len(files) == 4
    two = create_app(settings)  # type: ignore[arg-type]
    two.state.warmer.paths = lambda app: []
    calls: list[str] = []
    from healthycity.core.web import page_cache

    real = page_cache.render

    async def counting(app: Any, scope: Any, receive: Any) -> Any:
        calls.append(scope["path"])
        return await real(app, scope, receive)

    page_cache.render = counting  # type: ignore[assignment]
    try:
        home = _get_all(two, ["/"])[0]
    finally:
        page_cache.render = real  # type: ignore[assignment]
    assert home.status_code == 200 and "/" not in calls
    plain = create_app(settings_for(copy_url, page_cache=False))  # type: ignore[arg-type]
    assert _get_all(plain, ["/"])[0].content == home.content
