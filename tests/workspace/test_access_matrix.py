"""Every role × every action × every record type, over real HTTP, on both engines.

The expected matrix below is written out independently of the policy table in
core/auth.py, so a mistake in either shows up here. Allowed requests must succeed; every
other request must get 403 and leave the database exactly as it was (every row of every
workspace table, the audit trail included, compared before and after).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from healthycity.assurance import schemas as assurance_schemas
from healthycity.assurance import service as assurance_service
from healthycity.core.auth_models import ROLES
from healthycity.core.db import transaction
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import BudgetBaseline
from tests.assurance.test_service import PROPOSAL
from tests.conftest import LiveServer
from tests.workspace.helpers import (
    OTHER_PROGRAMME,
    OWN_PROGRAMME,
    add_people,
    app_for,
    load_london,
    unit,
    url_of,
)

ACTIONS = ("view", "create", "edit", "delete", "assess", "publish")
PROGRAMME_TYPES = (
    "programme",
    "budget",
    "spend",
    "milestone",
    "confidence",
    "risk",
    "stakeholder",
    "progress_update",
)
OTHER_TYPES = ("account", "devolution_area", "pledge", "pilot", "fund", "proposal")
RECORD_TYPES = PROGRAMME_TYPES + OTHER_TYPES
PLURAL = {
    "account": "accounts",
    "programme": "programmes",
    "budget": "budgets",
    "spend": "spend",
    "milestone": "milestones",
    "confidence": "confidence",
    "risk": "risks",
    "stakeholder": "stakeholders",
    "progress_update": "progress",
    "devolution_area": "devolution-areas",
    "pledge": "pledges",
    "pilot": "pilots",
    "fund": "funds",
    "proposal": "proposals",
}
DATA_TYPES = [t for t in RECORD_TYPES if t != "account"]
CED = ("create", "edit", "delete")


def _expected() -> dict[str, set[tuple[str, str, str]]]:
    """(action, record type, whose) allowed per role; whose is "own", "other" or "any"."""
    allowed: dict[str, set[tuple[str, str, str]]] = {role: set() for role in ROLES}
    for role in ROLES:
        for t in DATA_TYPES:
            for whose in ("own", "other", "any"):
                allowed[role].add(("view", t, whose))
    allowed["admin"] |= {(a, "account", "any") for a in ("view", *CED)}
    for t in DATA_TYPES:
        actions = ("create",) if t == "confidence" else CED
        for a in actions:
            for whose in ("own", "other", "any"):
                allowed["portfolio_office"].add((a, t, whose))
    allowed["assessor"] |= {("create", "confidence", w) for w in ("own", "other")}
    allowed["assessor"] |= {("assess", "proposal", "any"), ("publish", "proposal", "any")}
    lead = {
        ("edit", "programme"),
        ("create", "spend"),
        ("edit", "spend"),
        ("create", "confidence"),
        *((a, t) for t in ("milestone", "risk", "stakeholder", "progress_update") for a in CED),
    }
    allowed["programme_lead"] |= {(a, t, "own") for a, t in lead}
    return allowed


EXPECTED = _expected()
SUCCESS = {"view": 200, "create": 201, "edit": 200, "delete": 204, "assess": 200, "publish": 200}
WORKSPACE_TABLES = (
    "account",
    "account_ownership",
    "programme",
    "budget_baseline",
    "monthly_spend",
    "milestone",
    "confidence_assessment",
    "programme_risk",
    "programme_stakeholder",
    "programme_indicator",
    "progress_update",
    "devolution_area",
    "devolution_pledge",
    "devolution_pilot",
    "transformation_fund",
    "fund_allocation",
    "service_change_proposal",
    "proposal_verdict",
    "proposal_bed_evidence",
    "audit_record",
)


def database_state(engine: Engine) -> str:
    """A digest of every row of every workspace table.

    The audit trail is append-only (the database refuses UPDATE and DELETE on it), so
    its row count and highest id stand for its content. A refused write leaves exactly
    one record, its refusal ("write refused", tests/workspace/test_trust_fields.py), so
    those are left out: the state is everything else.
    """
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in WORKSPACE_TABLES:
            if table == "audit_record":
                query = "SELECT count(*), max(id) FROM audit_record WHERE action <> 'write refused'"
            else:
                query = f"SELECT * FROM {table}"  # noqa: S608 - table names are constants
            rows = connection.execute(text(query)).all()
            for row in sorted(repr(tuple(r)) for r in rows):
                digest.update(f"{table}:{row}\n".encode())
    return digest.hexdigest()


class Fixtures:
    """Makes a fresh record of each type on demand and the request bodies to create them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counter = itertools.count(1)

    def owner(self, whose: str) -> str:
        return OWN_PROGRAMME if whose == "own" else OTHER_PROGRAMME

    def body(self, record_type: str, whose: str) -> dict[str, Any]:
        n = next(self.counter)
        owner = self.owner(whose)
        monthly = {OWN_PROGRAMME: "172772.50", OTHER_PROGRAMME: "95703.58"}[owner]
        bodies: dict[str, dict[str, Any]] = {
            "account": {"email": f"new{n}@example.org", "display_name": "New", "role": "viewer"},
            "programme": {"slug": f"matrix-{n}", "name": f"Matrix {n}"},
            "budget": {
                "programme_slug": owner,
                "financial_year": f"{2030 + n}/{(2031 + n) % 100:02d}",
                "amount": "1000",
            },
            # A month of its own each time (spend is one row per month), in a year with
            # no baseline, so no variance rule interferes with the access being tested.
            "spend": {
                "programme_slug": owner,
                "month": f"{2050 + n // 12}-{n % 12 + 1:02d}",
                "forecast": monthly,
            },
            "milestone": {"programme_slug": owner, "title": f"M{n}", "baseline_date": "2015-09-01"},
            "confidence": {
                "programme_slug": owner,
                "assessed_on": "2015-07-31",
                "rating": "Amber",
                "assessor": "Assessor",
                "commentary": "On track.",
            },
            "risk": {"programme_slug": owner, "title": f"R{n}", "likelihood": 2, "impact": 3},
            "stakeholder": {"programme_slug": owner, "role": "hlp_lead", "people": ["A Person"]},
            "progress_update": {
                "programme_slug": owner,
                "period": "2015-08",
                "kind": "progress",
                "body": "Progress.",
            },
            "devolution_area": {"slug": f"area-{n}", "name": f"Area {n}"},
            "pledge": {"area_slug": "public-health", "text": "A pledge.", "owner": "GLA"},
            "pilot": {"slug": f"pilot-{n}", "name": f"Pilot {n}", "theme": "integration"},
            "fund": {"period": f"{2040 + n}/{(2041 + n) % 100:02d}", "total": "100"},
            "proposal": dict(PROPOSAL),
        }
        return bodies[record_type]

    def make(
        self, record_type: str, whose: str, stage: str = "draft", *, fresh: bool = False
    ) -> str:
        """A record of ``record_type`` (for ``whose`` programme); returns its URL key.

        The programme a lead owns is the one exception to "new": ownership is by slug,
        so unless ``fresh`` is asked for, "own" programme means the lead's programme.
        """
        body = self.body(record_type, whose)
        with unit(self.engine) as session:
            if record_type == "account":
                from healthycity.core.auth import create_account

                return str(create_account(session, body["email"], "viewer").id)
            if record_type == "programme":
                if whose == "own" and not fresh:
                    return OWN_PROGRAMME
                return service.create_programme(session, schemas.ProgrammeIn(**body)).slug
            if record_type == "budget":
                return str(service.set_baseline(session, schemas.BudgetIn(**body)).id)
            if record_type == "proposal":
                proposal = assurance_service.create_proposal(
                    session, assurance_schemas.ProposalIn.model_validate(body), "m"
                )
                if stage in ("submitted", "assessed"):
                    assurance_service.submit(session, proposal)
                if stage == "assessed":
                    verdicts = [
                        assurance_schemas.VerdictIn(
                            test_slug=t.slug, verdict="not_met", rationale="Not met."
                        )
                        for t in assurance_service.tests(session)
                    ]
                    assurance_service.assess(
                        session,
                        proposal,
                        assurance_schemas.AssessIn(verdicts=verdicts, complete=True),
                        "a",
                    )
                return str(proposal.id)
            makers: dict[str, Callable[[], Any]] = {
                "spend": lambda: service.record_spend(session, schemas.SpendIn(**body)),
                "milestone": lambda: service.add_milestone(session, schemas.MilestoneIn(**body)),
                "confidence": lambda: service.add_confidence(session, schemas.ConfidenceIn(**body)),
                "risk": lambda: service.add_risk(session, schemas.RiskIn(**body)),
                "stakeholder": lambda: service.add_stakeholder(
                    session, schemas.StakeholderIn(**body)
                ),
                "progress_update": lambda: service.add_progress(
                    session, schemas.ProgressIn(**body)
                ),
                "devolution_area": lambda: service.create_area(
                    session, schemas.DevolutionAreaIn(**body)
                ),
                "pledge": lambda: service.create_pledge(session, schemas.PledgeIn(**body)),
                "pilot": lambda: service.create_pilot(session, schemas.PilotIn(**body)),
                "fund": lambda: service.create_fund(session, schemas.FundIn(**body)),
            }
            row = makers[record_type]()
            if record_type in ("devolution_area", "pilot"):
                return str(row.slug)
            if record_type == "fund":
                return str(row.period).replace("/", "-")
            return str(row.id)


