"""The identity stewardship API over real HTTP: review queue, decide, link, unlink, audit.

Every storage test runs on SQLite and PostgreSQL (the ``engine`` fixture). The world:
Chidi Okafor has verified records at north and south; east holds a record of "Chika
Okafor", same surname and birth date, another address, which the scorer puts in the
review queue as a possible match for Chidi instead of linking it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from exchange_support import ordinary_record, patient
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.exchange.api import create_app
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.federation import nodes
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.matching import FellegiSunterModel
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import AuditRecord, PersonLink, ReviewItem
from healthycity.exchange.settings import ExchangeSettings

CHIDI = generate_test_numbers(1, seed=41)[0]
FAMILIES = ("Okafor", "Mensah", "Adeyemi")
STEWARD_SCOPE = "user/PersonLink.read user/PersonLink.write"


def _possible_match() -> dict[str, Any]:
    """Chidi's surname and birth date, another given name and another address: scored
    between the possible-match and match thresholds, so it goes to review."""
    record = patient("e-chika", None, "Okafor", "Chika", birth_date="1971-03-09")
    record["address"] = [
        {"use": "home", "line": ["22 Rye Lane"], "city": "London", "postalCode": "N7 6AA"}
    ]
    return record


@pytest.fixture
def world(engine: Engine) -> Iterator[Harness]:
    harness = Harness(
        engine,
        settings=ExchangeSettings(node_timeout_seconds=1.0, node_health_interval_seconds=0),
        scorer=FellegiSunterModel.default(),
    )
    chidi = ("Okafor", "Chidi")
    harness.add_node("north").store.add_all(
        [
            patient("n-chidi", CHIDI, *chidi, birth_date="1971-03-09", postcode="SE15 4QL"),
            *ordinary_record("n", "n-chidi"),
        ]
    )
    harness.add_node("east").store.add_all([_possible_match(), *ordinary_record("e", "e-chika")])
    harness.add_node("south").store.add_all(
        [
            patient("s-chidi", CHIDI, *chidi, birth_date="1971-03-09", postcode="SE15 4QL"),
            *ordinary_record("s", "s-chidi"),
        ]
    )
    with harness:
        harness.relate(CHIDI, "gp", "F84001")
        yield harness


def steward(world: Harness, scope: str = STEWARD_SCOPE, role: str = "R8013") -> str:
    return world.issuer.mint(subject="steward-1", role=role, organisation="RAL01", scope=scope)


def gp(world: Harness) -> str:
    return world.issuer.mint(subject="dr-1", role="R8000", organisation="F84001")


def params(**values: Any) -> dict[str, Any]:
    """A Parameters body: ints as valueInteger, strings as valueString."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, "valueInteger" if isinstance(v, int) else "valueString": v}
            for name, v in values.items()
        ],
    }


def value(parameters: list[dict[str, Any]], name: str) -> Any:
    found = [p for p in parameters if p["name"] == name]
    assert len(found) == 1, (name, parameters)
    entry = found[0]
    if "part" in entry:
        return entry["part"]
    return next(v for k, v in entry.items() if k.startswith("value"))


def values(parameters: list[dict[str, Any]], name: str) -> list[list[dict[str, Any]]]:
    return [p["part"] for p in parameters if p["name"] == name]


def everything_ids(world: Harness, person_id: str) -> set[str]:
    with world.client(gp(world)) as client:
        response = client.get(f"/Patient/{person_id}/$everything")
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"}


def open_item(world: Harness) -> ReviewItem:
    with transaction(world.engine) as session:
        return session.execute(select(ReviewItem).where(ReviewItem.status == "open")).scalar_one()


def linked_locals(world: Harness, person_id: str) -> list[str]:
    with world.client(steward(world)) as client:
        response = client.get(f"/Patient/{person_id}/$links")
    assert response.status_code == 200, response.text
    return sorted(value(link, "local") for link in values(response.json()["parameter"], "link"))


