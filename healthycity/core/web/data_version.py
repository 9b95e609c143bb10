"""The partnership database's data version: one cheap query that any committed change moves.

The response cache (`core.web.page_cache`) keys every stored page by this value, so a
page is never served from before a change. It is read from the database itself, not
kept in a process, so every worker (and every machine on a shared PostgreSQL) sees a
load made by the command line, a pack load or a workspace edit made by another worker
at its next read. No table of its own, no event to forget to fire:

- every table: ``count(*)`` (an insert or a delete moves it) and the largest integer
  primary key (a delete followed by an insert still moves it);
- every ``…_at`` column holding when a row was loaded, published or decided (a
  consultation's ``published_at``), and every ``digest`` (the loaded pack's, which any
  change to the pack's files moves): its largest value (an update);
- ``audit_record``: every change to a workspace record (`core.audit.Audited`: the
  portfolio, assurance and engagement records, accounts) writes one row in the same
  transaction, so its largest id moves with any edit, updates included.

Huge append-only tables (observations, the audit trail) give only their largest id:
counting them would cost a scan. Tables that only record who is signed in (sessions,
tokens, throttling) are left out, so signing in does not empty the cache. A module
whose public page shows a column updated in place on a table that is neither audited
nor stamped must add one of the two (docs/decisions/0015-page-cache.md).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import Integer, func, select
from sqlalchemy.engine import Connection, Engine

# Who is signed in, and sign-in throttling: changes here never alter a public page.
PRIVATE_TABLES = frozenset(
    {
        "web_session",
        "api_token",
        "sign_in_throttle",
        "password_reset",
        "engagement_attempt",
        "alembic_version",
    }
)
# Big and append-only (or replaced only together with their release): largest id only.
MAX_ONLY = frozenset({"observation", "audit_record"})
STAMPS = (
    "loaded_at",
    "updated_at",
    "published_at",
    "decided_at",
    "assessed_at",
    "closed_at",
    "digest",
)


def version_query(engine: Engine) -> str:
    """The SQL of the fingerprint, compiled once for the engine's dialect."""
    from healthycity.core.registry import load_metadata

    parts: list[Any] = []
    for table in load_metadata().sorted_tables:
        if table.name in PRIVATE_TABLES:
            continue
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, Integer):
            parts.append(select(func.max(keys[0])).scalar_subquery())
        if table.name in MAX_ONLY:
            continue
        parts.append(select(func.count()).select_from(table).scalar_subquery())
        for column in table.columns:
            if column.name.endswith(STAMPS):
                parts.append(select(func.max(column)).scalar_subquery())
    statement = select(*parts)
    return str(statement.compile(engine, compile_kwargs={"literal_binds": True}))


# What moves whenever any other connection commits, at a fraction of the fingerprint's
# cost: SQLite's per-connection data_version, PostgreSQL's transaction snapshot.
CHANGE_PROBES = {
    "sqlite": "PRAGMA data_version",
    "postgresql": "SELECT pg_current_snapshot()::text",
}


class DataVersion:
    """Reads the fingerprint on one connection kept for the purpose (thread-safe).

    Each read first asks the database whether anything at all was committed since the
    last read (a microsecond question, `CHANGE_PROBES`), and recomputes the fingerprint
    only when something was: most reads, between changes, cost one tiny statement. The
    answer is never older than the read: the probe is taken before the fingerprint, so
    a commit in between only causes one more recomputation. The value is a short hex
    digest.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql: str | None = None
        self._probe = CHANGE_PROBES.get(engine.dialect.name)
        self._connection: Connection | None = None
        self._lock = threading.Lock()
        self._last: tuple[Any, str] | None = None
        self.recomputed = 0

    def read(self) -> str:
        with self._lock:
            try:
                return self._read()
            except Exception:
                self.close_unlocked()
                raise

    def _read(self) -> str:
        if self._sql is None:
            self._sql = version_query(self._engine)
        if self._connection is None:
            # A read that writes nothing never takes SQLite's write lock (core.db).
            self._connection = self._engine.connect().execution_options(
                healthycity_sqlite_begin="DEFERRED"
            )
            self._last = None
        raw: Any = self._connection.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            marker = cursor.execute(self._probe).fetchone() if self._probe else None
            if marker is not None and self._last is not None and self._last[0] == marker:
                return self._last[1]
            row = cursor.execute(self._sql).fetchone()
        finally:
            cursor.close()
            raw.rollback()
        text = "|".join("" if v is None else str(v) for v in row)
        value = hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
        self._last = (marker, value) if marker is not None else None
        self.recomputed += 1
        return value

    def close_unlocked(self) -> None:
        self._last = None
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def close(self) -> None:
        with self._lock:
            self.close_unlocked()