EDITS: dict[str, dict[str, Any]] = {
    "account": {"display_name": "Renamed"},
    "programme": {"title": "A changed title"},
    "budget": {"variance_explanation": "Explained."},
    "spend": {"note": "A note."},
    "milestone": {"notes": "Notes."},
    "confidence": {"commentary": "Changed."},
    "risk": {"mitigation": "Mitigated."},
    "stakeholder": {"note": "A note."},
    "progress_update": {"body": "Changed."},
    "devolution_area": {"description": "Described."},
    "pledge": {"evidence": "Evidence."},
    "pilot": {"status": "Running"},
    "fund": {"note": "Changed."},
    "proposal": {"summary": "Changed."},
}


def _request(
    client: httpx.Client, token: str, action: str, record_type: str, key: str, body: Any
) -> httpx.Response:
    base = f"/api/v1/{PLURAL[record_type]}"
    headers = {"Authorization": f"Bearer {token}"}
    if action == "view":
        return client.get(f"{base}/{key}", headers=headers)
    if action == "create":
        return client.post(base, json=body, headers=headers)
    if action == "edit":
        return client.patch(f"{base}/{key}", json=EDITS[record_type], headers=headers)
    if action == "delete":
        return client.delete(f"{base}/{key}", headers=headers)
    return client.post(f"{base}/{key}/{action}", json={}, headers=headers)


