"""The citizen's Consents over their life: record, read, search and supersede.

A citizen states their sharing wishes as FHIR Consent resources. The *latest* active
patient-privacy Consent is their current statement and the only one that decides
(:func:`~healthycity.exchange.access.grounds.load_facts`): recording a new active one
supersedes (sets ``inactive``) the earlier active ones of the same scope, and an
active one can be withdrawn (``PUT`` with ``status: inactive``), so an opt-out can be
reversed. What a Consent says is never changed in place: only its status moves, and a
different wish is a new Consent, so the history a citizen (or a privacy officer) reads
is the history that applied.

Consents say what a citizen withholds, so they are record-keeping types in the access
policy: only the citizen themself and privacy officers may read them. Every call,
allowed or refused, is audited; a change in the transaction that makes it.

The person may be named by the exchange's Patient id (``Patient/{id}``) or by NHS
number (``patient.identifier`` with the NHS number system, or the search parameter
``patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{n}``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.exchange.access.consent import ConsentFormatError, compile_consent
from healthycity.exchange.access.policy import decide
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.federation.fanout import searchset
from healthycity.exchange.fhirhttp import Authenticate, to_response
from healthycity.exchange.gate import Gate, Reply, RequestInfo
from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM, validated
from healthycity.exchange.models import ConsentRecord, ConsentVersion, Person

PRIVACY = "patient-privacy"
#: Statuses a Consent may be moved to by ``PUT`` (FHIR R4 consent-state-codes).
STATUSES = ("draft", "proposed", "active", "rejected", "inactive", "entered-in-error")
ID_PREFIX = "consent-"
#: FHIR R4 consent-scope codes (a required binding on ``Consent.scope``).
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
SCOPES = ("adr", "research", "patient-privacy", "treatment")
#: ``Consent.provision.type`` (consent-provision-type, required binding).
PROVISION_TYPES = ("deny", "permit")


class BadRequest(ValueError):
    """A Consent request that cannot be understood (answered 400)."""


def person_for(session: Session, patient: Mapping[str, Any] | str) -> str | None:
    """The exchange's person id for a Consent's ``patient`` (a Reference) or a search's
    ``patient`` value: ``Patient/{id}``, ``{id}``, an NHS-number identifier, or
    ``Patient?identifier=system|n``. None when nobody matches; BadRequest when the value
    names a person in no way the exchange understands."""
    if isinstance(patient, str):
        reference: str = patient
        identifier: Mapping[str, Any] | None = None
    else:
        reference = str(patient.get("reference") or "")
        raw = patient.get("identifier")
        identifier = raw if isinstance(raw, Mapping) else None
    if reference.startswith("Patient?identifier="):
        system, _, value = reference.removeprefix("Patient?identifier=").rpartition("|")
        identifier = {"system": system, "value": value}
        reference = ""
    if reference:
        person_id = reference.removeprefix("Patient/")
        if "/" in person_id or not person_id or len(person_id) > 64:
            raise BadRequest("patient must be Patient/{id} or an NHS number identifier")
        found = session.execute(select(Person.id).where(Person.id == person_id)).scalar()
        return None if found is None else str(found)
    if identifier is not None:
        return _by_nhs_number(session, f"{identifier.get('system')}|{identifier.get('value')}")
    raise BadRequest("patient must be Patient/{id} or an NHS number identifier")


def _by_nhs_number(session: Session, token: str) -> str | None:
    system, bar, value = token.rpartition("|")
    if not bar or system != NHS_NUMBER_SYSTEM:
        raise BadRequest(f"identifier must be {NHS_NUMBER_SYSTEM}|<NHS number>")
    number = validated(value)
    if number is None:
        raise BadRequest("not a valid NHS number")
    found = session.execute(select(Person.id).where(Person.nhs_number == number)).scalar()
    return None if found is None else str(found)


def scope_of(resource: Mapping[str, Any]) -> str:
    """Which statement series a Consent belongs to: privacy unless it says otherwise."""
    codes = sorted(
        str(coding.get("code"))
        for coding in ((resource.get("scope") or {}).get("coding") or [])
        if isinstance(coding, Mapping)
    )
    return PRIVACY if not codes or PRIVACY in codes else " ".join(codes)


def _record_id(consent_id: str) -> int | None:
    number = consent_id.removeprefix(ID_PREFIX)
    if not consent_id.startswith(ID_PREFIX) or not number.isdigit() or len(number) > 12:
        return None
    return int(number)


def _same_statement(stored: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether two Consents say the same thing, status and bookkeeping aside."""
    ignored = {"status", "meta", "id", "text"}
    return {k: v for k, v in stored.items() if k not in ignored} == {
        k: v for k, v in sent.items() if k not in ignored
    }


