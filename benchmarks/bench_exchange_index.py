"""Person-index lookup by NHS number with 1,000,000 persons in PostgreSQL (target: p95
under 5 ms).

Builds the exchange schema in a fresh PostgreSQL schema, loads a million persons with
valid test-range NHS numbers (COPY), then times lookups the way the exchange does them
(``identity.person_by_nhs_number`` through a SQLAlchemy session: a round trip per
lookup, hits and misses mixed) and drops the schema. PostgreSQL URL from
HEALTHYCITY_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).

    .venv/bin/python benchmarks/bench_exchange_index.py [PERSONS]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import uuid

from sqlalchemy import text

from healthycity.core.db import session_factory
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.nhsnumber import generate_test_numbers

URL = os.environ.get(
    "HEALTHYCITY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LOOKUPS = 5000


def main() -> int:
    persons = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    admin = make_engine(URL)
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001
        print(f"skipped: PostgreSQL not reachable ({str(error).splitlines()[0]})")
        return 0
    schema = f"xb_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        started = time.perf_counter()
        numbers = generate_test_numbers(persons, seed=1)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(  # type: ignore[attr-defined]
                "COPY exchange_person (id, nhs_number, family_name, family_key, given_name, "
                "restricted, created_at) FROM STDIN"
            ) as copy:
                for n, number in enumerate(numbers):
                    copy.write_row(
                        (str(uuid.UUID(int=n + 1)), number, "Smith", "SMITH", "Alex", False,
                         "2026-01-01T00:00:00Z")
                    )  # fmt: skip
            raw.commit()
        finally:
            raw.close()
        with engine.begin() as connection:
            connection.execute(text("ANALYZE exchange_person"))
        loaded = time.perf_counter() - started
        rng = random.Random(7)
        misses = generate_test_numbers(persons + LOOKUPS, seed=2)[-LOOKUPS:]
        probes = [
            rng.choice(numbers) if rng.random() < 0.9 else rng.choice(misses)
            for _ in range(LOOKUPS)
        ]
        sessions = session_factory(engine)
        timings: list[float] = []
        found = 0
        with sessions() as session:
            for number in probes[:200]:  # warm the pool and the plan cache
                identity.person_by_nhs_number(session, number)
            for number in probes:
                started = time.perf_counter()
                person = identity.person_by_nhs_number(session, number)
                timings.append(time.perf_counter() - started)
                found += person is not None
                session.expunge_all()
        timings.sort()
        p50 = statistics.median(timings) * 1000
        p95 = timings[int(0.95 * (len(timings) - 1))] * 1000
        p99 = timings[int(0.99 * (len(timings) - 1))] * 1000
        print(f"persons: {persons:,} (numbers made in {generated:.1f} s, loaded in {loaded:.1f} s)")
        print(f"lookups: {LOOKUPS:,} ({found:,} hits)")
        print(
            f"latency ms: p50 {p50:.3f}  p95 {p95:.3f}  p99 {p99:.3f}  max {timings[-1] * 1000:.3f}"
        )
        met = p95 < 5.0
        print(f"target: p95 under 5 ms: {'met' if met else 'MISSED'} ({5.0 / p95:.1f}x headroom)")
        return 0 if met else 1
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
