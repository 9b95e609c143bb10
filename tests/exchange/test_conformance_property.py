"""Property: no combination of search parameters and consent states reveals a withheld
record, in a page or in a total (issue 18, acceptance).

Consent is applied before search, so every filter, sort, page size and count only sees
what the requester may see. Hypothesis draws the person's consent (none, withhold HIV,
withhold a date range, opt-out) and a search (type, code, date with prefix, _count,
_summary, _sort, unknown parameters); the oracle is the same search's answer to the
person themself minus what the consent withholds, computed from the node data here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from exchange_support import ordinary_record, patient, sensitive_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from healthycity.core.db import transaction
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import ConsentRecord
from healthycity.exchange.settings import ExchangeSettings

(CAROL,) = generate_test_numbers(1, seed=183)
HIV = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}
PRIVACY = {
    "resourceType": "Consent",
    "status": "active",
    "scope": {"coding": [{"code": "patient-privacy"}]},
}
CONSENTS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "withhold-hiv": PRIVACY
    | {"provision": {"type": "permit", "provision": [{"type": "deny", "securityLabel": [HIV]}]}},
    "opt-out": PRIVACY | {"provision": {"type": "deny"}},
}
#: What each consent withholds from a clinician (the oracle, from the node data below).
WITHHELD = {
    "none": set(),
    "withhold-hiv": {"c-hiv", "c-hiv-visit", "c-viral-load"},
    "opt-out": None,
}
TYPES = ("Condition", "Observation", "Encounter", "MedicationRequest")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("conformance-property")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine,
        settings=ExchangeSettings(
            node_timeout_seconds=2.0, node_health_interval_seconds=0, grounds_cache_size=0
        ),
    )
    harness.add_node("north").store.add_all(
        [
            patient("c", CAROL, "Cole", "Carol"),
            *sensitive_record("c", "c"),
            *ordinary_record("c", "c"),
        ]
    )
    with harness:
        harness.relate(CAROL, "gp", "F84001")
        yield harness
    engine.dispose()


def set_consent(world: Harness, state: str) -> None:
    person = world.person_id(CAROL)
    with transaction(world.engine) as session:
        session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person))
    consent = CONSENTS[state]
    if consent is not None:
        world.consent(CAROL, consent)


searches = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(
            [
                "86406008",
                "http://snomed.info/sct|86406008",
                "20447-9",
                "44054006",
                "http://loinc.org|",
                "|x",
            ]
        ),
        "date": st.sampled_from(["ge2000", "lt2030-01-01", "eq2025", "ne2025-10-01", "sa1990"]),
        "_count": st.sampled_from(["0", "1", "2", "500"]),
        "_summary": st.sampled_from(["count", "data", "true"]),
        "_sort": st.sampled_from(["date", "-date", "_id", "-_lastUpdated"]),
        "_id": st.sampled_from(["c-hiv", "c-diabetes", "c-viral-load"]),
        "status": st.sampled_from(["final", "finished", "active"]),
        "unknown-param": st.just("x"),
    },
)


def _all_pages(client: httpx.Client, path: str, params: dict[str, str]) -> tuple[int, set[str]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    bundle = response.json()
    total, ids = bundle["total"], set()
    for _ in range(50):
        ids |= {
            e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"
        }
        following = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
        if following is None:
            break
        bundle = client.get(following).json()
        assert bundle["total"] == total
    return total, ids


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    state=st.sampled_from(sorted(CONSENTS)),
    kind=st.sampled_from([*TYPES, "$everything"]),
    params=searches,
)
def test_no_page_and_no_total_reveals_a_withheld_record(
    world: Harness, state: str, kind: str, params: dict[str, str]
) -> None:
    set_consent(world, state)
    carol = world.person_id(CAROL)
    token = world.issuer.mint(subject="dr-gp", role="R8000", organisation="F84001")
    if kind == "$everything":
        path = f"/Patient/{carol}/$everything"
        params = {k: v for k, v in params.items() if k == "_count"}
    else:
        path, params = f"/{kind}", params | {"patient": carol}
    with world.client(token) as client:
        total, ids = _all_pages(client, path, params)
    withheld = WITHHELD[state]
    if withheld is None:  # opted out: nothing at all, and nothing counted
        assert total == 0 and ids == set()
        return
    assert not ids & withheld
    listing = {k: v for k, v in params.items() if k != "_count" and v != "count"}
    set_consent(world, "none")
    with world.client(token) as client:
        _, everyone_sees = _all_pages(client, path, listing)  # what the oracle starts from
    expected = everyone_sees - withheld
    assert total == len(expected)  # the total counts what may be seen, and only that
    if params.get("_count") != "0" and params.get("_summary") != "count":
        assert ids == expected
