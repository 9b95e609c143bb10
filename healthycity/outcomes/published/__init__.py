"""Published figures shipped with the package: a real first run without the internet.

One long-format CSV per Fingertips indicator of the city pack that published extracts
cover (England and London's local authorities, as Fingertips published them, OGL v3),
with ``manifest.json`` giving the source, licence, attribution and extract date (see
``README.md`` in this folder). ``scripts/build_published_snapshot.py`` rebuilds the
files from the project's shared data folder; the package only ever reads its own copies.

``load_published`` writes them all in one transaction through the long-format importer
(so every check of ``ingest/validate.py`` applies), then rolls up London and its
sub-regions where counts allow (``healthycity.outcomes.aggregate``). Loading twice
changes nothing. Its releases have the source ``published``, which ``demo load`` does
not count as data someone loaded: illustrative data then fill only the indicators the
snapshot does not cover.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

SOURCE = "published"


@dataclass
class PublishedResult:
    """What ``load_published`` did, per indicator."""

    indicators: list[str] = field(default_factory=list)
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated)


def manifest() -> dict[str, Any]:
    """The snapshot's manifest: source, licence, attribution, extract date, indicators."""
    text = resources.files(__name__).joinpath("manifest.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load_published(engine: Engine, *, only_catalogue: bool = True) -> PublishedResult:
    """Load every snapshot file in one transaction; indicators the catalogue lacks are
    skipped when ``only_catalogue`` (the pack decides what the site tracks)."""
    from healthycity.core.db import transaction
    from healthycity.outcomes import models as m
    from healthycity.outcomes.aggregate import roll_up
    from healthycity.outcomes.ingest.long_format import load_long_file

    info = manifest()
    result = PublishedResult()
    folder = resources.files(__name__)
    with transaction(engine) as session:
        for entry in info["indicators"]:
            indicator_id = str(entry["indicator_id"])
            if only_catalogue and session.get(m.Indicator, indicator_id) is None:
                result.skipped.append(indicator_id)
                continue
            with resources.as_file(folder.joinpath(entry["file"])) as path:
                loaded = load_long_file(session, Path(path), indicator_id, source=SOURCE)
            result.indicators.append(indicator_id)
            result.rows += loaded.rows
            result.inserted += loaded.inserted
            result.updated += loaded.updated
        roll_up(session, result.indicators)
    return result
