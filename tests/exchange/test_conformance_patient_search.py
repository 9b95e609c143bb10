"""Patient search as PDQm and the NHS PDS FHIR API offer it (issue 18, item 6).

Single parameters (family, given, birthdate with eq/ge/le/gt/lt, address-postcode,
identifier), ``:exact`` on names, gender with others, scored matches, and refusals of
searches too broad to run, each with an OperationOutcome saying why; every search
audited, allowed or refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from exchange_support import NHS, patient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.matching import FellegiSunterModel
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import AuditRecord, Person
from healthycity.exchange.patient_search import TraceError, find, parse_trace
from healthycity.exchange.settings import ExchangeSettings

NUMBERS = generate_test_numbers(12, seed=1806)
ALICE, ALBERT, AMY, BEA = NUMBERS[:4]
PATELS = NUMBERS[4:10]
LIMIT = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("patient-search")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine,
        settings=ExchangeSettings(
            node_timeout_seconds=2.0,
            node_health_interval_seconds=0,
            patient_search_max_matches=LIMIT,
        ),
    )
    harness.add_node("north").store.add_all(
        [
            patient("p-alice", ALICE, "Smith", "Alice", "1980-04-01", "E1 6AN", "female"),
            patient("p-albert", ALBERT, "Smith", "Albert", "1975-06-15", "N1 9GU", "male"),
            patient("p-amy", AMY, "Smithson", "Amy", "1990-01-01", "E1 6AN", "female"),
            patient("p-bea", BEA, "Jones", "Bea", "1980-04-01", "SW1A 1AA", "female"),
            *(
                patient(f"p-patel-{n}", number, "Patel", f"Priya{n}", f"19{60 + n}-02-02", "W2 1AA")
                for n, number in enumerate(PATELS)
            ),
        ]
    )
    with harness:
        harness.restrict(BEA)
        yield harness
    engine.dispose()


def admin(world: Harness) -> httpx.Client:
    """A registration clerk: may see any Patient (no clinical record)."""
    return world.client(world.issuer.mint(subject="clerk-1", role="R8008", organisation="F84001"))


def names(bundle: dict[str, Any]) -> list[str]:
    return sorted(
        e["resource"]["name"][0]["given"][0]
        for e in bundle["entry"]
        if e["search"]["mode"] == "match"
    )


def search(world: Harness, **params: str) -> dict[str, Any]:
    with admin(world) as client:
        response = client.get("/Patient", params=params)
    assert response.status_code == 200, (params, response.text)
    body: dict[str, Any] = response.json()
    assert body["total"] == len([e for e in body["entry"] if e["search"]["mode"] == "match"])
    return body


def refused(world: Harness, params: dict[str, str]) -> str:
    with admin(world) as client:
        response = client.get("/Patient", params=params)
    assert response.status_code == 400, (params, response.text)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


def test_single_parameters_match_as_fhir_strings_do(world: Harness) -> None:
    assert names(search(world, family="smith")) == ["Albert", "Alice", "Amy"]  # starts with
    assert names(search(world, **{"family:exact": "Smith"})) == ["Albert", "Alice"]
    assert names(search(world, **{"family:exact": "smith"})) == []  # exact is exact
    assert names(search(world, given="ali")) == ["Alice"]
    assert names(search(world, **{"given:exact": "ali"})) == []
    assert names(search(world, **{"address-postcode": "e16an"})) == ["Alice", "Amy"]
    assert names(search(world, identifier=f"{NHS}|{ALBERT}")) == ["Albert"]


def test_birthdate_prefixes(world: Harness) -> None:
    assert names(search(world, family="smith", birthdate="ge1979")) == ["Alice", "Amy"]
    assert names(search(world, family="smith", birthdate="lt1980-04-01")) == ["Albert"]
    assert names(search(world, family="smith", birthdate="le1980-04-01")) == ["Albert", "Alice"]
    assert names(search(world, family="smith", birthdate="gt1980")) == ["Amy"]
    assert names(search(world, family="smith", birthdate="eq1980-04")) == ["Alice"]
    assert names(search(world, birthdate="1980-04-01")) == ["Alice", "Bea"]
    assert names(search(world, family="smith", gender="male")) == ["Albert"]


def test_matches_are_scored_best_first(world: Harness) -> None:
    bundle = search(world, family="smith", given="alice", birthdate="1980-04-01")
    scores = [e["search"]["score"] for e in bundle["entry"]]
    assert names(bundle) == ["Alice"] and 0 < scores[0] <= 1
    loose = search(world, family="smith", given="al")
    ordered = [e["search"]["score"] for e in loose["entry"]]
    assert ordered == sorted(ordered, reverse=True) and all(0 < s <= 1 for s in ordered)


def test_identifier_with_demographics_must_agree(world: Harness) -> None:
    assert names(search(world, identifier=f"{NHS}|{ALICE}", family="smith")) == ["Alice"]
    assert names(search(world, identifier=f"{NHS}|{ALICE}", family="jones")) == []


def test_a_restricted_person_is_never_found_by_postcode(world: Harness) -> None:
    assert names(search(world, **{"address-postcode": "SW1A1AA"})) == []
    found = search(world, family="jones")
    assert names(found) == ["Bea"] and "address" not in found["entry"][0]["resource"]


def test_searches_too_broad_or_malformed_are_refused_and_audited(world: Harness) -> None:
    with transaction(world.engine) as session:
        before = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    assert "too broad" in refused(world, {"gender": "female"})
    why = refused(world, {"family": "patel"})
    assert "too broad" in why and f"more than {LIMIT}" in why
    assert names(search(world, family="patel", given="priya3")) == ["Priya3"]
    assert "prefix ne" in refused(world, {"family": "smith", "birthdate": "ne1980"})
    assert "not a FHIR date" in refused(world, {"family": "smith", "birthdate": "1980-13"})
    assert ":contains" in refused(world, {"family:contains": "mit"})
    assert "not supported" in refused(world, {"name": "smith"})
    assert "gender must be" in refused(world, {"family": "smith", "gender": "f"})
    assert "needs parameters" in refused(world, {})
    with transaction(world.engine) as session:
        after = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    assert after - before == 9  # eight refusals, and one search that found one person


def test_the_search_conditions_on_both_databases(engine: Engine) -> None:
    """The SQL the search runs (prefix LIKE with escapes, upper-case, date ranges) means
    the same on SQLite and PostgreSQL."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    people = [
        ("1", "O'Neil", "ONEIL", "Sean", date(1970, 1, 1), "male", "E16AN"),
        ("2", "Oneida", "ONEIDA", "Ann", date(1971, 5, 5), "female", "E16AP"),
        ("3", "100%_Real", "REAL", "Per_cent", date(1972, 12, 31), "female", "N19GU"),
    ]
    with transaction(engine) as session:
        for pid, family, key, given, born, sex, postcode in people:
            session.add(
                Person(
                    id=pid,
                    family_name=family,
                    family_key=key,
                    given_name=given,
                    birth_date=born,
                    sex=sex,
                    postcode=postcode,
                    created_at=now,
                )
            )
    model = FellegiSunterModel.default()

    def ids(**params: str) -> list[str]:
        trace = parse_trace(list(params.items()))
        with transaction(engine) as session:
            return sorted(p.id for p, _ in find(session, trace, limit=10, model=model))

    assert ids(family="o'ne") == ["1", "2"]  # punctuation ignored, starts with
    assert ids(**{"family:exact": "O'Neil"}) == ["1"]
    assert ids(given="per_") == ["3"] and ids(given="per%") == []  # wildcards are literal
    assert ids(given="PER_CENT") == ["3"]
    assert ids(**{"address-postcode": "E16A"}) == ["1", "2"]
    assert ids(birthdate="ge1971-05-05") == ["2", "3"]
    assert ids(birthdate="gt1971") == ["3"]
    assert ids(birthdate="lt1971-05") == ["1"]
    assert ids(birthdate="le1970", gender="male") == ["1"]
    with transaction(engine) as session, pytest.raises(TraceError, match="more than 2"):
        find(session, parse_trace([("birthdate", "ge1900")]), limit=2, model=model)