def events(world: Harness, person_id: str) -> list[dict[str, Any]]:
    with transaction(world.engine) as session:
        return list(audit.events_for_person(session, person_id))


def audit_count(world: Harness) -> int:
    with transaction(world.engine) as session:
        return session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()


def chain_ok(world: Harness) -> bool:
    with transaction(world.engine) as session:
        report = audit.verify(session)
    return report.ok


def test_the_queue_shows_a_possible_match_side_by_side(world: Harness) -> None:
    chidi = world.person_id(CHIDI)
    item = open_item(world)
    with world.client(steward(world)) as client:
        response = client.get("/$review-queue")
        decided = client.get("/$review-queue", params={"status": "linked"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "Parameters"
    assert value(body["parameter"], "total") == 1
    (shown,) = values(body["parameter"], "item")
    assert value(shown, "id") == item.id
    assert value(shown, "status") == "open"
    assert (value(shown, "node"), value(shown, "local")) == ("east", "e-chika")
    assert value(shown, "source") == f"{world.nodes['east'].url}/Patient/e-chika"
    assert value(shown, "candidate") == {"reference": f"Patient/{chidi}"}
    assert 0.5 <= value(shown, "probability") < 0.95
    assert value(shown, "reason") == "possible match on demographics"
    record, candidate = value(shown, "recordDemographics"), value(shown, "candidateDemographics")
    assert (value(record, "given"), value(candidate, "given")) == ("Chika", "Chidi")
    assert value(record, "birthDate") == value(candidate, "birthDate") == "1971-03-09"
    assert (value(record, "postcode"), value(candidate, "postcode")) == ("N76AA", "SE154QL")
    assert value(candidate, "nhsNumber") == CHIDI
    holder = value(shown, "person")["reference"].removeprefix("Patient/")
    assert holder != chidi
    assert value(decided.json()["parameter"], "total") == 0
    # Both people whose demographics were shown have it in their access log.
    for person_id in (chidi, holder):
        latest = events(world, person_id)[0]
        assert latest["agent"][0]["who"]["identifier"]["value"] == "steward-1"
        assert latest["outcomeDesc"].startswith("$review-queue")
        assert latest["purposeOfEvent"][0]["coding"][0]["code"] == "RECORDMGT"
    assert chain_ok(world)


def test_a_restricted_persons_address_is_withheld_from_stewards(world: Harness) -> None:
    world.restrict(CHIDI)
    chidi = world.person_id(CHIDI)
    with world.client(steward(world)) as client:
        queue = client.get("/$review-queue").json()
        links = client.get(f"/Patient/{chidi}/$links").json()
    (shown,) = values(queue["parameter"], "item")
    candidate = value(shown, "candidateDemographics")
    names = {part["name"] for part in candidate}
    assert value(candidate, "restricted") is True and value(candidate, "family") == "Okafor"
    assert not names & {"postcode", "address", "town"}
    assert value(value(shown, "recordDemographics"), "postcode") == "N76AA"  # not restricted
    for link in values(links["parameter"], "link"):
        assert not {p["name"] for p in value(link, "demographics")} & {"postcode", "address"}


def test_deciding_link_brings_the_record_into_everything(world: Harness) -> None:
    chidi = world.person_id(CHIDI)
    item = open_item(world)
    assert "e-diabetes" not in everything_ids(world, chidi)  # also warms the grounds cache
    decide = params(item=item.id, decision="link")
    with world.client(steward(world)) as client:
        response = client.post("/$review-decide", json=decide)
        again = client.post("/$review-decide", json=decide)
        still_open = client.get("/$review-queue").json()
    assert response.status_code == 200, response.text
    answer = response.json()["parameter"]
    assert value(answer, "status") == "linked"
    assert value(answer, "person") == {"reference": f"Patient/{chidi}"}
    assert linked_locals(world, chidi) == ["e-chika", "n-chidi", "s-chidi"]
    assert {"e-diabetes", "e-bp", "n-diabetes", "s-diabetes"} <= everything_ids(world, chidi)
    # A second decision on the same item conflicts, and that refusal is audited too.
    assert again.status_code == 409
    assert again.json()["issue"][0]["code"] == "invalid"
    assert "already decided" in again.json()["issue"][0]["diagnostics"]
    assert value(still_open["parameter"], "total") == 0
    with transaction(world.engine) as session:
        stored = session.get(ReviewItem, item.id)
        assert stored is not None and stored.decided_by == "steward-1"
        refused = session.execute(
            select(AuditRecord).where(AuditRecord.action == "$review-decide")
        ).scalar_one()
    assert refused.outcome == "4" and refused.agent_subject == "steward-1"
    # The citizen sees who changed their identity in their own access log.
    citizen = world.issuer.mint(
        subject="chidi", role="citizen", scope="patient/*.read", patient=CHIDI
    )
    with world.client(citizen) as client:
        log = client.get(f"/Patient/{chidi}/$access-log").json()
    changes = [
        e["resource"]
        for e in log["entry"]
        if e["resource"]["outcomeDesc"].startswith(f"link: review item {item.id} (link)")
    ]
    assert len(changes) == 1
    assert changes[0]["agent"][0]["who"]["identifier"]["value"] == "steward-1"
    assert changes[0]["agent"][0]["type"]["coding"][0]["code"] == "R8013"
    assert chain_ok(world)


def test_two_stewards_deciding_at_once_cannot_both_succeed(world: Harness) -> None:
    item = open_item(world)
    chidi = world.person_id(CHIDI)
    start = threading.Barrier(2)

    def decide(decision: str) -> int:
        with world.client(steward(world)) as client:
            start.wait()
            body = params(item=item.id, decision=decision)
            return client.post("/$review-decide", json=body).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(decide, ["link", "keep-apart"]))
    assert statuses == [200, 409]
    with transaction(world.engine) as session:
        stored = session.get(ReviewItem, item.id)
        assert stored is not None
        decided = stored.status
        changes = (
            session.execute(
                select(AuditRecord.action).where(
                    AuditRecord.agent_subject == "steward-1", AuditRecord.outcome == "0"
                )
            )
            .scalars()
            .all()
        )
    # Exactly one decision took effect, and the audit says which.
    if decided == "linked":
        assert linked_locals(world, chidi) == ["e-chika", "n-chidi", "s-chidi"]
        assert sorted(changes) == ["link", "unlink"]
    else:
        assert decided == "rejected"
        assert linked_locals(world, chidi) == ["n-chidi", "s-chidi"]
        assert sorted(changes) == ["keep-apart", "keep-apart"]
    assert chain_ok(world)


def test_keep_apart_keeps_the_record_apart_and_is_audited_for_both(world: Harness) -> None:
    chidi = world.person_id(CHIDI)
    item = open_item(world)
    with transaction(world.engine) as session:
        holder = session.execute(
            select(PersonLink.person_id).where(PersonLink.local_id == "e-chika")
        ).scalar_one()
    with world.client(steward(world)) as client:
        response = client.post("/$review-decide", json=params(item=item.id, decision="keep-apart"))
        again = client.post("/$review-decide", json=params(item=item.id, decision="link"))
        listed = client.get("/$review-queue", params={"status": "kept-apart"}).json()
    assert response.status_code == 200, response.text
    assert value(response.json()["parameter"], "status") == "kept-apart"
    assert again.status_code == 409
    assert linked_locals(world, chidi) == ["n-chidi", "s-chidi"]
    assert linked_locals(world, holder) == ["e-chika"]
    assert "e-diabetes" not in everything_ids(world, chidi)
    (shown,) = values(listed["parameter"], "item")
    assert value(shown, "status") == "kept-apart" and value(shown, "decidedBy") == "steward-1"
    for person_id in (chidi, holder):
        assert any(
            e["outcomeDesc"].startswith(f"keep-apart: review item {item.id}")
            and e["outcome"] == "0"
            for e in events(world, person_id)
        )
    assert chain_ok(world)


def test_unlink_splits_a_record_off_and_link_moves_it_back(world: Harness) -> None:
    chidi = world.person_id(CHIDI)
    assert "s-diabetes" in everything_ids(world, chidi)
    with world.client(steward(world)) as client:
        split = client.post(f"/Patient/{chidi}/$unlink", json=params(node="south", local="s-chidi"))
        assert split.status_code == 200, split.text
        answer = split.json()["parameter"]
        new_person = value(answer, "person")["reference"].removeprefix("Patient/")
        link_id = value(answer, "link")
        assert new_person != chidi
        assert linked_locals(world, chidi) == ["n-chidi"]
        assert linked_locals(world, new_person) == ["s-chidi"]
        assert "s-diabetes" not in everything_ids(world, chidi)
        # Not this person's record any more, and the new person's only one.
        assert (
            client.post(f"/Patient/{chidi}/$unlink", json=params(link=link_id)).status_code == 409
        )
        only = client.post(f"/Patient/{new_person}/$unlink", json=params(link=link_id))
        assert only.status_code == 409 and "only record" in only.text
        # Moving it back by link id.
        back = client.post(f"/Patient/{chidi}/$link", json=params(link=link_id))
        assert back.status_code == 200, back.text
        assert value(back.json()["parameter"], "previous") == {"reference": f"Patient/{new_person}"}
        twice = client.post(f"/Patient/{chidi}/$link", json=params(link=link_id))
        assert twice.status_code == 409
    assert linked_locals(world, chidi) == ["n-chidi", "s-chidi"]
    assert "s-diabetes" in everything_ids(world, chidi)
    for person_id in (chidi, new_person):
        mine = [e for e in events(world, person_id) if e["outcome"] == "0"]
        assert any(e["outcomeDesc"].startswith("unlink: manual unlink") for e in mine)
    assert any(e["outcomeDesc"].startswith("link: manual link") for e in events(world, chidi))
    with transaction(world.engine) as session:
        link = session.get(PersonLink, link_id)
        assert link is not None and link.method == "manual" and link.linked_by == "steward-1"
    assert chain_ok(world)


def test_a_manual_link_cannot_overrule_two_verified_numbers(world: Harness) -> None:
    other_number = generate_test_numbers(2, seed=41)[1]
    chidi = world.person_id(CHIDI)
    with transaction(world.engine) as session:
        west = nodes.register_node(session, name="west", base_url="http://127.0.0.1:1/west")
        identity.index_patient(
            session, west, patient("w-1", other_number, "Adeyemi", "Tunde", birth_date="1990-01-01")
        )
    with world.client(steward(world)) as client:
        response = client.post(f"/Patient/{chidi}/$link", json=params(node="west", local="w-1"))
    assert response.status_code == 409
    assert "NHS number" in response.json()["issue"][0]["diagnostics"]
    assert linked_locals(world, chidi) == ["n-chidi", "s-chidi"]


REQUESTERS: dict[str, dict[str, Any]] = {
    "gp with a relationship": dict(
        subject="dr-1", role="R8000", organisation="F84001", scope="user/*.*"
    ),
    "privacy officer": dict(subject="po-1", role="R0001", organisation="F84001", scope="user/*.*"),
    "receptionist": dict(subject="recep-1", role="R8009", organisation="F84001", scope="user/*.*"),
    "citizen": dict(subject="chidi", role="citizen", scope="patient/*.*", patient=CHIDI),
    "steward without write scope": dict(
        subject="steward-2", role="R5110", organisation="RAL01", scope="user/PersonLink.read"
    ),
}


def test_other_roles_are_refused_and_every_refusal_is_audited(world: Harness) -> None:
    chidi = world.person_id(CHIDI)
    item = open_item(world)
    before = audit_count(world)
    calls = 0
    for name, claims in REQUESTERS.items():
        token = world.issuer.mint(**claims)
        with world.client(token) as client:
            answers = [
                client.post("/$review-decide", json=params(item=item.id, decision="link")),
                client.post(
                    f"/Patient/{chidi}/$unlink", json=params(node="south", local="s-chidi")
                ),
                client.post(f"/Patient/{chidi}/$link", json=params(node="east", local="e-chika")),
            ]
            if name != "steward without write scope":  # that one may read
                answers += [client.get("/$review-queue"), client.get(f"/Patient/{chidi}/$links")]
        calls += len(answers)
        for response in answers:
            assert response.status_code == 403, (name, response.request.url, response.text)
            assert response.json()["issue"][0]["code"] == "forbidden"
        with transaction(world.engine) as session:
            refused = (
                session.execute(
                    select(AuditRecord).where(AuditRecord.agent_subject == claims["subject"])
                )
                .scalars()
                .all()
            )
        assert len(refused) == len(answers) and {r.outcome for r in refused} == {"4"}
    with world.client() as client:
        assert client.get("/$review-queue").status_code == 401
    assert audit_count(world) == before + calls + 1
    # Nothing changed: the item is open, the records are where they were.
    assert open_item(world).id == item.id
    assert linked_locals(world, chidi) == ["n-chidi", "s-chidi"]
    # A refused attempt on a person's records shows in that person's access log.
    assert any(
        e["outcome"] == "4" and e["outcomeDesc"].startswith("$unlink") for e in events(world, chidi)
    )
    assert chain_ok(world)


BAD_DECISIONS = [
    ({"resourceType": "Patient"}, "body"),
    (params(decision="link"), "item"),
    (params(item=1), "decision"),
    (params(item=1, decision="merge"), "decision"),
    (params(item=0, decision="link"), "item"),
    (params(item="one", decision="link"), "item"),
    (params(item=2**40, decision="link"), "item"),
    ({"resourceType": "Parameters", "parameter": [
        {"name": "item", "valueInteger": 1}, {"name": "item", "valueInteger": 2},
        {"name": "decision", "valueCode": "link"}]}, "item"),
    ({"resourceType": "Parameters", "parameter": [{"valueString": "x"}]}, "parameter"),
]  # fmt: skip


def test_bad_parameters_are_400_naming_the_parameter_and_audited(world: Harness) -> None:
    chidi = world.person_id(CHIDI)
    before = audit_count(world)
    with world.client(steward(world)) as client:
        answers = [(client.post("/$review-decide", json=b), n) for b, n in BAD_DECISIONS]
        answers += [
            (client.post("/$review-decide", content=b"{not json"), "body"),
            (client.post(f"/Patient/{chidi}/$unlink", json=params(node="south")), "local"),
            (client.post(f"/Patient/{chidi}/$link", json=params(local="e-chika")), "node"),
            (
                client.post(
                    f"/Patient/{chidi}/$link", json=params(link=1, node="east", local="e-chika")
                ),
                "link",
            ),
            (
                client.post(f"/Patient/{chidi}/$link", json=params(node="ea\x00st", local="x")),
                "node",
            ),
            (client.get("/$review-queue", params={"_count": "0"}), "_count"),
            (client.get("/$review-queue", params={"_count": "lots"}), "_count"),
            (client.get("/$review-queue", params={"_offset": "-1"}), "_offset"),
            (client.get("/$review-queue", params={"status": "maybe"}), "status"),
        ]
        missing = [
            client.post("/$review-decide", json=params(item=999_999, decision="link")),
            client.post("/Patient/no-such-person/$unlink", json=params(node="south", local="x")),
            client.post(f"/Patient/{'x' * 80}/$link", json=params(node="south", local="s-chidi")),
            client.get("/Patient/no-such-person/$links"),
            client.post(f"/Patient/{chidi}/$link", json=params(node="south", local="nobody")),
        ]
    for response, name in answers:
        assert response.status_code == 400, (name, response.text)
        issue = response.json()["issue"][0]
        assert issue["expression"] == [name] and name in issue["diagnostics"]
    for response in missing:
        assert response.status_code == 404, response.text
        assert response.json()["issue"][0]["code"] == "not-found"
    assert audit_count(world) == before + len(answers) + len(missing)
    assert open_item(world).status == "open"
    assert chain_ok(world)


def test_the_queue_pages(engine: Engine) -> None:
    harness = Harness(
        engine,
        settings=ExchangeSettings(node_timeout_seconds=1.0, node_health_interval_seconds=0),
        scorer=FellegiSunterModel.default(),
    )
    numbers = generate_test_numbers(3, seed=43)
    north = harness.add_node("north")
    east = harness.add_node("east")
    for n, (number, family) in enumerate(zip(numbers, FAMILIES, strict=True)):
        born = f"1960-0{n + 1}-1{n}"
        north.store.add(patient(f"n{n}", number, family, "Chidi", birth_date=born))
        name = [{"use": "official", "family": family, "given": ["Chika"]}]
        east.store.add(_possible_match() | {"id": f"e{n}", "birthDate": born, "name": name})
    with harness, harness.client(steward(harness)) as client:
        pages = [
            client.get("/$review-queue", params={"_count": "2", "_offset": str(offset)})
            for offset in (0, 2, 4)
        ]
    bodies = [p.json()["parameter"] for p in pages]
    assert [value(b, "total") for b in bodies] == [3, 3, 3]
    assert [value(b, "count") for b in bodies] == [2, 1, 0]
    shown = [value(item, "local") for b in bodies for item in values(b, "item")]
    assert sorted(shown) == ["e0", "e1", "e2"]
    probabilities = [value(item, "probability") for item in values(bodies[0], "item")]
    assert probabilities == sorted(probabilities, reverse=True)


# --- generated requests against the stewardship operations, with a steward's token ---

PUBLISHED = create_app(ExchangeSettings(database_url="sqlite://")).openapi()
schema = schemathesis.openapi.from_dict(PUBLISHED).include(
    path_regex=r"\$(review-queue|review-decide|links|link|unlink)$"
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, str]]:
    folder: Path = tmp_path_factory.mktemp("stewardship-fuzz")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine,
        settings=ExchangeSettings(node_timeout_seconds=1.0, node_health_interval_seconds=0),
        scorer=FellegiSunterModel.default(),
    )
    harness.add_node("north").store.add(
        patient("n-chidi", CHIDI, "Okafor", "Chidi", birth_date="1971-03-09")
    )
    harness.add_node("east").store.add(_possible_match())
    with harness:
        yield harness, steward(harness)
    engine.dispose()


def test_the_operations_are_published() -> None:
    operations = {
        (method, path)
        for path, methods in PUBLISHED["paths"].items()
        for method in methods
        if "$" in path
    }
    assert {
        ("get", "/$review-queue"),
        ("post", "/$review-decide"),
        ("get", "/Patient/{person_id}/$links"),
        ("post", "/Patient/{person_id}/$link"),
        ("post", "/Patient/{person_id}/$unlink"),
    } <= operations
    body = PUBLISHED["paths"]["/$review-decide"]["post"]["requestBody"]
    assert "application/fhir+json" in body["content"]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_for_a_steward(
    case: schemathesis.Case, fuzzed: tuple[Harness, str]
) -> None:
    """Generated requests, as a steward so that generation reaches past the role check."""
    harness, token = fuzzed
    response = case.call(
        base_url=harness.exchange_url, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    with transaction(harness.engine) as session:
        assert audit.verify(session).ok
