"""Patient search on the identity index, with the parameters PDQm and the NHS PDS FHIR
API offer: ``family``, ``given``, ``birthdate`` (with the prefixes eq, ge, le, gt, lt),
``gender``, ``address-postcode``, ``identifier`` (NHS number), and ``:exact`` on the
names.

String parameters follow FHIR R4 search.html#string: case-insensitive and matching the
start of the value (``family=smi`` finds Smith); ``:exact`` matches the whole value as
written. Punctuation and spaces in a family name are ignored (the index's family key),
and in a postcode too (the index's compact postcode).

Single parameters are allowed, as both PDQm and PDS allow them, except where they cannot
pick out a person: a search must name at least one of family, given, birthdate,
postcode or identifier (``gender`` alone is refused), and a search matching more people
than :attr:`ExchangeSettings.patient_search_max_matches` is refused (400) with an
OperationOutcome asking for more parameters, as PDS answers "too many matches", rather
than answered with an arbitrary page of strangers. Both refusals are audited.

Each match is scored (``entry.search.score``) with the exchange's record-linkage model
(:class:`~healthycity.exchange.identity.matching.FellegiSunterModel`, Fellegi and Sunter
1969): the sum of the m/u log-weights of the fields the searcher gave, against the
person's, as a probability at even prior odds. Even odds, not the model's population
prior: the question here is how well the person fits what was asked, not how likely a
random pair is to match. Then, as before, each match is checked against the role policy
and released through the person's consent before it is shown, and audited against the
person it discloses. A person restricted from address disclosure is never found by
postcode (that would disclose their postcode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.exchange.access.consent import Candidate, release
from healthycity.exchange.access.sensitivity import time_bounds
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.federation.fanout import searchset
from healthycity.exchange.gate import Gate, Reply, RequestInfo
from healthycity.exchange.identity.index import Demographics, family_key, person_demographics
from healthycity.exchange.identity.matching import FellegiSunterModel
from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM, validated
from healthycity.exchange.models import Person

PERSON_SYSTEM = "https://healthycity.invalid/Id/exchange-person"
#: What a Patient search may carry (``:exact`` on the two names).
PARAMETERS = ("identifier", "family", "given", "birthdate", "gender", "address-postcode")
BIRTHDATE_PREFIXES = ("eq", "ge", "le", "gt", "lt")
GENDERS = ("male", "female", "other", "unknown")
#: Parameters that can pick out a person on their own (gender cannot).
DISCRIMINATING = ("identifier", "family", "given", "birthdate", "address-postcode")


class TraceError(ValueError):
    """A Patient search that cannot be run as asked (answered 400, audited)."""


@dataclass(frozen=True, slots=True)
class Trace:
    """A parsed Patient search."""

    nhs_number: str | None = None
    family: str | None = None
    family_exact: bool = False
    given: str | None = None
    given_exact: bool = False
    born: tuple[str, date, date] | None = None  # (prefix, first day, last day)
    gender: str | None = None
    postcode: str | None = None

    def demographics(self) -> Demographics:
        """What was asked, as the linkage model compares it."""
        exact_day = self.born is not None and self.born[0] == "eq" and self.born[1] == self.born[2]
        return Demographics(
            nhs_number=self.nhs_number,
            family_name=self.family,
            given_name=self.given,
            birth_date=self.born[1] if self.born and exact_day else None,
            sex=self.gender,
            postcode=self.postcode,
        )


def parse_trace(items: list[tuple[str, str]]) -> Trace:
    """Read a Patient search's parameters; TraceError says what is wrong."""
    values: dict[str, str] = {}
    exact: set[str] = set()
    for raw, value in items:
        if raw in ("_format", "_pretty"):
            continue
        name, _, modifier = raw.partition(":")
        if name not in PARAMETERS:
            raise TraceError(
                f"search parameter {raw} is not supported on Patient (use {', '.join(PARAMETERS)})"
            )
        if modifier and not (modifier == "exact" and name in ("family", "given")):
            raise TraceError(f"modifier :{modifier} is not supported on {name}")
        if name in values:
            raise TraceError(f"{name} may be given once")
        if not value.strip():
            raise TraceError(f"{name} has no value")
        values[name] = value.strip()
        if modifier:
            exact.add(name)
    if not values:
        raise TraceError("a Patient search needs parameters: " + ", ".join(PARAMETERS))
    if not any(name in values for name in DISCRIMINATING):
        raise TraceError(
            "too broad: gender alone cannot pick out a person; add family, given, "
            "birthdate, address-postcode or identifier"
        )
    number = None
    if "identifier" in values:
        system, bar, given_number = values["identifier"].rpartition("|")
        if not bar or system != NHS_NUMBER_SYSTEM:
            raise TraceError(f"identifier must be {NHS_NUMBER_SYSTEM}|<NHS number>")
        number = validated(given_number)
        if number is None:
            raise TraceError("not a valid NHS number")
    gender = values.get("gender")
    if gender is not None and gender not in GENDERS:
        raise TraceError(f"gender must be one of {', '.join(GENDERS)}")
    postcode = values.get("address-postcode")
    return Trace(
        nhs_number=number,
        family=values.get("family"),
        family_exact="family" in exact,
        given=values.get("given"),
        given_exact="given" in exact,
        born=_birthdate(values["birthdate"]) if "birthdate" in values else None,
        gender=gender,
        postcode="".join(postcode.upper().split()) if postcode else None,
    )


