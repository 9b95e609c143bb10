"""The workspace's downloads: every page with data has `.json` and `.csv` twins that
carry the page's figures, are refused to exactly whom the page is refused, are never
cached, keep money as pounds and pence, and cannot smuggle a formula into a spreadsheet.

Over real HTTP (loopback) on both engines, with the London pack and one account per role.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from healthycity.assurance import schemas as assurance_schemas
from healthycity.assurance import service as assurance_service
from healthycity.portfolio import schemas, service
from healthycity.portfolio.service import pounds
from tests.assurance.test_service import PROPOSAL
from tests.conftest import LiveServer
from tests.workspace.helpers import OWN_PROGRAMME, add_people, app_for, load_london, unit, url_of

MONEY = re.compile(r"-?\d+\.\d{2}")
EXPLAINED = {"explanation": "-Recruitment later than planned."}
FORMULA = '=HYPERLINK("http://example.org/x","Click")'


@dataclass
class Site:
    url: str
    tokens: dict[str, str]
    proposal_id: int

    def get(self, path: str, role: str | None = "viewer", **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.get(self.url + path, headers=headers, params=params, follow_redirects=False)


@pytest.fixture
def site(engine: Engine) -> Iterator[Site]:
    load_london(engine)
    tokens = add_people(engine)
    with unit(engine) as session:
        # Odd pence and a month with only a forecast, so rounding and blanks both show.
        service.record_spend(
            session,
            schemas.SpendIn.model_validate(
                {
                    "programme_slug": OWN_PROGRAMME,
                    "month": "2015-04",
                    "actual": "41234.56",
                    **EXPLAINED,
                }
            ),
        )
        service.record_spend(
            session,
            schemas.SpendIn.model_validate(
                {
                    "programme_slug": OWN_PROGRAMME,
                    "month": "2015-05",
                    "forecast": "40000.10",
                    **EXPLAINED,
                }
            ),
        )
        service.add_risk(
            session,
            schemas.RiskIn.model_validate(
                {
                    "programme_slug": OWN_PROGRAMME,
                    "title": FORMULA,
                    "likelihood": 4,
                    "impact": 3,
                    "owner": "@ops",
                }
            ),
        )
        proposal = assurance_service.create_proposal(
            session, assurance_schemas.ProposalIn.model_validate(PROPOSAL), "tests"
        )
        proposal_id = proposal.id
    with LiveServer(app_for(url_of(engine))) as server:
        yield Site(server.url, tokens, proposal_id)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def text_of(page: httpx.Response) -> str:
    """The page's text with tags removed and entities decoded, spaces collapsed."""
    assert page.status_code == 200, page.text
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


# ------------------------------------------------------------------ what is offered


TWINS = [
    ("/workspace/programmes", "admin"),
    (f"/workspace/programmes/{OWN_PROGRAMME}", "viewer"),
    ("/workspace/devolution", "viewer"),
    ("/workspace/proposals", "viewer"),
    ("/workspace/proposals/{proposal}", "viewer"),
    (f"/workspace/history/programme/{OWN_PROGRAMME}", "viewer"),
    ("/workspace/history/fund/2018/19", "viewer"),
    ("/workspace/accounts", "admin"),
]


def test_every_page_with_data_links_its_twins_and_they_answer(site: Site) -> None:
    for template, role in TWINS:
        path = template.format(proposal=site.proposal_id)
        page = site.get(path, role)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "private, no-store", path
        links = re.findall(r'<a href="([^"]+)"[^>]*>Download as (CSV|JSON)</a>', page.text)
        assert {kind for _, kind in links} == {"CSV", "JSON"}, path
        for href, kind in links:
            twin = site.get(html.unescape(href).removeprefix(site.url), role)
            assert twin.status_code == 200, href
            assert twin.headers["cache-control"] == "private, no-store", href
            if kind == "JSON":
                assert twin.headers["content-type"] == "application/json"
                assert twin.json(), href
            else:
                assert twin.headers["content-type"].startswith("text/csv"), href
                assert "attachment" in twin.headers["content-disposition"]
        # Each further table's CSV link answers too.
        for href in re.findall(r'href="([^"]+table=[^"]+)"', page.text):
            assert site.get(html.unescape(href), role).status_code == 200, href


def test_a_table_the_page_does_not_have_is_not_found(site: Site) -> None:
    answer = site.get(f"/workspace/programmes/{OWN_PROGRAMME}.csv", table="passwords")
    assert answer.status_code == 404
    assert "41234.56" not in answer.text


# ------------------------------------------------------------- the same figures


