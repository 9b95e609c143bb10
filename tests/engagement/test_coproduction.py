"""Co-production of indicators over real HTTP: the public proposes and votes through a
consultation that invites it, a moderator publishes or not with a reason, the portfolio
office puts its own proposal and records a decision on each, and the decisions are
published (page, CSV, JSON, and the indicator's page through the registry hook)."""

from __future__ import annotations

import csv
import io
import re
import time

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core import registry
from healthycity.core.db import transaction
from healthycity.engagement.models import IndicatorProposal, ProposalVote
from tests.engagement.helpers import Respondent, bearer, create_and_publish, hidden_fields, served

SLUG = "engaging-londoners"
PAGE = f"/consultations/{SLUG}/proposals"


def _propose(person: Respondent, fields: dict[str, str], wait: float = 0.35) -> httpx.Response:
    page = person.client.get(PAGE)
    assert page.status_code == 200, page.text[:500]
    person.keep_cookie(page)
    form = hidden_fields(page.text)
    time.sleep(wait)
    return person.client.post(PAGE, data=form | fields)


def _vote(person: Respondent, proposal_id: int, choice: str) -> httpx.Response:
    page = person.client.get(PAGE)
    person.keep_cookie(page)
    token = hidden_fields(page.text)["csrf_token"]
    return person.client.post(
        f"{PAGE}/{proposal_id}/vote",
        data={"csrf_token": token, "vote": choice},
        follow_redirects=False,
    )


def _count(engine: Engine, table: type) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r"/proposals/(\d+)/(?:moderate|decide)\"", html)]