def rules_problem(resource: Mapping[str, Any]) -> str | None:
    """What breaks R4's rules for a Consent that the model does not check: the required
    elements (``status``, ``scope``, at least one ``category``) and the required value
    sets (consent-state-codes, consent-scope, consent-provision-type). Answered 422."""
    status = resource.get("status")
    if status not in STATUSES:
        return f"Consent.status must be one of {', '.join(STATUSES)} (got {status!r})"
    scope = resource.get("scope")
    codings = scope.get("coding") if isinstance(scope, Mapping) else None
    if not isinstance(codings, list) or not codings:
        return "Consent.scope is required (a consent-scope code such as patient-privacy)"
    for coding in codings:
        if not isinstance(coding, Mapping) or coding.get("code") not in SCOPES:
            return f"Consent.scope must be one of {', '.join(SCOPES)}"
        if coding.get("system", SCOPE_SYSTEM) != SCOPE_SYSTEM:
            return f"Consent.scope codes come from {SCOPE_SYSTEM}"
    categories = resource.get("category")
    if not isinstance(categories, list) or not categories:
        return "Consent.category is required (at least one, e.g. LOINC 59284-0)"
    if not all(isinstance(c, Mapping) and (c.get("coding") or c.get("text")) for c in categories):
        return "every Consent.category needs a coding or text"
    pending = [resource.get("provision")]
    while pending:
        provision = pending.pop()
        if not isinstance(provision, Mapping):
            continue
        kind = provision.get("type")
        if kind is not None and kind not in PROVISION_TYPES:
            return f"Consent.provision.type must be deny or permit (got {kind!r})"
        pending.extend(provision.get("provision") or [])
    return None


