"""Polls: a series loads with its disclosure and shows its interval (Wilson on the
effective sample size); one without sample size or question wording is refused; and
the ambition's "10 basis points" is read as decision 0014 records."""

from __future__ import annotations

import copy
import math
from datetime import date
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from healthycity.engagement import polls
from healthycity.engagement.models import PollWave
from tests.engagement.helpers import bearer, served

SERIES: dict[str, Any] = {
    "slug": "engagement-in-design",
    "title": "Londoners who say services involve them in design",
    "question_wording": "How far do you agree: organisations that provide health services "
    "involve people like me in designing them?",
    "sponsor": "Healthy London Partnership",
    "agency": "An example polling agency",
    "population": "Adults aged 18+ living in London",
    "sampling_frame": "Online panel, quotas on age, sex, borough and social grade",
    "mode": "Online",
    "indicator_id": "hc-engagement-polling",
    "waves": [
        {
            "fieldwork_start": "2016-03-01",
            "fieldwork_end": "2016-03-10",
            "sample_size": 1000,
            "percent": 30.0,
            "weighting": "Rim-weighted to ONS mid-year estimates",
            "design_effect": 1.5,
            "margin_of_error": 3.4,
        },
        {
            "fieldwork_start": "2019-03-01",
            "fieldwork_end": "2019-03-12",
            "sample_size": 1200,
            "percent": 40.0,
            "weighting": "Rim-weighted to ONS mid-year estimates",
            "design_effect": 1.5,
        },
    ],
}


def _wilson(p: float, n: float) -> tuple[float, float]:
    z = 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def test_a_series_loads_with_its_disclosure_and_interval(engine: Engine) -> None:
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        loaded = client.post("/api/v1/poll-series", json=SERIES, headers=bearer(tokens))
        assert loaded.status_code == 201, loaded.text
        body = client.get("/polls/engagement-in-design.json").json()
        assert body["disclosure"]["question_wording"].startswith("How far do you agree")
        assert body["disclosure"]["sampling_frame"].startswith("Online panel")
        first = body["waves"][0]
        assert first["effective_sample_size"] == 666.7
        lower, upper = _wilson(0.30, 1000 / 1.5)
        assert abs(first["lower_95"] - lower) < 0.01 and abs(first["upper_95"] - upper) < 0.01
        assert body["target"]["change"] == 10.0
        assert body["target"]["verdict"] == "met"
        assert body["target"]["if_percentage_points"] == "improved, short of proof"
        page = client.get("/polls/engagement-in-design").text
        assert "Rim-weighted" in page and "<svg" in page and "95% interval" in page
        assert "engagement-in-design" in client.get("/polls.csv").text


def test_a_poll_without_sample_size_or_wording_is_refused(engine: Engine) -> None:
    no_size = copy.deepcopy(SERIES)
    del no_size["waves"][1]["sample_size"]
    no_wording = copy.deepcopy(SERIES) | {"question_wording": ""}
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for body, words in ((no_size, "sample size"), (no_wording, "question wording")):
            refused = client.post("/api/v1/poll-series", json=body, headers=bearer(tokens))
            assert refused.status_code == 422
            assert any(words in m for m in refused.json()["errors"].values()), refused.text
        assert client.get("/polls/engagement-in-design").status_code == 404
        viewer = client.post("/api/v1/poll-series", json=SERIES, headers=bearer(tokens, "viewer"))
        assert viewer.status_code == 403


def _wave(percent: float, n: int) -> polls.WaveEstimate:
    wave = PollWave(
        fieldwork_start=date(2016, 1, 1),
        fieldwork_end=date(2016, 1, 9),
        sample_size=n,
        percent=percent,
        weighting="none",
        design_effect=None,
    )
    return polls.estimate(wave)


def test_ten_basis_points_is_a_tenth_of_a_point_and_needs_proof() -> None:
    assert polls.TARGET_CHANGE == 0.1
    # A 0.2-point rise in two polls of 1,000 is noise: not claimed as met.
    small = polls.change(_wave(30.0, 1000), _wave(30.2, 1000))
    assert small.verdict(polls.TARGET_CHANGE) == "not distinguishable from no change"
    # A clear rise is met as written, and not met if read as ten percentage points.
    clear = polls.change(_wave(30.0, 5000), _wave(35.0, 5000))
    assert clear.lower > 0.1 and clear.verdict(polls.TARGET_CHANGE) == "met"
    assert clear.verdict(polls.ALTERNATIVE_CHANGE) == "not met"
    assert polls.change(_wave(35.0, 5000), _wave(30.0, 5000)).verdict(0.1) == "moved away"
