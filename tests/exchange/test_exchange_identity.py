"""The enterprise person index, on SQLite and PostgreSQL, and the online scorer."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest
from exchange_support import NHS, patient, reference_path
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.federation import nodes
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.index import Demographics, are_twins, demographics_of
from healthycity.exchange.identity.matching import FellegiSunterModel, damerau_levenshtein
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.identity.similarity import jaro_winkler, levenshtein
from healthycity.exchange.models import Person, PersonLink, ReviewItem

A, B = generate_test_numbers(2, seed=3)


def _nodes(engine: Engine) -> None:
    with transaction(engine) as session:
        for name in ("north", "south", "east"):
            nodes.register_node(session, name=name, base_url=f"http://127.0.0.1:1/{name}")


def _index(engine: Engine, node: str, resource: dict[str, object]) -> identity.IndexOutcome:
    with transaction(engine) as session:
        row = next(n for n in nodes.all_nodes(session) if n.name == node)
        return identity.index_patient(session, row, resource, scorer=FellegiSunterModel.default())


def test_a_verified_nhs_number_links_deterministically(engine: Engine) -> None:
    _nodes(engine)
    first = _index(engine, "north", patient("n1", A, "Smith", "Alice"))
    # Different demographics, same verified number: still the same person.
    second = _index(engine, "south", patient("s1", A, "Smyth-Jones", "Ali", postcode="N1 9GU"))
    assert first.status == "new" and second.status == "linked-nhs-number"
    assert first.person_id == second.person_id
    again = _index(engine, "north", patient("n1", A, "Smith", "Alice"))
    assert again.status == "existing"
    with transaction(engine) as session:
        assert [local for _, local in identity.links_of(session, first.person_id)] == ["n1", "s1"]
        assert audit.verify(session).ok
        links = session.execute(select(func.count()).select_from(PersonLink)).scalar_one()
    assert links == 2


def test_an_invalid_or_unverified_number_is_not_trusted(engine: Engine) -> None:
    _nodes(engine)
    _index(engine, "north", patient("n1", A, "Smith", "Alice"))
    mistyped = A[:-1] + str((int(A[-1]) + 1) % 10)
    outcome = _index(
        engine, "south", patient("s1", mistyped, "Brown", "Zed", birth_date="1950-01-01")
    )
    assert outcome.status == "new"
    unverified = patient("e1", A, "Brown", "Zed", birth_date="1950-01-01")
    unverified["identifier"] = [
        {
            "system": NHS,
            "value": A,
            "extension": [
                {
                    "url": identity.VERIFICATION_EXTENSION,
                    "valueCodeableConcept": {"coding": [{"code": "02"}]},
                }
            ],
        }
    ]
    assert identity.verified_nhs_number(unverified) is None


def test_demographics_link_probabilistically_or_go_to_review(engine: Engine) -> None:
    _nodes(engine)
    base = _index(
        engine,
        "north",
        patient("n1", A, "Okafor", "Chidi", birth_date="1971-03-09", postcode="SE15 4QL"),
    )
    typo = _index(
        engine,
        "south",
        patient("s1", None, "Okafur", "Chidi", birth_date="1971-03-09", postcode="SE15 4QL"),
    )
    assert typo.status == "linked-probabilistic" and typo.person_id == base.person_id
    assert typo.probability is not None and typo.probability >= 0.95
    weak = _index(
        engine,
        "east",
        patient("e1", None, "Okafor", "Chidi", birth_date="1971-09-03", postcode="N7 6AA"),
    )
    assert weak.status in ("review", "new") and weak.person_id != base.person_id
    with transaction(engine) as session:
        items = session.execute(select(ReviewItem)).scalars().all()
        if weak.status == "review":
            assert items[0].candidate_person_id == base.person_id
            identity.decide_review(session, items[0].id, link=True, actor="reviewer-1")
    if weak.status == "review":
        with transaction(engine) as session:
            assert len(identity.links_of(session, base.person_id)) == 3
            assert audit.verify(session).ok


def test_twins_are_never_linked(engine: Engine) -> None:
    folder = reference_path("fhir_examples", "hl7_r4_examples")
    twins = [json.loads((folder / f"Patient-infant-twin-{n}.json").read_text()) for n in (1, 2)]
    a, b = (demographics_of(t) for t in twins)
    assert are_twins(a, b)
    assert FellegiSunterModel.default().probability(a, b) == 0.0
    _nodes(engine)
    first = _index(engine, "north", patient("t1", None, "Solo", "Jaina", birth_date="2017-05-15"))
    second = _index(engine, "south", patient("t2", None, "Solo", "Jacen", birth_date="2017-05-15"))
    assert first.person_id != second.person_id
    with transaction(engine) as session:
        assert session.execute(select(func.count()).select_from(ReviewItem)).scalar_one() == 0


def test_unlink_splits_a_record_off_and_is_audited(engine: Engine) -> None:
    _nodes(engine)
    first = _index(engine, "north", patient("n1", A, "Smith", "Alice"))
    _index(engine, "south", patient("s1", A, "Smith", "Alice"))
    with transaction(engine) as session:
        link = session.execute(select(PersonLink).where(PersonLink.local_id == "s1")).scalar_one()
        new_person = identity.unlink(session, link.id, actor="reviewer-2")
    with transaction(engine) as session:
        assert [local for _, local in identity.links_of(session, first.person_id)] == ["n1"]
        assert [local for _, local in identity.links_of(session, new_person)] == ["s1"]
        assert session.get(Person, new_person).nhs_number is None  # type: ignore[union-attr]
        actions = [e["outcomeDesc"] for e in audit.events_for_person(session, first.person_id)]
    assert any("split off" in a for a in actions)


def test_search_by_surname_and_birth_date(engine: Engine) -> None:
    _nodes(engine)
    _index(engine, "north", patient("n1", A, "O'Brien", "Siobhan", birth_date="1988-12-01"))
    _index(
        engine, "north", patient("n2", B, "OBrien", "Sean", birth_date="1988-12-01", gender="male")
    )
    with transaction(engine) as session:
        found = identity.search_persons(
            session, family="o'brien", birth_date=date(1988, 12, 1), given="Siobhan"
        )
    assert [p.given_name for p, _ in found] == ["Siobhan", "Sean"]
    assert found[0][1] == 1.0 and found[1][1] < 1.0


# --- the scorer ----------------------------------------------------------------------------


DUCK = duckdb.connect()
WORDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(WORDS, WORDS)
def test_jaro_winkler_agrees_with_duckdb(a: str, b: str) -> None:
    expected = DUCK.execute("select jaro_winkler_similarity(?, ?)", [a, b]).fetchall()[0]
    assert expected is not None
    assert jaro_winkler(a, b) == pytest.approx(expected[0], abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(WORDS, WORDS)
def test_bounded_levenshtein_agrees_with_duckdb(a: str, b: str) -> None:
    expected = DUCK.execute("select levenshtein(?, ?)", [a, b]).fetchall()[0]
    assert expected is not None
    assert levenshtein(a, b, 2) == min(expected[0], 3)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABC", max_size=8), st.text(alphabet="ABC", max_size=8))
def test_damerau_levenshtein_agrees_with_duckdb(a: str, b: str) -> None:
    # A three-letter alphabet makes repeated letters, where the unrestricted distance
    # and optimal string alignment part ("CA" to "ABC": 2 against 3).
    expected = DUCK.execute("select damerau_levenshtein(?, ?)", [a, b]).fetchall()[0]
    assert expected is not None
    assert damerau_levenshtein(a, b) == expected[0]


def test_twins_stay_apart_but_a_transposed_given_name_does_not_make_twins() -> None:
    """Twins agree on everything the looser levels reward (birth date, surname,
    address), so the twin rule, not the weights, keeps them apart; a given name with two
    letters transposed is one name mis-keyed and links."""
    model = FellegiSunterModel.default()

    def child(given_name: str) -> Demographics:
        return Demographics(
            given_name=given_name, family_name="SOLO", birth_date=date(2017, 5, 15),
            sex="female", postcode="SW1A1AA", address_line="1 HIGH STREET",
        )  # fmt: skip

    assert are_twins(child("JAINA"), child("JACEN"))
    assert model.probability(child("JAINA"), child("JACEN")) == 0.0
    assert not are_twins(child("JAINA"), child("JIANA"))
    assert model.probability(child("JAINA"), child("JIANA")) >= model.match_threshold


def test_scores_rank_sensibly() -> None:
    model = FellegiSunterModel.default()
    alice = Demographics(
        given_name="ALICE",
        family_name="SMITH",
        birth_date=date(1980, 4, 1),
        sex="female",
        postcode="E16AN",
    )
    typo = Demographics(
        given_name="ALICE",
        family_name="SMYTH",
        birth_date=date(1980, 4, 1),
        sex="female",
        postcode="E16AN",
    )
    moved = Demographics(
        given_name="ALICE",
        family_name="SMITH",
        birth_date=date(1980, 4, 1),
        sex="female",
        postcode="N79GU",
    )
    other = Demographics(
        given_name="BOB",
        family_name="JONES",
        birth_date=date(1961, 2, 3),
        sex="male",
        postcode="SW99ZZ",
    )
    assert model.probability(alice, typo) > 0.95
    assert model.probability(alice, moved) > model.probability(alice, other)
    assert model.probability(alice, other) < 0.01
    round_trip = FellegiSunterModel.from_json(model.to_json())
    assert round_trip.probability(alice, typo) == model.probability(alice, typo)


def test_the_index_keeps_town_email_and_phone_for_later_comparisons(engine: Engine) -> None:
    _nodes(engine)
    resource = patient("n9", None, "Okafor", "Ada") | {
        "telecom": [
            {"system": "email", "value": "Ada.Okafor@Example.org"},
            {"system": "phone", "value": "+44 20 7946 0958"},
        ],
        "address": [{"line": ["1 High St"], "city": "Hackney", "postalCode": "E8 1AA"}],
    }
    outcome = _index(engine, "north", resource)
    with transaction(engine) as session:
        person = session.get(Person, outcome.person_id)
        assert person is not None
        stored = identity.person_demographics(person)
    found = demographics_of(resource)
    assert (stored.town, stored.email, stored.phone) == (found.town, found.email, found.phone)
    assert stored.email and stored.phone and stored.town