def versioned(resource: Mapping[str, Any], version: int, moment: datetime) -> dict[str, Any]:
    """The resource with ``meta.versionId`` and ``meta.lastUpdated`` set."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    return dict(resource) | {"meta": meta}


def version_of(resource: Mapping[str, Any]) -> int:
    raw = str((resource.get("meta") or {}).get("versionId") or "1")
    return int(raw) if raw.isdigit() else 1


class ConsentOperations(Gate):
    """Consent reads and writes, decided by the role policy and audited like any read."""

    def _consent_problem(self, resource: Mapping[str, Any]) -> str | None:
        if resource.get("resourceType") != "Consent":
            return "the body must be a Consent"
        if not isinstance(resource.get("patient"), Mapping):
            return "Consent.patient must reference Patient/{id} or carry an NHS number"
        verdict = self.validator.check(dict(resource))
        if not verdict.ok:
            return f"invalid Consent ({verdict.problem})"
        try:
            compile_consent(resource)
        except ConsentFormatError as error:
            return str(error)
        return None

    def _allowed(
        self, session: Session, info: RequestInfo, person_id: str, action: str
    ) -> tuple[int, str] | None:
        """Why ``action`` (read or write) on this person's Consents is refused, or None."""
        now = self.clock()
        grounds = self._grounds(session, info.principal, person_id, now)
        if grounds is None:
            return 404, "no person"
        decision = decide(
            info.principal,
            "Consent",
            action,
            basis=grounds.basis,
            patient_nhs_number=grounds.person.nhs_number,
            policy=self.policy,
        )
        return None if decision.allowed else (403, decision.reason)

    def _supersede(self, session: Session, keep: ConsentRecord) -> list[str]:
        """Set the person's other active Consents of the same scope inactive."""
        moved = []
        series = scope_of(keep.resource)
        rows = session.scalars(
            select(ConsentRecord).where(
                ConsentRecord.person_id == keep.person_id,
                ConsentRecord.status == "active",
                ConsentRecord.id != keep.id,
            )
        )
        for row in rows:
            if scope_of(row.resource) == series:
                row.status = "inactive"
                row.resource = versioned(
                    dict(row.resource) | {"status": "inactive"},
                    version_of(row.resource) + 1,
                    self.clock(),
                )
                _keep(session, row)
                moved.append(f"{ID_PREFIX}{row.id}")
        return moved

    def _audit(
        self,
        session: Session,
        info: RequestInfo,
        what: tuple[str, str, str],
        person_id: str,
        returned: int = 0,
    ) -> None:
        interaction, action, desc = what
        entry = self._entry(
            info,
            interaction=interaction,
            action=action,
            outcome="0",
            desc=desc,
            person_id=person_id,
        )
        if returned:
            entry.returned = {"Consent": returned}
        audit.append(session, entry, now=self.clock())

    async def _run(
        self,
        info: RequestInfo,
        interaction: str,
        action: str,
        work: Callable[[Session], Reply | tuple[int, str, str | None]],
    ) -> Reply:
        """Run ``work`` in one transaction; a refusal it returns is audited afterwards
        in a transaction of its own, so nothing it wrote survives a refusal."""

        def run() -> Reply:
            try:
                with transaction(self.engine) as session:
                    outcome = work(session)
                    if isinstance(outcome, Reply):
                        return outcome  # refusals are returned before anything is written
            except BadRequest as error:
                outcome = (400, str(error), None)
            status, reason, person_id = outcome
            return self.record_refusal(
                info,
                interaction=interaction,
                action=action,
                status=status,
                reason=reason,
                person_id=person_id,
            )

        return await to_thread.run_sync(run)

    async def record_consent(self, info: RequestInfo, resource: Mapping[str, Any]) -> Reply:
        """A citizen states their wishes: store a Consent about their own record; an
        active one supersedes their earlier active ones of the same scope."""
        action = "create Consent"
        problem = self._consent_problem(resource)
        if problem is not None:
            return await self.refuse(
                info, interaction="create", action=action, status=400, reason=problem
            )
        broken = rules_problem(resource)
        if broken is not None:
            return await self.refuse(
                info, interaction="create", action=action, status=422, reason=broken
            )

        def work(session: Session) -> Reply | tuple[int, str, str | None]:
            person_id = person_for(session, resource["patient"])
            if person_id is None:
                return 404, "no person", None
            refusal = self._allowed(session, info, person_id, "write")
            if refusal is not None:
                return (*refusal, person_id)
            patient = dict(resource["patient"]) | {"reference": f"Patient/{person_id}"}
            record = ConsentRecord(
                person_id=person_id,
                resource=dict(resource) | {"patient": patient},
                status=str(resource.get("status")),
                recorded_at=self.clock(),
                recorded_by=info.principal.subject,
            )
            session.add(record)
            session.flush()
            stored = versioned(
                record.resource | {"id": f"{ID_PREFIX}{record.id}"}, 1, record.recorded_at
            )
            record.resource = stored
            _keep(session, record)
            superseded = self._supersede(session, record) if record.status == "active" else []
            desc = f"stored {ID_PREFIX}{record.id}"
            if superseded:
                desc += f"; superseded {', '.join(superseded)}"
            self._audit(session, info, ("create", action, desc), person_id)
            base = self.base_url or info.base
            where = f"{base}/Consent/{ID_PREFIX}{record.id}/_history/1"
            return Reply(201, stored, {"Location": where, "ETag": 'W/"1"'})

        return await self._run(info, "create", action, work)

    async def update_consent(
        self, info: RequestInfo, consent_id: str, resource: Mapping[str, Any]
    ) -> Reply:
        """Move a Consent's status (``inactive`` withdraws it; ``active`` makes it the
        current statement again, superseding the others). What it says cannot change."""
        action = "update Consent"

        def work(session: Session) -> Reply | tuple[int, str, str | None]:
            key = _record_id(consent_id)
            record = session.get(ConsentRecord, key, with_for_update=True) if key else None
            if record is None:
                return 404, "no such Consent", None
            refusal = self._allowed(session, info, record.person_id, "write")
            if refusal is not None:
                return (*refusal, record.person_id)
            status = resource.get("status")
            if resource.get("resourceType") != "Consent" or resource.get("id") != consent_id:
                raise BadRequest(f"the body must be Consent {consent_id}")
            if status not in STATUSES:
                raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
            if not _same_statement(record.resource, resource):
                raise BadRequest("only a Consent's status can change; record a new Consent")
            before = record.status
            record.status = str(status)
            record.resource = versioned(
                dict(record.resource) | {"status": status},
                version_of(record.resource) + 1,
                self.clock(),
            )
            _keep(session, record)
            superseded = self._supersede(session, record) if status == "active" else []
            desc = f"{consent_id} {before} -> {status}"
            if superseded:
                desc += f"; superseded {', '.join(superseded)}"
            self._audit(session, info, ("update", action, desc), record.person_id)
            return Reply(200, _as_stored(record), {"ETag": _etag(_as_stored(record))})

        return await self._run(info, "update", action, work)

    async def read_consent(
        self, info: RequestInfo, consent_id: str, version: str | None = None
    ) -> Reply:
        """One Consent, for the citizen it is about or a privacy officer. To anyone
        else it does not exist (404): not even the fact of a Consent is told."""
        action = "read Consent"

        def work(session: Session) -> Reply | tuple[int, str, str | None]:
            key = _record_id(consent_id)
            record = session.get(ConsentRecord, key) if key else None
            if record is None:
                return 404, "no such Consent", None
            refusal = self._allowed(session, info, record.person_id, "read")
            if refusal is not None:
                return 403, refusal[1], record.person_id
            self._audit(session, info, ("read", action, f"read {consent_id}"), record.person_id, 1)
            stored = _as_stored(record)
            if version is not None and version != str(version_of(stored)):
                kept = (
                    session.get(ConsentVersion, (record.id, int(version)))
                    if version.isdigit() and len(version) < 10
                    else None
                )
                if kept is None:
                    return 404, f"{consent_id} has no version {version} kept", record.person_id
                stored = dict(kept.resource) | {"id": consent_id}
            return Reply(200, stored, {"ETag": _etag(stored)})

        reply = await self._run(info, "read", action, work)
        if reply.status == 403:  # audited as refused; answered as if there were none
            return Reply(404, _not_found())
        return reply

    async def search_consents(
        self, info: RequestInfo, patient: str | None, status: str | None
    ) -> Reply:
        """A person's Consents, newest first (``status=active``: their current choices)."""
        action = "search Consent"

        def work(session: Session) -> Reply | tuple[int, str, str | None]:
            if not patient:
                raise BadRequest("searches need patient= or patient:identifier=")
            if status is not None and status not in STATUSES:
                raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
            if "|" in patient:
                person_id = _by_nhs_number(session, patient)
            else:
                person_id = person_for(session, patient)
            if person_id is None:
                return 404, "no person", None
            refusal = self._allowed(session, info, person_id, "read")
            if refusal is not None:
                return (*refusal, person_id)
            query = select(ConsentRecord).where(ConsentRecord.person_id == person_id)
            if status is not None:
                query = query.where(ConsentRecord.status == status)
            query = query.order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
            found = [_as_stored(r) for r in session.scalars(query.limit(1000))]
            self._audit(
                session,
                info,
                ("search-type", action, f"returned {len(found)}"),
                person_id,
                len(found),
            )
            origin = self.base_url or info.base or "urn:healthycity:exchange"
            entries = [(r, origin) for r in found]
            return Reply(200, searchset(entries, [], self_link=self._self(info)))

        return await self._run(info, "search-type", action, work)


