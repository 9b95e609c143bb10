"""Issue 16's acceptance over real HTTP: a consultation is created and published by the
portfolio office, answered by 200 generated respondents, moderated and closed; its
results page and CSV give the right counts, and a withdrawn answer disappears."""

from __future__ import annotations

import csv
import io
import random
import time
from collections import Counter
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from tests.engagement.helpers import Respondent, bearer, create_and_publish, receipt_of, served

SLUG = "engaging-londoners"
HEARD = ["Leaflet", "GP surgery", "Online"]
SERVICES = ["GP", "Pharmacy", "A&E", "None"]


def _answers(rng: random.Random, number: int) -> dict[str, Any]:
    heard = rng.choice(HEARD)
    answers: dict[str, Any] = {
        "q-heard": heard,
        "q-services": rng.sample(SERVICES, rng.randint(0, 2)),
        "q-trust": str(rng.randint(1, 5)),
        "q-views-0": rng.choice(["Disagree", "Neither", "Agree"]),
        "q-priorities-0": "1",
        "q-priorities-1": "2",
        "q-priorities-2": "3",
    }
    if number % 10 == 0:
        answers["q-comments"] = f"Respondent {number} would like evening clinics."
    return answers


def _csv(client: httpx.Client, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def _count(rows: list[dict[str, str]], question: str, option: str) -> int:
    return next(
        int(r["count"]) for r in rows if r["question"] == question and r["option"] == option
    )


def test_two_hundred_respondents_moderated_closed_and_one_withdrawn(engine: Engine) -> None:
    rng = random.Random(16)
    with (
        served(engine) as (server, tokens, _outbox),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        key = create_and_publish(staff, tokens)
        people = [Respondent(server.url) for _ in range(200)]
        sent = [_answers(rng, n) for n in range(200)]
        forms = [p.open(SLUG) for p in people]
        time.sleep(0.35)
        receipts = []
        for person, form, answers in zip(people, forms, sent, strict=True):
            response = person.send(SLUG, form, answers)
            assert response.status_code == 200, response.text[:500]
            receipts.append(receipt_of(response))
        for person in people:
            person.close()

        # Moderation: every free-text answer is held; publish half, reject the rest.
        detail = staff.get(f"/workspace/consultations/{key}.json", headers=bearer(tokens)).json()
        assert detail["answers"] == 200 and detail["held"] == 20
        page = staff.get(f"/workspace/consultations/{key}/moderation", headers=bearer(tokens))
        import re

        items = [int(i) for i in re.findall(r"/moderation/(\d+)\"", page.text)]
        assert len(items) == 20
        for number, item in enumerate(items):
            decision = "published" if number % 2 == 0 else "rejected"
            moderated = staff.post(
                f"/workspace/consultations/{key}/moderation/{item}",
                data={
                    "decision": decision,
                    "reason": "Reviewed against the policy",
                    "theme": "Access",
                },
                headers=bearer(tokens),
                follow_redirects=False,
            )
            assert moderated.status_code == 303
        refused = staff.post(
            f"/workspace/consultations/{key}/moderation/{items[0]}",
            data={"decision": "rejected", "reason": ""},
            headers=bearer(tokens) | {"accept": "application/json"},
        )
        assert refused.status_code == 422 and "reason" in refused.json()["errors"]

        closed = staff.post(f"/api/v1/consultations/{key}/close", headers=bearer(tokens))
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        said = staff.post(
            f"/api/v1/consultations/{key}/respond",
            json={"we_did": "You asked for evening clinics; three boroughs now run them."},
            headers=bearer(tokens),
        )
        assert said.status_code == 200

        # The results agree with what was sent.
        heard = Counter(a["q-heard"] for a in sent)
        rows = _csv(staff, f"/consultations/{SLUG}/results.csv")
        for option in HEARD:
            assert _count(rows, "heard", option) == heard[option]
        services = Counter(s for a in sent for s in a["q-services"])
        assert _count(rows, "services", "GP") == services["GP"]
        assert {r["respondents"] for r in rows if r["question"] == "heard"} == {"200"}
        body = staff.get(f"/consultations/{SLUG}/results.json").json()
        assert body["responses"] == 200 and len(body["comments"]) == 10
        assert "not a representative sample" in body["label"]
        html = staff.get(f"/consultations/{SLUG}/results").text
        assert "200 responses" in html and "Self-selected responses" in html
        assert "three boroughs now run them" in html and "<svg" in html
        comments = _csv(staff, f"/consultations/{SLUG}/results.csv?table=comments")
        assert len(comments) == 10 and all(c["theme"] == "Access" for c in comments)

        # A withdrawn answer disappears from the page and the CSV.
        withdrawer = Respondent(server.url)
        seen = withdrawer.client.get("/consultations/receipt", params={"code": receipts[0]})
        assert seen.status_code == 200 and sent[0]["q-heard"] in seen.text
        withdrawer.keep_cookie(seen)
        export = withdrawer.client.get("/consultations/receipt.json", params={"code": receipts[0]})
        assert export.json()["answers"]["heard"] == sent[0]["q-heard"]
        from tests.engagement.helpers import hidden_fields

        gone = withdrawer.client.post(
            "/consultations/receipt/withdraw", data=hidden_fields(seen.text)
        )
        assert gone.status_code == 200 and "withdrawn" in gone.text
        withdrawer.close()
        rows = _csv(staff, f"/consultations/{SLUG}/results.csv")
        assert _count(rows, "heard", sent[0]["q-heard"]) == heard[sent[0]["q-heard"]] - 1
        assert staff.get(f"/consultations/{SLUG}/results.json").json()["responses"] == 199
        assert "199 responses" in staff.get(f"/consultations/{SLUG}/results").text
        again = staff.get("/consultations/receipt", params={"code": receipts[0]})
        assert again.status_code == 404

        # Every change by the office is in the audit trail, versions included.
        history = staff.get(f"/api/v1/consultations/{key}/history", headers=bearer(tokens)).json()
        types = Counter(h["record_type"] for h in history)
        assert types["consultation"] >= 4 and types["consultation_version"] == 1
        assert types["moderation"] >= 40
