"""Consent and access filtering cost per resource (target: under 0.2 ms).

Takes the six Synthea patient bundles (about 1,500 resources of a dozen types),
offers them for release to a clinician with a legitimate relationship whose patient has
withheld two sensitive categories (HIV and mental health), and times what the exchange
does to every resource on the way out: the role-policy decision per resource type, the sensitivity
classification (with categories inherited along references), can-see and will-see
(reference stripping). R4B validation, cold and cached, is timed alongside for scale.

    .venv/bin/python benchmarks/bench_exchange_filtering.py
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from healthycity.exchange.access.consent import (
    Candidate,
    ConsentSession,
    Requester,
    compile_consent,
    release,
)
from healthycity.exchange.access.policy import (
    AccessPolicy,
    Principal,
    parse_scopes,
    resource_types_allowed,
)
from healthycity.exchange.access.sensitivity import SensitivityClassifier
from healthycity.exchange.dev.testserver import bundle_resources
from healthycity.exchange.federation.fanout import NodeResult, NodeTarget, merge
from healthycity.exchange.federation.validation import ResourceValidator

BUNDLES = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "reference"
    / "exchange"
    / "synthea"
    / "bundles"
)
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROUNDS = 15


def resources() -> list[dict[str, Any]]:
    """The bundles' resources, with an HIV security label on the HIV tests and treatment
    (these bundles code them with local concept ids the code table cannot know, so the
    node labels them, as a sexual-health system would)."""
    found: list[dict[str, Any]] = []
    for path in sorted(BUNDLES.glob("[A-Z]*_*.json")):
        for resource in bundle_resources(orjson.loads(path.read_bytes())):
            text = orjson.dumps(resource.get("code", {})).decode().upper()
            if "HIV" in text or "ANTIRETROVIRAL" in text:
                meta = dict(resource.get("meta") or {})
                meta["security"] = [{"system": ACT, "code": "HIV"}]
                resource = resource | {"meta": meta}
            found.append(resource)
    return found


def main() -> int:
    if not BUNDLES.exists():
        print(f"skipped: {BUNDLES} not present")
        return 0
    items = resources()
    n = len(items)
    policy = AccessPolicy.default()
    classifier = SensitivityClassifier.default()
    principal = Principal(
        subject="dr-1", issuer="i", role="R8000", organisation="F84001",
        scopes=parse_scopes("user/*.read"), patient=None, purpose="TREAT", token_id=None,
    )  # fmt: skip
    consent = compile_consent(
        {
            "resourceType": "Consent", "status": "active",
            "provision": {"type": "permit", "provision": [
                {"type": "deny", "securityLabel": [{"system": ACT, "code": "HIV"}]},
                {"type": "deny", "securityLabel": [{"system": ACT, "code": "PSY"}]},
            ]},
        }
    )  # fmt: skip
    assert consent is not None
    now = datetime.now(UTC)
    node = NodeTarget("node-a", "http://127.0.0.1:1", 1.0)

    def filter_once() -> int:
        decisions = resource_types_allowed(
            principal, [str(r["resourceType"]) for r in items],
            basis="relationship", patient_nhs_number=None, policy=policy,
        )  # fmt: skip
        allowed = [
            Candidate(r, node.base_url) for r in items if decisions[r["resourceType"]].allowed
        ]
        session = ConsentSession([consent], Requester("F84001", "dr-1"), now=now)
        return len(release(session, allowed, classifier).resources)

    def merge_once() -> int:
        return len(merge([NodeResult(node, list(items))]).candidates)

    validator = ResourceValidator()
    started = time.perf_counter()
    for r in items:
        validator.check(r)
    cold = (time.perf_counter() - started) / n
    timings: dict[str, list[float]] = {"filter": [], "merge": [], "validate (cached)": []}
    for _ in range(ROUNDS):
        for label, run in (
            ("filter", filter_once),
            ("merge", merge_once),
            ("validate (cached)", lambda: sum(validator.check(r).ok for r in items)),
        ):
            started = time.perf_counter()
            run()
            timings[label].append((time.perf_counter() - started) / n)
    shown = filter_once()
    print(
        f"{n} resources from {len(list(BUNDLES.glob('[A-Z]*_*.json')))} Synthea bundles; "
        f"{n - shown} withheld by consent (HIV, PSY) per pass"
    )
    print(f"{'step':<36}{'median ms/resource':>20}{'p95':>10}")
    for label, values in timings.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{'consent + access filtering' if label == 'filter' else label:<36}"
            f"{statistics.median(values) * 1000:>20.4f}{p95 * 1000:>10.4f}"
        )
    print(f"{'validate (cold, R4B models)':<36}{cold * 1000:>20.4f}")
    target = statistics.median(timings["filter"]) * 1000
    print(
        f"target: consent and access filtering under 0.2 ms/resource: "
        f"{'met' if target < 0.2 else 'MISSED'} ({target:.4f} ms, {0.2 / target:.1f}x headroom)"
    )
    return 0 if target < 0.2 else 1


if __name__ == "__main__":
    sys.exit(main())