def _keep(session: Session, record: ConsentRecord) -> None:
    """Keep the version ``record`` now holds, for ``_history/{vid}`` (the versions a
    Consent has had are never rewritten, so a version once returned stays readable)."""
    session.flush()
    session.add(
        ConsentVersion(
            consent_id=record.id,
            version=version_of(record.resource),
            resource=dict(record.resource),
            recorded_at=_when(record),
        )
    )


def _when(record: ConsentRecord) -> datetime:
    meta = record.resource.get("meta")
    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
    return record.recorded_at


def _as_stored(record: ConsentRecord) -> dict[str, Any]:
    """The Consent as stored, with its id and status as the exchange holds them (a
    Consent recorded by other means than the API may lack an id)."""
    stored: dict[str, Any] = dict(record.resource) | {
        "id": f"{ID_PREFIX}{record.id}",
        "status": record.status,
    }
    meta = stored.get("meta")
    if (
        not isinstance(meta, dict) or not meta.get("versionId") or not meta.get("lastUpdated")
    ):  # recorded before versions
        stored = versioned(stored, version_of(stored), record.recorded_at)
    return stored


def _etag(resource: Mapping[str, Any]) -> str:
    return f'W/"{version_of(resource)}"'


def _not_found() -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found", "diagnostics": "not found"}],
    }


