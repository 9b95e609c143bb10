"""Other modules' pages show "you said, we did": an indicator's, a commitment's, a
programme's and a published service-change assessment's public pages list the
consultations about them,
through the registry's ``related`` hook, so none of those modules imports engagement."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from healthycity.assurance import schemas as assurance_schemas
from healthycity.assurance import service as assurance
from healthycity.core import registry
from tests.assurance.test_service import PROPOSAL, _all_verdicts
from tests.engagement.helpers import bearer, consultation_body, create_and_publish, served
from tests.workspace.helpers import london_pack, unit

PACKAGE = Path(__file__).resolve().parents[2] / "healthycity"
INDICATOR, PROGRAMME, COMMITMENT = "90631", "prevention", "cut-child-obesity"


def _published_proposal(engine: Engine) -> int:
    with unit(engine) as session:
        proposal = assurance.create_proposal(
            session, assurance_schemas.ProposalIn.model_validate(PROPOSAL), "sponsor@x"
        )
        assurance.submit(session, proposal)
        verdicts = _all_verdicts(session, "not_met")
        data = assurance_schemas.AssessIn(verdicts=verdicts, complete=True)
        assurance.assess(session, proposal, data, "assessor@x")
        assurance.publish(session, proposal)
        return int(proposal.id)


def _section(html: str) -> str:
    found = re.search(r'<section class="hc-related".*?</section>', html, re.S)
    return found.group(0) if found else ""


def test_pages_of_other_modules_show_the_consultations_that_shaped_them(
    engine: Engine,
) -> None:
    from healthycity.core.pack_loading import load_pack

    load_pack(engine, london_pack())
    proposal_id = _published_proposal(engine)
    links = [
        f"indicator:{INDICATOR}",
        f"programme:{PROGRAMME}",
        f"service-change:{proposal_id}",
        f"commitment:{COMMITMENT}",
    ]
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        office = bearer(tokens)
        # Before any consultation, the pages have no section at all.
        before = client.get(f"/indicators/{INDICATOR}")
        assert before.status_code == 200 and _section(before.text) == ""
        done = create_and_publish(client, tokens, slug="said-and-did", links=links)
        create_and_publish(client, tokens, slug="still-open", links=links[:1])
        draft = client.post(
            "/api/v1/consultations",
            json=consultation_body(slug="a-draft", title="Secret draft", links=links),
            headers=office,
        )
        assert draft.status_code == 201
        client.post(f"/api/v1/consultations/{done}/close", headers=office)
        said = "You asked for plainer measures; we rewrote the indicator's definition."
        responded = client.post(
            f"/api/v1/consultations/{done}/respond", json={"we_did": said}, headers=office
        )
        assert responded.status_code == 200

        pages = (
            f"/indicators/{INDICATOR}",
            f"/programmes/{PROGRAMME}",
            f"/service-changes/{proposal_id}",
            f"/commitments/{COMMITMENT}",
        )
        for path in pages:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            section = _section(page.text)
            assert "Consultations: you said, we did" in section, path
            assert 'href="/consultations/said-and-did/results"' in section, path
            assert "we rewrote the indicator" in section, path
            assert "Secret draft" not in page.text, path
        indicator = _section(client.get(pages[0]).text)
        assert 'href="/consultations/still-open"' in indicator and "have your say" in indicator
        assert "still-open" not in _section(client.get(pages[1]).text)


def test_the_link_runs_through_the_registry_not_an_import() -> None:
    declared = {m.name: m.related for m in registry.modules()}
    assert declared["engagement"] == "healthycity.engagement.related:related"
    assert callable(registry.resolve(declared["engagement"]))
    for module in ("outcomes", "portfolio", "assurance"):
        for path in (PACKAGE / module).rglob("*.py"):
            assert "healthycity.engagement" not in path.read_text(), path
