"""Demo population: Synthea patients made to look like a London city's local exchanges.

Synthea is American: social security numbers, US addresses, digits on names. The demo
maps each person to a London-like identity (an NHS number from the test range, a London
postcode, names without digits), gives their whole record to a "home" node, and scatters
partial copies across other nodes with the identity damage real local systems show:
typos in surnames, a move to a new address, a missing NHS number, a mis-keyed one. The
enterprise index then has real work to do, and the truth (the Synthea id) is known.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from healthycity.exchange.dev.testserver import FhirStore, bundle_resources, read_ndjson
from healthycity.exchange.identity import nhsnumber
from healthycity.exchange.identity.index import VERIFICATION_EXTENSION

LONDON_DISTRICTS = (
    "E1", "E2", "E3", "E8", "E14", "E17", "N1", "N7", "N15", "N16", "NW1", "NW5", "NW10",
    "SE1", "SE5", "SE10", "SE15", "SW2", "SW9", "SW11", "SW19", "W2", "W10", "W12", "EC1A",
    "WC1E", "HA0", "CR0", "BR1", "IG1", "RM1", "TW3", "UB1", "EN1", "KT1", "DA1",
)  # fmt: skip
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_DIGITS = re.compile(r"\d+")
_DROPPED_IDENTIFIERS = ("us-ssn", "DL", "PPN", "SS")


def london_postcode(rng: random.Random) -> str:
    district = rng.choice(LONDON_DISTRICTS)
    unit = rng.choice(_UNIT_LETTERS) + rng.choice(_UNIT_LETTERS)
    return f"{district} {rng.randint(1, 9)}{unit}"


def _strip_digits(value: str) -> str:
    return _DIGITS.sub("", value).strip()


def londonise(patient: dict[str, Any], number: str, rng: random.Random) -> dict[str, Any]:
    """The patient with an NHS number (verified), London address, names without digits."""
    out = dict(patient)
    kept = [
        i
        for i in patient.get("identifier", [])
        if not any(
            code in str(i.get("system", "")) or code in orjson.dumps(i.get("type", {})).decode()
            for code in _DROPPED_IDENTIFIERS
        )
    ]
    kept.append(
        {
            "system": nhsnumber.NHS_NUMBER_SYSTEM,
            "value": number,
            "extension": [
                {
                    "url": VERIFICATION_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                "code": "01",
                            }
                        ]
                    },
                }
            ],
        }
    )
    out["identifier"] = kept
    out["name"] = [
        {
            **name,
            "family": _strip_digits(str(name.get("family", ""))),
            "given": [_strip_digits(str(g)) for g in name.get("given", [])],
        }
        for name in patient.get("name", [])
    ]
    addresses = patient.get("address") or [{}]
    out["address"] = [
        {
            "use": "home",
            "line": addresses[0].get("line", ["1 High Street"]),
            "city": "London",
            "postalCode": london_postcode(rng),
            "country": "GB",
        }
    ]
    out.pop("text", None)
    return out


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word + "e"
    i = rng.randrange(1, len(word) - 1)
    choice = rng.random()
    if choice < 0.4:
        return word[:i] + word[i + 1 :]  # a dropped letter
    if choice < 0.7:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swapped letters
    return word[:i] + rng.choice("aeiou") + word[i + 1 :]  # a wrong vowel


def perturb(patient: dict[str, Any], kind: str, rng: random.Random) -> dict[str, Any]:
    """A local system's damaged copy of a patient's identity."""
    out = dict(patient)
    if kind == "typo":
        out["name"] = [
            {**n, "family": _typo(str(n.get("family", "")), rng)} for n in patient["name"]
        ]
    elif kind == "moved":
        out["address"] = [
            {
                **patient["address"][0],
                "line": [f"{rng.randint(1, 200)} New Road"],
                "postalCode": london_postcode(rng),
            }
        ]
    elif kind == "dob" and isinstance(patient.get("birthDate"), str):
        year, month, day = patient["birthDate"].split("-")
        if int(day) <= 12 and day != month:
            out["birthDate"] = f"{year}-{day}-{month}"  # day and month swapped
        else:
            out["birthDate"] = f"{year}-{month}-{(int(day) % 28) + 1:02d}"  # a mis-keyed day
    elif kind == "no-number":
        out["identifier"] = [
            i for i in patient["identifier"] if i.get("system") != nhsnumber.NHS_NUMBER_SYSTEM
        ]
    elif kind == "bad-number":
        out["identifier"] = [
            {
                "system": nhsnumber.NHS_NUMBER_SYSTEM,
                "value": nhsnumber.corrupt(str(i["value"]), rng),
            }
            if i.get("system") == nhsnumber.NHS_NUMBER_SYSTEM
            else i
            for i in patient["identifier"]
        ]
    return out


def practice_code(home: int) -> str:
    """The made-up ODS code of the GP practice that node ``home``'s patients are
    registered with (F80000, F80001, ...)."""
    return f"F8{home:04d}"


def registered_practice(ods_code: str) -> dict[str, Any]:
    """A ``Patient.generalPractitioner`` entry as PDS writes it: a logical reference by
    ODS code (the exchange derives the person's GP relationship from it)."""
    return {
        "type": "Organization",
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": ods_code},
    }


def _relink(resource: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The resource with references to Patient/old pointing at Patient/new."""
    text = orjson.dumps(resource).replace(f'"Patient/{old}"'.encode(), f'"Patient/{new}"'.encode())
    result: dict[str, Any] = orjson.loads(text)
    return result


@dataclass
class Person:
    """One Synthea person: their Patient and everything in their compartment."""

    patient: dict[str, Any]
    resources: list[dict[str, Any]] = field(default_factory=list)


def load_people(folder: Path) -> list[Person]:
    """People from a folder of Synthea output (bulk NDJSON files and/or Bundles)."""
    resources: list[dict[str, Any]] = []
    paths = sorted(folder.iterdir()) if folder.is_dir() else [folder]
    for path in paths:
        if path.suffix == ".ndjson":
            resources.extend(r for r in read_ndjson(path) if "resourceType" in r and "id" in r)
        elif path.suffix == ".json":
            data = orjson.loads(path.read_bytes())
            if data.get("resourceType") == "Bundle":
                resources.extend(bundle_resources(data))
    people: dict[str, Person] = {
        str(r["id"]): Person(r) for r in resources if r["resourceType"] == "Patient"
    }
    shared = FhirStore()
    for resource in resources:
        if resource["resourceType"] != "Patient":
            shared.add(resource)
    for patient_id, person in people.items():
        person.resources = shared.compartment(patient_id)
    return list(people.values())


@dataclass
class Population:
    """Node stores, plus the truth: which local patient ids are the same person."""

    stores: list[FhirStore]
    truth: dict[tuple[int, str], str]  # (node index, local patient id) -> Synthea id
    numbers: dict[str, str]  # Synthea id -> NHS number
    home: dict[str, int]  # Synthea id -> home node index


def build_population(
    people: Sequence[Person],
    nodes: int,
    *,
    seed: int = 0,
    copies: float = 0.6,
    share: float = 0.3,
) -> Population:
    """Spread ``people`` over ``nodes`` stores with perturbed identities."""
    rng = random.Random(seed)
    numbers = nhsnumber.generate_test_numbers(len(people), seed=seed)
    stores = [FhirStore() for _ in range(nodes)]
    truth: dict[tuple[int, str], str] = {}
    assigned: dict[str, str] = {}
    home_of: dict[str, int] = {}
    for index, person in enumerate(people):
        source_id = str(person.patient["id"])
        number = numbers[index]
        assigned[source_id] = number
        patient = londonise(person.patient, number, rng)
        home = index % nodes
        patient["generalPractitioner"] = [registered_practice(practice_code(home))]
        home_of[source_id] = home
        stores[home].add(patient)
        stores[home].add_all(person.resources)
        truth[(home, source_id)] = source_id
        if nodes == 1:
            continue
        others = [n for n in range(nodes) if n != home]
        extra = (
            rng.sample(others, k=min(len(others), rng.choice((1, 1, 2))))
            if rng.random() < copies
            else []
        )
        for node in extra:
            local = f"n{node}-{source_id}"
            kind = rng.choice(("clean", "typo", "moved", "dob", "no-number", "bad-number"))
            copy = perturb(patient, kind, rng) | {"id": local}
            stores[node].add(copy)
            truth[(node, local)] = source_id
            for resource in person.resources:
                if rng.random() < share:
                    stores[node].add(_relink(resource, source_id, local))
    return Population(stores, truth, assigned, home_of)


def iter_patients(stores: Iterable[FhirStore]) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, store in enumerate(stores):
        for patient in store.patients():
            yield index, patient


_GIVEN = (
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Ewa",
    "Femi",
    "Grace",
    "Hamza",
    "Isla",
    "Jun",
    "Kofi",
    "Lena",
    "Malik",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
)
_FAMILY = (
    "Adeyemi",
    "Brown",
    "Chen",
    "Davies",
    "Evans",
    "Fernandes",
    "Green",
    "Hussain",
    "Ibrahim",
    "Jones",
    "Khan",
    "Lewis",
    "Mensah",
    "Nowak",
    "Okafor",
    "Patel",
)
_SCT = "http://snomed.info/sct"


def synthetic_people(count: int, *, seed: int = 0) -> list[Person]:
    """A small made-up population for a demo without Synthea data: each person has a
    diagnosis, a blood pressure, a prescription and (for some) an HIV diagnosis, so
    consent withholding has something to withhold."""
    rng = random.Random(seed)
    people: list[Person] = []
    for index in range(count):
        pid = f"demo-{index:04d}"
        subject = {"reference": f"Patient/{pid}"}
        patient = {
            "resourceType": "Patient",
            "id": pid,
            "name": [
                {"use": "official", "family": rng.choice(_FAMILY), "given": [rng.choice(_GIVEN)]}
            ],
            "gender": rng.choice(("female", "male")),
            "birthDate": date(
                rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28)
            ).isoformat(),
            "address": [{"line": [f"{rng.randint(1, 300)} {rng.choice(_FAMILY)} Road"]}],
        }
        resources: list[dict[str, Any]] = [
            {
                "resourceType": "Condition",
                "id": f"{pid}-c1",
                "subject": subject,
                "code": {
                    "coding": [{"system": _SCT, "code": "44054006"}],
                    "text": "Type 2 diabetes",
                },
            },
            {
                "resourceType": "Observation",
                "id": f"{pid}-o1",
                "status": "final",
                "subject": subject,
                "code": {
                    "coding": [{"system": "http://loinc.org", "code": "85354-9"}],
                    "text": "Blood pressure",
                },
            },
            {
                "resourceType": "MedicationRequest",
                "id": f"{pid}-m1",
                "status": "active",
                "intent": "order",
                "subject": subject,
                "medicationCodeableConcept": {"text": "Metformin"},
            },
        ]
        if index % 5 == 0:
            resources.append(
                {
                    "resourceType": "Condition",
                    "id": f"{pid}-c2",
                    "subject": subject,
                    "code": {
                        "coding": [{"system": _SCT, "code": "86406008"}],
                        "text": "HIV infection",
                    },
                }
            )
        people.append(Person(patient, resources))
    return people
