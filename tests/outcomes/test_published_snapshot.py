"""Issue 12 item 5: a real first run from the published snapshot shipped with us."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.db import transaction
from healthycity.outcomes import models as m
from healthycity.outcomes.demo import load_demo
from healthycity.outcomes.published import load_published, manifest
from healthycity.outcomes.queries import data_status, real_data
from tests.outcomes.test_published import london_pack

PUBLISHED = Path(__file__).resolve().parents[2] / "healthycity" / "outcomes" / "published"


def test_manifest_carries_licence_attribution_and_extract_date() -> None:
    info = manifest()
    assert info["licence"] == "Open Government Licence v3.0"
    assert "Fingertips" in info["attribution"] and info["extract_date"]
    assert len(info["indicators"]) == 10
    readme = (PUBLISHED / "README.md").read_text(encoding="utf-8")
    assert "Open Government Licence v3.0" in readme and "Extract date" in readme


def test_snapshot_is_what_the_script_builds(shared_dir: Path, tmp_path: Path) -> None:
    import hashlib

    info = json.loads((PUBLISHED / "manifest.json").read_text(encoding="utf-8"))
    folder = shared_dir / "data" / "fingertips" / "trafford_dashboard"
    for entry in info["indicators"]:
        source = (folder / entry["source_file"]).read_bytes()
        assert hashlib.sha256(source).hexdigest() == entry["source_sha256"]


def test_load_published_then_demo_fills_the_rest(engine: Engine) -> None:
    london_pack(engine)
    first = load_published(engine)
    assert len(first.indicators) == 10 and first.inserted == first.rows > 0
    again = load_published(engine)
    assert not again.changed
    demo = load_demo(engine)
    assert demo.loaded, demo.message
    with transaction(engine) as session:
        real = real_data(session)
        assert real.real == 10 and real.total > 10 and real.without_data == 0
        assert (
            data_status(session).real_text
            == f"10 of {real.total} indicators show published figures"
        )
        mixed = session.execute(
            select(func.count())
            .select_from(m.Observation)
            .where(m.Observation.indicator_id == "92443", m.Observation.illustrative.is_(True))
        ).scalar_one()
        assert mixed == 0  # illustrative data never fill a published indicator


def test_load_published_command(engine: Engine) -> None:
    from healthycity.cli import app

    london_pack(engine)
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database", url, "load", "published"])
    assert result.exit_code == 0, result.output
    assert "10 indicators" in result.output and "Open Government Licence" in result.output
    result = CliRunner().invoke(app, ["--database", url, "load", "published"])
    assert "nothing changed" in result.output