def test_the_programme_twins_carry_the_page_figures(site: Site) -> None:
    path = f"/workspace/programmes/{OWN_PROGRAMME}"
    page = site.get(path)
    text = text_of(page)
    data = site.get(path + ".json").json()
    years = rows(site.get(path + ".csv"))
    assert years and [y["financial_year"] for y in years] == [
        y["financial_year"] for y in data["years"]
    ]
    for year in years:
        # Every money column: two decimals, as text, identical in both twins.
        for column in ("actual_to_date", "forecast_outturn", "forecast_remaining"):
            assert MONEY.fullmatch(year[column]), (column, year[column])
        match = next(y for y in data["years"] if y["financial_year"] == year["financial_year"])
        assert match["forecast_outturn"] == year["forecast_outturn"]
        assert f"Forecast outturn {pounds(Decimal(year['forecast_outturn']))}" in text
        assert f"Spend to date {pounds(Decimal(year['actual_to_date']))}" in text
        if year["variance"]:
            cell = re.search(
                rf'id="variance-{year["financial_year"].replace("/", "-")}">([^<]*)', page.text
            )
            assert cell is not None
            shown = html.unescape(cell.group(1))
            assert pounds(Decimal(year["variance"])) in shown
            assert f"({year['variance_pct']}%)" in shown
    assert {y["variance_explanation"] for y in years if y["financial_year"] == "2015/16"} == {
        "'" + EXPLAINED["explanation"]
    }
    spend = rows(site.get(path + ".csv", table="spend"))
    april = next(r for r in spend if r["month"] == "2015-04")
    may = next(r for r in spend if r["month"] == "2015-05")
    assert (april["actual"], april["forecast"]) == ("41234.56", "")
    assert (may["actual"], may["forecast"]) == ("", "40000.10")
    assert "April 2015 £41,234.56 –" in text and "May 2015 – £40,000.10" in text
    assert data["spend"][0]["month"] == "2015-04" and data["spend"][0]["actual"] == "41234.56"
    assert MONEY.fullmatch(data["whole_life_budget"])
    assert f"Whole-life budget {pounds(Decimal(data['whole_life_budget']))}" in text
    # The milestones, assessments and risks the page lists, in the page's order.
    for name, column in (("milestones", "title"), ("confidence", "commentary")):
        table = rows(site.get(path + ".csv", table=name))
        assert [r[column] for r in table] == [r[column] for r in data[name]]
        positions = [text.index(" ".join(r[column].split())) for r in table]
        assert positions == sorted(positions), name


def test_the_portfolio_and_devolution_twins_carry_the_page_figures(site: Site) -> None:
    text = text_of(site.get("/workspace/programmes", year="2015/16"))
    table = rows(site.get("/workspace/programmes.csv", year="2015/16"))
    cancer = next(r for r in table if r["programme"] == OWN_PROGRAMME)
    for column in ("whole_life_budget", "baseline", "actual_to_date", "forecast_outturn"):
        assert MONEY.fullmatch(cancer[column]), column
        assert pounds(Decimal(cancer[column])) in text
    assert cancer["actual_to_date"] == "41234.56"

    text = text_of(site.get("/workspace/devolution"))
    data = site.get("/workspace/devolution.json").json()
    funds = rows(site.get("/workspace/devolution.csv", table="funds"))
    assert funds and len(funds) == sum(len(f["allocations"]) for f in data["funds"])
    for fund in data["funds"]:
        assert MONEY.fullmatch(fund["total"])
        assert f"{fund['period']}: {pounds(Decimal(fund['total']))}" in text
        for allocation in fund["allocations"]:
            if allocation["amount"] is not None:
                assert MONEY.fullmatch(allocation["amount"])
                assert f"{allocation['name']} {pounds(Decimal(allocation['amount']))}" in text
    pledges = rows(site.get("/workspace/devolution.csv"))
    assert pledges == [
        {k: "" if v is None else str(v) for k, v in p.items()} for p in data["pledges"]
    ]
    for pledge in pledges:
        assert " ".join(pledge["text"].split()) in text


def test_the_proposal_and_history_twins_carry_the_page_figures(site: Site) -> None:
    path = f"/workspace/proposals/{site.proposal_id}"
    data = site.get(path + ".json").json()
    assert data["title"] == PROPOSAL["title"]
    assert MONEY.fullmatch(data["investment_required"])
    assert pounds(Decimal(data["investment_required"])) in text_of(site.get(path))
    listing = rows(site.get("/workspace/proposals.csv"))
    assert [r["id"] for r in listing] == [str(site.proposal_id)]
    assert listing[0]["investment_required"] == data["investment_required"]

    history = f"/workspace/history/programme/{OWN_PROGRAMME}"
    changes = site.get(history + ".json").json()
    text = text_of(site.get(history))
    assert len(changes) == text.count(" by ")
    table = rows(site.get(history + ".csv"))
    spend = [r for r in table if r["record_type"] == "spend" and r["field"] == "actual"]
    assert [r["after"] for r in spend] == ["41234.56"]


# ------------------------------------------------------------ refusals and safety


@pytest.mark.parametrize("role", ["viewer", "programme_lead", "assessor", "portfolio_office"])
def test_the_twins_refuse_whom_the_page_refuses(site: Site, role: str) -> None:
    for path in ("/workspace/accounts", "/workspace/history/account/1"):
        answers = [site.get(path + suffix, role) for suffix in ("", ".json", ".csv")]
        assert [a.status_code for a in answers] == [403, 403, 403], (role, path)
        assert all("@example.org" not in a.text for a in answers)
        admin = [site.get(path + suffix, "admin") for suffix in ("", ".json", ".csv")]
        assert [a.status_code for a in admin] == [200, 200, 200], path


def test_the_twins_need_a_sign_in_as_the_page_does(site: Site) -> None:
    for path in (f"/workspace/programmes/{OWN_PROGRAMME}", "/workspace/accounts"):
        page = site.get(path, role=None)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/workspace/sign-in")
        for suffix in (".json", ".csv"):
            twin = site.get(path + suffix, role=None)
            assert twin.status_code == 401, path + suffix
            assert "41234.56" not in twin.text and "@example.org" not in twin.text
        # A token that is not one gets the same.
        forged = httpx.get(
            f"{site.url}{path}.csv", headers={"Authorization": "Bearer hc_not-a-token"}
        )
        assert forged.status_code == 401


def test_a_formula_in_a_record_reaches_the_csv_as_text(site: Site) -> None:
    path = f"/workspace/programmes/{OWN_PROGRAMME}"
    risks = rows(site.get(path + ".csv", table="risks"))
    risk = next(r for r in risks if "HYPERLINK" in r["title"])
    assert risk["title"] == "'" + FORMULA
    assert risk["owner"] == "'@ops"
    # The JSON twin is data, not a spreadsheet: it keeps the text as entered.
    data: dict[str, Any] = site.get(path + ".json").json()
    assert any(r["title"] == FORMULA for r in data["risks"])