def test_the_public_proposes_and_votes_and_the_office_decides(engine: Engine) -> None:
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        office = bearer(tokens)
        key = create_and_publish(staff, tokens, co_production="yes")
        person = Respondent(server.url)
        new = {
            "kind": "new",
            "title": "Time from referral to first community mental health contact",
            "description": "Measure how long people wait for community mental health care.",
        }
        sent = _propose(person, new)
        assert sent.status_code == 200 and "proposal has been received" in sent.text
        spam = _propose(person, new | {"title": "Cheap pills here", "description": "x" * 40})
        assert spam.status_code == 200

        # Bad input: a clear error, nothing written.
        before = _count(engine, IndicatorProposal)
        no_about = _propose(person, new | {"kind": "change"})
        assert "There is a problem" in no_about.text
        assert "must say which indicator or commitment" in no_about.text
        unlisted = _propose(person, new | {"kind": "comment", "about": "indicator:99999"})
        assert "choose one of the indicators or commitments listed" in unlisted.text
        short = _propose(person, new | {"description": "too short"})
        assert "There is a problem" in short.text
        trap = _propose(person, new | {"website": "http://spam.example"})
        assert trap.status_code == 400
        assert _count(engine, IndicatorProposal) == before == 2

        # Held: nothing public until a moderator decides, with a reason.
        assert "Time from referral" not in staff.get(PAGE).text
        queue = staff.get(f"/workspace/consultations/{key}/proposals", headers=office)
        held = _ids(queue.text)
        assert len(held) == 2
        no_reason = staff.post(
            f"/workspace/consultations/{key}/proposals/{held[0]}/moderate",
            data={"moderation": "published"},
            headers=office | {"accept": "application/json"},
        )
        assert no_reason.status_code == 422 and "moderation_reason" in no_reason.json()["errors"]
        for item, decision in zip(held, ("published", "rejected"), strict=True):
            done = staff.post(
                f"/workspace/consultations/{key}/proposals/{item}/moderate",
                data={"moderation": decision, "moderation_reason": "Checked against the policy"},
                headers=office,
                follow_redirects=False,
            )
            assert done.status_code == 303
        public = staff.get(PAGE).text
        assert "Time from referral" in public and "Cheap pills" not in public
        assert "1 proposal was not published" in public

        # The office puts its own proposal, about an indicator the consultation is about.
        change = {
            "kind": "change",
            "about": "indicator:hc-engagement-polling",
            "title": "Read the polling target in percentage points",
            "description": "Report the engagement polling change in percentage points.",
        }
        put = staff.post(
            f"/workspace/consultations/{key}/proposals",
            data=change,
            headers=office,
            follow_redirects=False,
        )
        assert put.status_code == 303
        body = staff.get(f"{PAGE}.json").json()
        ours = next(p for p in body["proposals"] if p["source"] == "office")
        theirs = next(p for p in body["proposals"] if p["source"] == "public")
        assert body["not_published"] == 1 and len(body["proposals"]) == 2

        # Votes: one per browser, a second vote replaces the first; forged ones refused.
        voters = [Respondent(server.url) for _ in range(4)]
        for voter, choice in zip(voters, ("agree", "agree", "disagree", "agree"), strict=True):
            assert _vote(voter, ours["id"], choice).status_code == 303
        assert _vote(voters[3], ours["id"], "pass").status_code == 303
        forged = staff.post(f"{PAGE}/{ours['id']}/vote", data={"vote": "agree"})
        assert forged.status_code == 403
        bad = _vote(voters[0], ours["id"], "maybe")
        assert bad.status_code == 422
        assert _count(engine, ProposalVote) == 4
        tallied = next(
            p for p in staff.get(f"{PAGE}.json").json()["proposals"] if p["id"] == ours["id"]
        )
        assert (tallied["agree"], tallied["disagree"], tallied["pass"]) == (2, 1, 1)
        assert tallied["agree_percent_of_agree_or_disagree"] == 66.7

        # Decisions: only the office, only on published proposals, always with a reason.
        viewer = staff.post(
            f"/workspace/consultations/{key}/proposals/{ours['id']}/decide",
            data={"decision": "adopted", "decision_reason": "x"},
            headers=bearer(tokens, "viewer"),
        )
        assert viewer.status_code == 403
        on_rejected = staff.post(
            f"/workspace/consultations/{key}/proposals/{held[1]}/decide",
            data={"decision": "adopted", "decision_reason": "x"},
            headers=office | {"accept": "application/json"},
        )
        assert on_rejected.status_code == 422 and "moderate it first" in on_rejected.text
        reasons = {
            ours["id"]: ("adopted_with_changes", "We now report both readings side by side."),
            theirs["id"]: ("considering", "We are checking what community services record."),
        }
        for proposal_id, (decision, reason) in reasons.items():
            decided = staff.post(
                f"/workspace/consultations/{key}/proposals/{proposal_id}/decide",
                data={"decision": decision, "decision_reason": reason},
                headers=office,
                follow_redirects=False,
            )
            assert decided.status_code == 303
        page = staff.get(PAGE).text
        assert "Adopted with changes" in page and "both readings side by side" in page
        assert "Under consideration" in page
        rows = list(csv.DictReader(io.StringIO(staff.get(f"{PAGE}.csv").text)))
        assert {r["decision"] for r in rows} == {"Adopted with changes", "Under consideration"}
        assert "voter" not in staff.get(f"{PAGE}.csv").text

        # Shown on the indicator's page through the registry hook, and audited.
        with transaction(engine) as session:
            links = registry.related(session, "indicator", "hc-engagement-polling")
        proposal_links = [r for r in links if r.heading.startswith("Co-produced")]
        assert [r.title for r in proposal_links] == [change["title"]]
        assert proposal_links[0].note.startswith("Adopted with changes")
        history = staff.get(f"/api/v1/consultations/{key}/history", headers=office).json()
        audited = [h for h in history if h["record_type"] == "indicator_proposal"]
        assert len(audited) >= 7  # 3 created, 2 moderated, 2 decided
        for p in [person, *voters]:
            p.close()


def test_a_consultation_that_does_not_invite_proposals_refuses_them(engine: Engine) -> None:
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        create_and_publish(staff, tokens)
        person = Respondent(server.url)
        page = person.client.get(PAGE)
        assert "Make a proposal" not in page.text
        form = person.open(SLUG)  # the answer form's tokens, replayed at the proposals
        time.sleep(0.35)
        refused = person.client.post(
            PAGE,
            data=form
            | {"kind": "new", "title": "A title", "description": "A long enough description."},
        )
        assert refused.status_code == 409 and "not open" in refused.text
        assert _count(engine, IndicatorProposal) == 0
        person.close()