def _birthdate(text: str) -> tuple[str, date, date]:
    prefix, when = (text[:2], text[2:]) if text[:2].isalpha() else ("eq", text)
    if prefix not in BIRTHDATE_PREFIXES:
        raise TraceError(
            f"prefix {prefix} is not supported on birthdate (use {', '.join(BIRTHDATE_PREFIXES)})"
        )
    if len(when) not in (4, 7, 10):
        raise TraceError(f"birthdate={text} must be YYYY, YYYY-MM or YYYY-MM-DD")
    try:
        low, high = time_bounds(when)
    except ValueError as error:
        raise TraceError(f"birthdate={text} is not a FHIR date") from error
    first = datetime.fromtimestamp(low + 43200, UTC).date()  # noon of the first day
    last = datetime.fromtimestamp(high - 43200, UTC).date()  # noon of the last day
    return prefix, first, last


def _like(text: str) -> str:
    """A LIKE prefix pattern matching ``text`` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def criteria(trace: Trace) -> list[ColumnElement[bool]]:
    """The search as SQL conditions on the index (each exactly the FHIR semantics, so
    counting the rows counts the matches)."""
    where: list[ColumnElement[bool]] = []
    if trace.nhs_number:
        where.append(Person.nhs_number == trace.nhs_number)
    if trace.family is not None:
        if trace.family_exact:
            where.append(Person.family_name == trace.family)
        else:
            key = family_key(trace.family)
            if key is None:
                raise TraceError("family has no letters")
            where.append(Person.family_key.like(_like(key), escape="\\"))
    if trace.given is not None:
        if trace.given_exact:
            where.append(Person.given_name == trace.given)
        else:
            where.append(
                func.upper(Person.given_name).like(_like(trace.given.upper()), escape="\\")
            )
    if trace.born is not None:
        prefix, first, last = trace.born
        where.append(
            {
                "eq": Person.birth_date.between(first, last),
                "ge": Person.birth_date >= first,
                "le": Person.birth_date <= last,
                "gt": Person.birth_date > last,
                "lt": Person.birth_date < first,
            }[prefix]
        )
    if trace.gender is not None:
        where.append(Person.sex == trace.gender)
    if trace.postcode is not None:
        where.append(Person.postcode.like(_like(trace.postcode), escape="\\"))
        where.append(Person.restricted.is_(False))
    return where


def find(
    session: Session, trace: Trace, *, limit: int, model: FellegiSunterModel
) -> list[tuple[Person, float]]:
    """The people matching ``trace``, best score first; TraceError when more than
    ``limit`` match (the search is too broad to answer)."""
    rows = (
        session.execute(select(Person).where(*criteria(trace)).order_by(Person.id).limit(limit + 1))
        .scalars()
        .all()
    )
    if len(rows) > limit:
        raise TraceError(
            f"too broad: more than {limit} people match; add parameters "
            "(birthdate, given, address-postcode) to narrow the search"
        )
    asked = trace.demographics()
    even = math.log2(model.prior / (1 - model.prior))
    scored = []
    for person in rows:
        weight = model.match_weight(asked, person_demographics(person)) - even
        score = 1.0 if weight > 60 else 2.0**weight / (1 + 2.0**weight)
        scored.append((person, score))
    scored.sort(key=lambda pair: (-pair[1], pair[0].id))
    return scored


class PatientSearch(Gate):
    """``GET /Patient`` by demographics on the index, released through consent."""

    model: FellegiSunterModel | None = None

    async def search_patients(self, info: RequestInfo, trace: Trace) -> Reply:
        now = self.clock()
        action = "search Patient (demographics)"
        model = self.model or FellegiSunterModel.default()

        def run() -> Reply:
            try:
                with transaction(self.engine) as session:
                    found = find(
                        session, trace, limit=self.settings.patient_search_max_matches, model=model
                    )
                    return self._released(session, info, found, now)
            except TraceError as error:
                return self.record_refusal(
                    info, interaction="search-type", action=action, status=400, reason=str(error)
                )

        return await to_thread.run_sync(run)

    def _released(
        self, session: Session, info: RequestInfo, found: list[tuple[Person, float]], now: datetime
    ) -> Reply:
        """The matches this requester may see, each audited against its person."""
        principal = info.principal
        action = "search Patient (demographics)"
        entries: list[tuple[dict[str, Any], str]] = []
        scores: dict[int, float] = {}
        for person, score in found:
            grounds = self._grounds(session, principal, person.id, now)
            if grounds is None:
                continue
            decision = self._decisions(principal, ["Patient"], grounds)["Patient"]
            if not decision.allowed:
                continue
            summary = self.index_patient(person)
            released = release(
                self._session(principal, grounds, now),
                [Candidate(summary, self.base_url or "urn:healthycity:exchange")],
                self.classifier,
            )
            if not released.resources:
                continue
            scores[len(entries)] = score
            entries.append(released.resources[0])
            entry = self._entry(
                info,
                interaction="search-type",
                action=action,
                outcome="0",
                desc=f"match score {score:.2f}",
                person_id=person.id,
            )
            entry.returned = {"Patient": 1}
            audit.append(session, entry, now=now)
        if not entries:
            entry = self._entry(
                info, interaction="search-type", action=action, outcome="0", desc="no match shown"
            )
            entry.withheld = len(found)
            audit.append(session, entry, now=now)
        base = self.base_url or info.base
        shown = [(resource, base or origin) for resource, origin in entries]
        return Reply(200, searchset(shown, [], self_link=self._self(info), scores=scores))

    def index_patient(self, person: Person) -> dict[str, Any]:
        """The person as the index knows them (no node record is read for a search)."""
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": person.id,
            "meta": {"source": self.base_url or "urn:healthycity:exchange"},
            "identifier": [{"system": PERSON_SYSTEM, "value": person.id}],
        }
        if person.nhs_number:
            patient["identifier"].append({"system": NHS_NUMBER_SYSTEM, "value": person.nhs_number})
        name: dict[str, Any] = {}
        if person.family_name:
            name["family"] = person.family_name
        if person.given_name:
            name["given"] = [person.given_name]
        if name:
            patient["name"] = [name]
        if person.birth_date:
            patient["birthDate"] = person.birth_date.isoformat()
        if person.sex:
            patient["gender"] = person.sex
        if person.postcode and not person.restricted:
            patient["address"] = [{"postalCode": person.postcode}]
        if person.restricted:
            patient["meta"]["security"] = [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
            ]
        return patient