def add_consent_routes(
    app: FastAPI,
    authenticate: Authenticate,
    info_of: Callable[[Request, Any], RequestInfo],
    service: Callable[[], ConsentOperations],
) -> None:
    """Register the Consent routes (create, read, search, update) on the exchange."""

    async def answer(
        request: Request,
        interaction: str,
        action: str,
        call: Callable[[ConsentOperations, RequestInfo], Awaitable[Reply]],
    ) -> Response:
        principal = await authenticate(request, interaction=interaction, action=action)
        if isinstance(principal, Response):
            return principal
        return to_response(await call(service(), info_of(request, principal)))

    @app.post("/Consent", status_code=201, summary="A citizen states their sharing wishes")
    async def create_consent(
        request: Request, resource: Annotated[dict[str, Any], Body()]
    ) -> Response:
        return await answer(
            request,
            "create",
            "create Consent",
            lambda ops, info: ops.record_consent(info, resource),
        )

    @app.get("/Consent", summary="A person's Consents, newest first")
    async def search_consents(
        request: Request,
        patient: Annotated[
            str | None, Query(max_length=80, description="Patient/{id} or {id}")
        ] = None,
        identifier: Annotated[
            str | None,
            Query(
                alias="patient:identifier",
                max_length=80,
                description=f"{NHS_NUMBER_SYSTEM}|<NHS number>",
            ),
        ] = None,
        status: Annotated[str | None, Query(max_length=20, description="e.g. active")] = None,
    ) -> Response:
        return await answer(
            request,
            "search-type",
            "search Consent",
            lambda ops, info: ops.search_consents(info, patient or identifier, status),
        )

    @app.get("/Consent/{consent_id}", summary="One Consent")
    async def read_consent(
        request: Request, consent_id: Annotated[str, Path(max_length=64)]
    ) -> Response:
        return await answer(
            request, "read", "read Consent", lambda ops, info: ops.read_consent(info, consent_id)
        )

    @app.get("/Consent/{consent_id}/_history/{version}", summary="One version of a Consent")
    async def vread_consent(
        request: Request,
        consent_id: Annotated[str, Path(max_length=64)],
        version: Annotated[str, Path(max_length=20)],
    ) -> Response:
        return await answer(
            request,
            "vread",
            "read Consent",
            lambda ops, info: ops.read_consent(info, consent_id, version),
        )

    @app.put("/Consent/{consent_id}", summary="Withdraw or reinstate a Consent (its status)")
    async def update_consent(
        request: Request,
        consent_id: Annotated[str, Path(max_length=64)],
        resource: Annotated[dict[str, Any], Body()],
    ) -> Response:
        return await answer(
            request,
            "update",
            "update Consent",
            lambda ops, info: ops.update_consent(info, consent_id, resource),
        )
