"""The Fingertips API: download indicators' data and metadata, then import them.

Endpoints (relative to the base URL, https://fingertips.phe.org.uk/api by default):

- ``all_data/csv/by_indicator_id?indicator_ids=ID&child_area_type_id=402&
  parent_area_type_id=6[&parent_area_code=E12000007]``: the Fingertips CSV of one
  indicator for one area type (402: upper-tier local authorities from April 2023;
  6: regions);
- ``indicator_metadata/csv/by_indicator_id?indicator_ids=ID,ID``: definitions, units,
  value types and polarity.

Why it is built this way: the network is slow and unreliable, and a public service
should not be hammered, so every response is cached on disk (``settings.cache_dir``)
and reused for ``max_age_hours``; requests time out, and transient failures (timeouts,
connection errors, 429 and 5xx) are retried with exponential backoff. Downloads happen
before the database transaction opens, so a slow network never holds a lock, and the
import itself is the Fingertips CSV importer: one transaction, all or nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.geography.service import ENGLAND
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.fingertips_csv import load_fingertips_files, read_csv_text
from healthycity.outcomes.ingest.problems import ImportResult, ProblemList
from healthycity.outcomes.ingest.store import IndicatorSeed

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URL = "https://fingertips.phe.org.uk/api"
DEFAULT_AREA_TYPE = 402
DEFAULT_PARENT_AREA_TYPE = 6
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}

# (label, bytes just received, total bytes if known) → None
Progress = Callable[[str, int, int | None], None]


class FingertipsApiError(RuntimeError):
    """The API could not be reached or refused a request, after every retry."""


@dataclass
class ClientOptions:
    base_url: str = DEFAULT_BASE_URL
    cache_dir: Path = Path("./var/cache")
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0
    max_age_hours: float = 24.0
    refresh: bool = False


class FingertipsClient:
    """A small, polite HTTP client for the Fingertips API with an on-disk cache."""

    def __init__(
        self,
        options: ClientOptions | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.options = options or ClientOptions()
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.options.timeout),
            transport=transport,
            follow_redirects=True,
            headers={"User-Agent": "healthycity (https://github.com/healthycity)"},
        )
        self.requests_made = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FingertipsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, endpoint: str, params: dict[str, Any]) -> str:
        base = self.options.base_url.rstrip("/")
        return f"{base}/{endpoint.lstrip('/')}?{urlencode(params)}"

    def cache_path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()[:32]
        return Path(self.options.cache_dir) / "fingertips" / f"{digest}.csv"

    def get(self, url: str, *, label: str, progress: Progress | None = None) -> Path:
        """The response body of ``url`` as a cached file, fetched if stale or missing."""
        path = self.cache_path(url)
        if not self.options.refresh and path.exists():
            age_hours = (time.time() - path.stat().st_mtime) / 3600
            if age_hours < self.options.max_age_hours:
                if progress:
                    size = path.stat().st_size
                    progress(label, size, size)
                return path
        path.parent.mkdir(parents=True, exist_ok=True)
        last_error = "no attempt made"
        for attempt in range(self.options.retries + 1):
            if attempt:
                self._sleep(self.options.backoff * 2 ** (attempt - 1))
            try:
                retry, last_error = self._download(url, path, label, progress)
            except Exception as exc:  # noqa: BLE001 - classified below, then re-raised
                import httpx

                if not isinstance(exc, httpx.TimeoutException | httpx.TransportError):
                    raise
                retry = True
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                last_error = f"the request {kind} ({type(exc).__name__})"
            if not retry:
                return path
        raise FingertipsApiError(f"{url}: {last_error} after {self.options.retries + 1} attempts")

    def _download(
        self, url: str, path: Path, label: str, progress: Progress | None
    ) -> tuple[bool, str]:
        """One attempt: (retry?, reason). Raises FingertipsApiError on a final refusal."""
        self.requests_made += 1
        with self._http.stream("GET", url) as response:
            if response.status_code in _RETRY_STATUS:
                return True, f"HTTP {response.status_code}"
            if response.status_code >= 400:
                raise FingertipsApiError(f"{url}: HTTP {response.status_code}")
            total = response.headers.get("Content-Length")
            partial = path.with_suffix(f".part{os.getpid()}")
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    if progress:
                        progress(label, len(chunk), int(total) if total else None)
            partial.replace(path)
        return False, ""

    def indicator_data(
        self,
        indicator_id: str,
        *,
        area_type: int = DEFAULT_AREA_TYPE,
        parent_area_type: int = DEFAULT_PARENT_AREA_TYPE,
        parent_code: str | None = None,
        progress: Progress | None = None,
    ) -> Path:
        params: dict[str, Any] = {
            "indicator_ids": indicator_id,
            "child_area_type_id": area_type,
            "parent_area_type_id": parent_area_type,
            "include_sortable_time_periods": "yes",
        }
        if parent_code:
            params["parent_area_code"] = parent_code
        url = self.url("all_data/csv/by_indicator_id", params)
        return self.get(url, label=f"indicator {indicator_id}", progress=progress)

    def indicator_metadata(
        self, indicator_ids: Sequence[str], *, progress: Progress | None = None
    ) -> Path:
        url = self.url(
            "indicator_metadata/csv/by_indicator_id", {"indicator_ids": ",".join(indicator_ids)}
        )
        return self.get(url, label="metadata", progress=progress)


@dataclass
class Fetched:
    """What was downloaded (or found in the cache) for one import."""

    data: list[tuple[Path, str]] = field(default_factory=list)
    metadata: Path | None = None
    warnings: list[str] = field(default_factory=list)


def fetch(
    client: FingertipsClient,
    indicator_ids: Sequence[str],
    *,
    area_type: int = DEFAULT_AREA_TYPE,
    parent_area_type: int = DEFAULT_PARENT_AREA_TYPE,
    parent_code: str | None = None,
    progress: Progress | None = None,
) -> Fetched:
    """Download every indicator's data and their metadata. Metadata is optional."""
    fetched = Fetched()
    for indicator_id in indicator_ids:
        path = client.indicator_data(
            indicator_id,
            area_type=area_type,
            parent_area_type=parent_area_type,
            parent_code=parent_code,
            progress=progress,
        )
        fetched.data.append((path, f"Fingertips API indicator {indicator_id}"))
    try:
        fetched.metadata = client.indicator_metadata(indicator_ids, progress=progress)
    except FingertipsApiError as exc:
        fetched.warnings.append(f"indicator metadata not available: {exc}")
    return fetched


