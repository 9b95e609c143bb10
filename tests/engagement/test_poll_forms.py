"""The workspace's poll forms over real HTTP: the portfolio office adds, changes and
deletes a poll series with its waves; the form refuses a wave without its sample size
or a series without its wording, writing nothing; other roles cannot; every change is
in the audit trail."""

from __future__ import annotations

from collections import Counter

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.engagement.models import PollSeries, PollWave
from tests.engagement.helpers import bearer, served
from tests.engagement.test_polls import SERIES

WAVES = (
    "2016-03-01 | 2016-03-10 | 1000 | 30 | Rim-weighted to ONS mid-year estimates | 1.5 | 3.4\n"
    "2019-03-01 | 2019-03-12 | 1200 | 40 | Rim-weighted to ONS mid-year estimates | 1.5"
)


def _form(**extra: str) -> dict[str, str]:
    fields = {k: str(v) for k, v in SERIES.items() if k != "waves"}
    return fields | {"waves": WAVES} | extra


def _rows(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as session:
        series = session.scalar(select(func.count()).select_from(PollSeries)) or 0
        waves = session.scalar(select(func.count()).select_from(PollWave)) or 0
        return int(series), int(waves)


def test_the_office_adds_changes_and_deletes_a_poll_with_its_waves(engine: Engine) -> None:
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        office = bearer(tokens)
        blank = client.get("/workspace/polls/new", headers=office)
        assert blank.status_code == 200 and "Waves of fieldwork" in blank.text
        made = client.post(
            "/workspace/polls/new", data=_form(), headers=office, follow_redirects=False
        )
        assert made.status_code == 303, made.text[:800]
        detail_url = made.headers["location"]
        series_id = int(detail_url.rsplit("/", 1)[1])
        assert _rows(engine) == (1, 2)
        page = client.get(detail_url, headers=office)
        assert "Online panel" in page.text and "1200" in page.text
        public = client.get("/polls/engagement-in-design.json").json()
        assert [w["sample_size"] for w in public["waves"]] == [1000, 1200]
        assert public["waves"][0]["design_effect"] == 1.5
        assert public["target"]["verdict"] == "met"

        # The edit form starts from what is stored; removing a line removes the wave.
        edit = client.get(f"/workspace/polls/{series_id}/edit", headers=office)
        assert "2019-03-01 | 2019-03-12 | 1200 | 40.0" in edit.text
        changed = client.post(
            f"/workspace/polls/{series_id}/edit",
            data=_form(waves=WAVES.splitlines()[1], title="Involved in design"),
            headers=office,
            follow_redirects=False,
        )
        assert changed.status_code == 303, changed.text[:800]
        assert _rows(engine) == (1, 1)
        assert client.get("/polls/engagement-in-design.json").json()["title"] == (
            "Involved in design"
        )

        history = client.get(f"/api/v1/polls/{series_id}/history", headers=office).json()
        kinds = Counter((h["record_type"], h["action"]) for h in history)
        assert kinds[("poll", "create")] == 1 and kinds[("poll", "update")] == 1
        assert kinds[("poll_wave", "create")] == 2 and kinds[("poll_wave", "delete")] == 1

        gone = client.post(
            f"/workspace/polls/{series_id}/delete", headers=office, follow_redirects=False
        )
        assert gone.status_code == 303
        assert _rows(engine) == (0, 0)
        assert client.get("/polls/engagement-in-design").status_code == 404


def test_the_form_refuses_a_poll_without_its_disclosure_and_writes_nothing(
    engine: Engine,
) -> None:
    no_size = "2016-03-01 | 2016-03-10 |  | 30 | Rim-weighted"
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        office = bearer(tokens)
        cases = (
            (_form(waves=WAVES + "\n" + no_size), "wave line 3: sample size: this is required"),
            (_form(question_wording=""), "There is a problem"),
            (_form(waves="2016-03-01 | 2016-03-10 | 1000"), "wave line 1: write start"),
            (_form(waves="2016-03-01 | 2016-03-10 | 1000 | 130 | none"), "wave line 1: percent"),
            (_form(waves=""), "at least one wave"),
        )
        for form, words in cases:
            refused = client.post("/workspace/polls/new", data=form, headers=office)
            # The house answers a refused form with 200 and its error summary.
            assert refused.status_code == 200 and "There is a problem" in refused.text
            assert words.lower() in refused.text.lower(), (words, refused.text[:3000])
        assert _rows(engine) == (0, 0)
        for role in ("viewer", "programme_lead"):
            denied = client.post("/workspace/polls/new", data=_form(), headers=bearer(tokens, role))
            assert denied.status_code == 403
        assert _rows(engine) == (0, 0)
        listing = client.get("/workspace/polls", headers=bearer(tokens, "viewer"))
        assert listing.status_code == 200 and "Add a poll series" not in listing.text
