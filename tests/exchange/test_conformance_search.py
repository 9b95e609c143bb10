"""Search as the CapabilityStatement declares it, and paging (issue 18, items 2 and 3).

Every parameter the exchange accepts is applied or said not to be: token and date
filters narrow the result, controls shape it, an unsupported parameter is refused under
``Prefer: handling=strict`` or reported (never echoed in ``self``). Pages come with
opaque, signed, expiring links; ``_count=0`` answers the total alone; ``$everything`` is
paged too. Consent stays ahead of all of it: a withheld record is in no page or total.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from exchange_support import LOINC, SCT, coded, ordinary_record, patient, sensitive_record

from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.settings import ExchangeSettings

ALICE, BOB = generate_test_numbers(2, seed=182)
HIV_LABEL = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}
WITHHOLD_HIV = {
    "resourceType": "Consent",
    "status": "active",
    "scope": {"coding": [{"code": "patient-privacy"}]},
    "provision": {"type": "permit", "provision": [{"type": "deny", "securityLabel": [HIV_LABEL]}]},
}


def readings(prefix: str, patient_id: str, count: int) -> list[dict[str, Any]]:
    """Blood pressures a month apart through 2024 (dated, for date search and sort)."""
    return [
        {
            "resourceType": "Observation",
            "id": f"{prefix}-bp-{n:02d}",
            "status": "final",
            "code": coded(LOINC, "85354-9"),
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": f"2024-{n + 1:02d}-15T09:00:00Z",
        }
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("conformance-search")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=2.0, node_health_interval_seconds=0)
    )
    north = harness.add_node("north")
    north.store.add_all(
        [
            patient("a", ALICE, "Smith", "Alice"),
            *ordinary_record("a", "a"),
            *readings("a", "a", 7),
            {
                "resourceType": "Condition",
                "id": "a-asthma",
                "subject": {"reference": "Patient/a"},
                "code": coded(SCT, "195967001"),
                "onsetDateTime": "2019-03-01",
            },
            patient("b", BOB, "Jones", "Bob"),
            *sensitive_record("b", "b"),
            *ordinary_record("b", "b"),
        ]
    )
    south = harness.add_node("south")  # a second record for Alice
    south.store.add_all([patient("s", ALICE, "Smith", "Alice"), *readings("s", "s", 3)])
    with harness:
        harness.relate(ALICE, "gp", "F84001")
        harness.relate(BOB, "gp", "F84001")
        harness.consent(BOB, WITHHOLD_HIV)
        yield harness
    engine.dispose()


def gp(world: Harness, subject: str = "dr-gp") -> httpx.Client:
    return world.client(world.issuer.mint(subject=subject, role="R8000", organisation="F84001"))


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def outcome(bundle: dict[str, Any]) -> list[str]:
    return [
        issue["diagnostics"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "outcome"
        for issue in e["resource"]["issue"]
    ]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)


def test_a_token_search_returns_only_that_code(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:
        for code in (f"{SCT}|44054006", "44054006", f"{SCT}|44054006,{SCT}|1"):
            bundle = client.get("/Condition", params={"patient": alice, "code": code}).json()
            assert [r["id"] for r in matches(bundle)] == ["a-diabetes"]
            assert bundle["total"] == 1
            assert parse_qs(urlsplit(link(bundle, "self") or "").query)["code"] == [code]
        none = client.get("/Condition", params={"patient": alice, "code": "http://x|44054006"})
        assert none.json()["total"] == 0
        both = client.get("/Condition", params={"patient": alice, "code": "44054006,195967001"})
        assert {r["id"] for r in matches(both.json())} == {"a-diabetes", "a-asthma"}


def test_date_prefixes_and_sort(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:

        def ids(**params: str) -> list[str]:
            got = client.get("/Observation", params={"patient": alice, **params})
            assert got.status_code == 200, got.text
            return [r["id"] for r in matches(got.json())]

        assert set(ids(date="2024-03", code=f"{LOINC}|85354-9")) == {"a-bp-02", "s-bp-02"}
        assert set(ids(date="ge2024-06-01")) == {"a-bp-05", "a-bp-06"}
        assert set(ids(date="lt2024-02-01")) == {"a-bp-00", "s-bp-00"}
        assert set(ids(date=["ge2024-02-01", "le2024-03-31"])) == {  # type: ignore[arg-type]
            "a-bp-01",
            "a-bp-02",
            "s-bp-01",
            "s-bp-02",
        }
        ordered = ids(_sort="-date", date="gt2023")
        assert ordered[:2] == ["a-bp-06", "a-bp-05"]
        assert ordered[-1] in ("a-bp-00", "s-bp-00")
        bad = client.get("/Observation", params={"patient": alice, "date": "ge2024-13-45"})
        assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def test_unsupported_parameters_are_reported_or_refused_never_echoed(world: Harness) -> None:
    alice = world.person_id(ALICE)
    params = {"patient": alice, "code": "44054006", "_has:Observation:x": "y", "flavour": "z"}
    with gp(world) as client:
        bundle = client.get("/Condition", params=params).json()
        self_link = link(bundle, "self") or ""
        assert "flavour" not in self_link and "_has" not in self_link and "code=" in self_link
        notes = outcome(bundle)
        assert any("flavour" in n for n in notes) and any("_has" in n for n in notes)
        assert [r["id"] for r in matches(bundle)] == ["a-diabetes"]
        strict = client.get("/Condition", params=params, headers={"Prefer": "handling=strict"})
        assert strict.status_code == 400 and "not supported" in strict.text
        modifier = client.get(
            "/Condition",
            params={"patient": alice, "code:text": "diabetes"},
            headers={"Prefer": "handling=strict"},
        )
        assert modifier.status_code == 400


def test_count_zero_and_summary_count_give_the_total_alone(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:
        full = client.get("/Observation", params={"patient": alice, "_count": "100"}).json()
        for control in ({"_count": "0"}, {"_summary": "count"}):
            only = client.get("/Observation", params={"patient": alice, **control}).json()
            assert only["total"] == full["total"] == len(matches(full)) == 11
            assert matches(only) == []


def test_elements_and_summary_shape_what_is_returned(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:
        bundle = client.get(
            "/Observation", params={"patient": alice, "_elements": "code,effective"}
        ).json()
        for resource in matches(bundle):
            assert set(resource) <= {"resourceType", "id", "meta", "code", "effectiveDateTime"}
            assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])
        summary = client.get("/Condition", params={"patient": alice, "_summary": "true"}).json()
        assert all("code" in r and "subject" in r for r in matches(summary))


def test_paging_with_opaque_signed_links(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:
        first = client.get(
            "/Observation", params={"patient": alice, "_count": "4", "code": f"{LOINC}|85354-9"}
        ).json()
        assert first["total"] == 11 and len(matches(first)) == 4  # 7 + 3 readings, 1 more
        seen = [r["id"] for r in matches(first)]
        page, pages = first, 1
        while (following := link(page, "next")) is not None:
            assert (
                alice not in following and "85354" not in following and "patient" not in following
            )
            assert set(parse_qs(urlsplit(following).query)) == {"_cursor"}
            page = client.get(following).json()
            assert page["total"] == 11
            seen += [r["id"] for r in matches(page)]
            pages += 1
            assert link(page, "previous") and link(page, "first")
        assert pages == 3 and len(seen) == len(set(seen)) == 11
        back = client.get(link(page, "previous") or "").json()
        assert [r["id"] for r in matches(back)] == seen[4:8]
        assert set(seen) == {
            r["id"]
            for r in matches(
                client.get(
                    "/Observation", params={"patient": alice, "code": f"{LOINC}|85354-9"}
                ).json()
            )
        }
        cursor = parse_qs(urlsplit(link(first, "next") or "").query)["_cursor"][0]
        forged = cursor[:-6] + ("AAAAAA" if not cursor.endswith("AAAAAA") else "BBBBBB")
        assert client.get("/Observation", params={"_cursor": forged}).status_code == 400
    with gp(world, "another-clinician") as other:  # someone else's link
        assert other.get(link(first, "next") or "").status_code == 400
    world.now = world.clock() + timedelta(hours=2)
    try:
        with gp(world) as client:
            assert client.get(link(first, "next") or "").status_code == 400  # expired
    finally:
        world.now = None


def test_page_size_default_and_maximum(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:
        big = client.get("/Observation", params={"patient": alice, "_count": "100000"}).json()
    assert "_count=500" in (link(big, "self") or "")
    assert any("_count=100000" in n for n in outcome(big))


def test_everything_is_paged_with_its_parameters(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with gp(world) as client:
        whole = client.get(f"/Patient/{alice}/$everything", params={"_count": "500"}).json()
        first = matches(whole)[0]
        assert first["resourceType"] == "Patient" and first["id"] == alice
        others = [r for r in matches(whole)[1:] if r["resourceType"] == "Patient"]
        assert {r["id"] for r in others} == {"a", "s"}  # the node records follow it
        assert all(
            r["subject"]["reference"] == f"Patient/{alice}"
            for r in matches(whole)
            if "subject" in r
        )
        page = client.get(f"/Patient/{alice}/$everything", params={"_count": "5"}).json()
        assert page["total"] == whole["total"] and len(matches(page)) == 5
        collected = [r["id"] for r in matches(page)]
        while (following := link(page, "next")) is not None:
            page = client.get(following).json()
            collected += [r["id"] for r in matches(page)]
        assert collected == [r["id"] for r in matches(whole)]
        typed = client.get(
            f"/Patient/{alice}/$everything", params={"_type": "Condition,Observation"}
        ).json()
        assert {r["resourceType"] for r in matches(typed)} == {"Condition", "Observation"}
        ranged = client.get(
            f"/Patient/{alice}/$everything",
            params={"start": "2024-02-01", "end": "2024-03-31", "_type": "Observation"},
        ).json()
        assert {r["id"] for r in matches(ranged)} >= {"a-bp-01", "a-bp-02", "s-bp-01"}
        assert "a-bp-05" not in {r["id"] for r in matches(ranged)}
        posted = client.post(
            f"/Patient/{alice}/$everything",
            json={
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "_type", "valueString": "Condition"},
                    {"name": "_count", "valueInteger": 1},
                ],
            },
        ).json()
        assert posted["total"] == 2 and len(matches(posted)) == 1 and link(posted, "next")
        since = client.get(
            f"/Patient/{alice}/$everything", params={"_since": "2999-01-01T00:00:00Z"}
        ).json()
        assert since["total"] == 0


def test_no_search_reveals_a_withheld_record(world: Harness) -> None:
    bob = world.person_id(BOB)
    with gp(world) as client:
        for params in (
            {"code": f"{SCT}|86406008"},
            {"code": "86406008", "_count": "0"},
            {"_summary": "count", "code": "86406008"},
            {"_id": "b-hiv"},
        ):
            bundle = client.get("/Condition", params={"patient": bob, **params}).json()
            assert bundle["total"] == 0 and matches(bundle) == []
        shown = client.get("/Condition", params={"patient": bob, "_count": "0"}).json()
        assert shown["total"] == 1  # the diabetes diagnosis; the HIV one is not counted
        everything = client.get(f"/Patient/{bob}/$everything", params={"_count": "0"}).json()
        listed = client.get(f"/Patient/{bob}/$everything", params={"_count": "500"}).json()
        assert everything["total"] == len(matches(listed))
        assert not {"b-hiv", "b-hiv-visit", "b-viral-load"} & {r["id"] for r in matches(listed)}


def test_the_capability_statement_declares_what_search_applies() -> None:
    """A client reads the CapabilityStatement to know what it may ask: every parameter
    the search applies for a type is declared there with its type, and nothing more."""
    from healthycity.exchange.api import capability_statement
    from healthycity.exchange.search import declared

    resources = capability_statement("http://exchange.test/fhir")["rest"][0]["resource"]
    seen = 0
    for resource in resources:
        if resource["type"] in ("Patient", "Consent", "Binary"):
            continue
        wanted = {(p.name, p.type) for p in declared(resource["type"]).values()}
        assert {(p["name"], p["type"]) for p in resource["searchParam"]} == wanted
        assert ("patient", "reference") in wanted and len(wanted) > 1
        seen += 1
    assert seen >= 8