def metadata_seeds(path: Path) -> list[IndicatorSeed]:
    """Indicator metadata CSV → seeds carrying definitions, unit, value type, polarity."""
    problems = ProblemList(path.name)
    frame = read_csv_text(path, path.name, problems)
    if frame is None or "Indicator ID" not in frame.columns:
        return []
    seeds = []
    for row in frame.iter_rows(named=True):
        indicator_id = (row.get("Indicator ID") or "").strip()
        if not indicator_id:
            continue
        metadata: dict[str, Any] = {}
        for column, name in fc.METADATA_FIELDS.items():
            value = (row.get(column) or "").strip()
            if value and name != "name":
                metadata[name] = value
        extra = {c: row[c].strip() for c in fc.METADATA_EXTRA if (row.get(c) or "").strip()}
        if extra:
            metadata["extra"] = extra
        value_type = fc.value_type_from_label(row.get("Value type"))
        unit = (row.get("Unit") or "").strip() or None
        metadata.pop("unit", None)
        seeds.append(
            IndicatorSeed(
                id=indicator_id,
                name=(row.get("Indicator") or "").strip() or f"Fingertips indicator {indicator_id}",
                source=m.SOURCE_FINGERTIPS,
                value_type=value_type if value_type != m.OTHER else None,
                polarity=fc.polarity_from_label(row.get("Polarity")),
                unit=unit,
                multiplier=fc.multiplier_from_unit(unit, value_type),
                fingertips_id=indicator_id,
                metadata=metadata,
            )
        )
    return seeds


def load_fetched(
    session: Session, fetched: Fetched, *, parent_code: str | None = None, location: str
) -> ImportResult:
    """Import what ``fetch`` downloaded, in the caller's transaction."""
    import polars as pl

    keep = None
    if parent_code:
        keep = (
            (pl.col("_parent") == parent_code) | pl.col("area_code").is_in([parent_code, ENGLAND])
        ).fill_null(False)
    seeds = metadata_seeds(fetched.metadata) if fetched.metadata else []
    return load_fingertips_files(
        session,
        list(fetched.data),
        location=location,
        extra_indicators=seeds,
        update_metadata=bool(seeds),
        keep=keep,
    )


def import_fingertips_api(
    engine: Engine,
    client: FingertipsClient,
    indicator_ids: Sequence[str],
    *,
    area_type: int = DEFAULT_AREA_TYPE,
    parent_area_type: int = DEFAULT_PARENT_AREA_TYPE,
    parent_code: str | None = None,
    progress: Progress | None = None,
) -> tuple[ImportResult, list[str]]:
    """Fetch (outside any transaction), then import in one transaction; also warnings."""
    fetched = fetch(
        client,
        indicator_ids,
        area_type=area_type,
        parent_area_type=parent_area_type,
        parent_code=parent_code,
        progress=progress,
    )
    location = client.url(
        "all_data/csv/by_indicator_id",
        {
            "indicator_ids": ",".join(indicator_ids),
            "child_area_type_id": area_type,
            "parent_area_type_id": parent_area_type,
            **({"parent_area_code": parent_code} if parent_code else {}),
        },
    )
    from healthycity.outcomes.aggregate import after_import

    with transaction(engine) as session:
        result = load_fetched(session, fetched, parent_code=parent_code, location=location)
        after_import(session, result)
    return result, fetched.warnings