def _combos() -> list[tuple[str, str, str, str]]:
    combos = []
    for role in ROLES:
        for record_type in RECORD_TYPES:
            owners = ("own", "other") if record_type in PROGRAMME_TYPES else ("any",)
            for whose in owners:
                for action in ACTIONS:
                    combos.append((role, action, record_type, whose))
    return combos


def _stage(action: str, record_type: str) -> str:
    if record_type != "proposal":
        return "draft"
    return {"assess": "submitted", "publish": "assessed"}.get(action, "draft")


def test_every_role_action_and_record_type(engine: Engine) -> None:
    load_london(engine)
    tokens = add_people(engine)
    fixtures = Fixtures(engine)
    combos = _combos()
    expected = {c for c in combos if (c[1], c[2], c[3]) in EXPECTED[c[0]]}
    assert len(combos) == len(ROLES) * (8 * 2 + 6) * 6
    # Records the refused requests aim at, made once: a refused request changes nothing.
    targets = {
        (t, w, s): fixtures.make(t, w, s)
        for t in RECORD_TYPES
        for w in (("own", "other") if t in PROGRAMME_TYPES else ("any",))
        for s in (("draft", "submitted", "assessed") if t == "proposal" else ("draft",))
    }
    failures: list[str] = []
    with (
        LiveServer(app_for(url_of(engine))) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        state = database_state(engine)
        for role, action, record_type, whose in combos:
            if (role, action, record_type, whose) in expected:
                continue
            key = targets[(record_type, whose, _stage(action, record_type))]
            body = fixtures.body(record_type, whose)
            response = _request(client, tokens[role], action, record_type, key, body)
            if response.status_code != 403:
                failures.append(
                    f"{role} {action} {record_type} ({whose}): expected 403, got "
                    f"{response.status_code} {response.text[:200]}"
                )
            after = database_state(engine)
            if after != state:
                failures.append(f"{role} {action} {record_type} ({whose}) changed the database")
                state = after
        for role, action, record_type, whose in sorted(expected):
            fresh = action in ("edit", "delete", "assess", "publish") and not (
                role == "programme_lead" and record_type == "programme"
            )
            key = (
                fixtures.make(record_type, whose, _stage(action, record_type), fresh=True)
                if fresh
                else targets[(record_type, whose, _stage(action, record_type))]
            )
            body = fixtures.body(record_type, whose)
            response = _request(client, tokens[role], action, record_type, key, body)
            if response.status_code != SUCCESS[action]:
                failures.append(
                    f"{role} {action} {record_type} ({whose}): expected "
                    f"{SUCCESS[action]}, got {response.status_code} {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)
    # The allowed changes are all in the trail, attributed to the people who made them.
    with transaction(engine) as session:
        from healthycity.core.audit import AuditRecord

        actors = set(session.scalars(select(AuditRecord.actor).distinct()))
        assert any(a.startswith("Portfolio Office <") for a in actors)
        assert any(a.startswith("Programme Lead <") for a in actors)
        assert session.get(BudgetBaseline, 1) is not None


def test_without_credentials_writes_are_401_and_reads_redirect(engine: Engine) -> None:
    load_london(engine)
    with LiveServer(app_for(url_of(engine))) as server, httpx.Client(base_url=server.url) as client:
        before = database_state(engine)
        assert client.get("/api/v1/programmes/cancer").status_code == 401
        assert client.post("/api/v1/risks", json={}).status_code == 401
        assert client.delete("/api/v1/programmes/cancer").status_code == 401
        bad = client.get("/api/v1/programmes", headers={"Authorization": "Bearer hc_nope"})
        assert bad.status_code == 401
        page = client.get("/workspace/programmes/cancer")
        assert page.status_code == 303
        assert page.headers["location"] == "/workspace/sign-in?next=/workspace/programmes/cancer"
        assert database_state(engine) == before


@pytest.mark.parametrize("with_token", [False, True])
def test_cookie_sessions_need_the_csrf_token(engine: Engine, with_token: bool) -> None:
    load_london(engine)
    add_people(engine)
    from tests.workspace.test_sign_in import sign_in

    with LiveServer(app_for(url_of(engine))) as server, httpx.Client(base_url=server.url) as client:
        cookie, csrf = sign_in(client, "portfolio_office@example.org")
        headers = {"Cookie": f"hc_session={cookie}"}
        if with_token:
            headers["X-CSRF-Token"] = csrf
        body = {"programme_slug": "cancer", "title": "Workforce gaps", "likelihood": 3, "impact": 3}
        before = database_state(engine)
        response = client.post("/api/v1/risks", json=body, headers=headers)
        if with_token:
            assert response.status_code == 201
        else:
            assert response.status_code == 403
            assert database_state(engine) == before
            form = client.post(
                "/workspace/risks/new",
                data={k: str(v) for k, v in body.items()},
                headers=headers,
            )
            assert form.status_code == 403
            assert database_state(engine) == before
