"""Which sensitive categories a FHIR resource falls in (mental health, sexual health, ...).

Consent can withhold "sexual health" or "mental health"; that only works if every record
is put in its categories the same way everywhere. The rules are data
(``data/sensitive_codes.json``): exact codes, code prefixes for ICD-10, and security
labels already on the resource. A record also inherits the categories of what it
points at through clinical links (an encounter *for* an HIV diagnosis, an observation
made *in* that encounter), because the linked record would otherwise betray the
withheld one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

Coding = tuple[str, str]

#: Elements whose CodeableConcepts/Codings say what a record is about.
_CODED_ELEMENTS = (
    "code",
    "category",
    "type",
    "class",
    "reasonCode",
    "serviceType",
    "vaccineCode",
    "medicationCodeableConcept",
    "valueCodeableConcept",
    "securityLabel",
)


@dataclass(frozen=True, slots=True)
class ResourceFacts:
    """What the consent rules may look at in one resource."""

    resource_type: str
    labels: frozenset[str]
    codings: frozenset[Coding]


def _codings_of(value: Any, out: set[Coding]) -> None:
    if isinstance(value, list):
        for item in value:
            _codings_of(item, out)
    elif isinstance(value, dict):
        if "coding" in value:
            _codings_of(value["coding"], out)
        system, code = value.get("system"), value.get("code")
        if isinstance(system, str) and isinstance(code, str):
            out.add((system, code))


def codings(resource: Mapping[str, Any]) -> frozenset[Coding]:
    """Every (system, code) that describes the resource's content, plus its meta.security."""
    out: set[Coding] = set()
    for element in _CODED_ELEMENTS:
        value = resource.get(element)
        if value is not None:
            _codings_of(value, out)
    meta = resource.get("meta")
    if isinstance(meta, dict) and "security" in meta:
        _codings_of(meta["security"], out)
    return frozenset(out)


def _references(value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, out)
    elif isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            out.append(ref)
        for key, inner in value.items():
            if key != "reference" and isinstance(inner, dict | list):
                _references(inner, out)


class SensitivityClassifier:
    """Puts resources in sensitive categories according to the rules data."""

    def __init__(self, rules: Mapping[str, Any]) -> None:
        self._label_systems = frozenset(rules.get("label_systems", ()))
        self._exact: dict[Coding, set[str]] = {}
        self._prefixes: dict[str, list[tuple[str, str]]] = {}
        self.categories: dict[str, str] = {}
        for category, spec in rules["categories"].items():
            self.categories[category] = spec.get("display", category)
            for system, codes in spec.get("codes", {}).items():
                for code in codes:
                    self._exact.setdefault((system, code), set()).add(category)
            for system, prefixes in spec.get("prefixes", {}).items():
                for prefix in prefixes:
                    self._prefixes.setdefault(system, []).append((prefix, category))
        self._propagate = tuple(rules.get("propagate_through", ()))

    @classmethod
    def default(cls) -> SensitivityClassifier:
        return _default_classifier()

    def categories_of_codings(self, found: Iterable[Coding]) -> frozenset[str]:
        result: set[str] = set()
        for system, code in found:
            if system in self._label_systems and code in self.categories:
                result.add(code)
            exact = self._exact.get((system, code))
            if exact:
                result.update(exact)
            for prefix, category in self._prefixes.get(system, ()):
                if code.startswith(prefix):
                    result.add(category)
        return frozenset(result)

    def facts(self, resource: Mapping[str, Any]) -> ResourceFacts:
        """The facts of one resource on its own (no inherited categories)."""
        found = codings(resource)
        return ResourceFacts(
            resource_type=str(resource.get("resourceType", "")),
            labels=self.categories_of_codings(found),
            codings=found,
        )

    def facts_for_all(
        self, resources: Sequence[Mapping[str, Any]], origins: Sequence[str]
    ) -> list[ResourceFacts]:
        """Facts for a set of resources, with categories inherited along clinical links.

        ``origins`` says which node each resource came from: references are local to a
        node, so ``Encounter/1`` at one node is not ``Encounter/1`` at another.
        """
        facts = [self.facts(r) for r in resources]
        if not any(f.labels for f in facts):
            return facts
        keys = [
            f"{o}|{r.get('resourceType')}/{r.get('id')}"
            for r, o in zip(resources, origins, strict=True)
        ]
        links: list[list[str]] = []
        for resource, origin in zip(resources, origins, strict=True):
            found: list[str] = []
            for element in self._propagate:
                if element in resource:
                    _references(resource[element], found)
            links.append([f"{origin}|{ref}" for ref in found])
        labels = {key: f.labels for key, f in zip(keys, facts, strict=True)}
        # Chains are short (observation -> encounter -> condition); iterate to a fixed point.
        for _ in range(len(self._propagate) + 1):
            changed = False
            for key, targets in zip(keys, links, strict=True):
                inherited = labels[key]
                for target in targets:
                    extra = labels.get(target)
                    if extra and not extra <= inherited:
                        inherited = inherited | extra
                if inherited != labels[key]:
                    labels[key] = inherited
                    changed = True
            if not changed:
                break
        return [
            f if labels[k] == f.labels else ResourceFacts(f.resource_type, labels[k], f.codings)
            for k, f in zip(keys, facts, strict=True)
        ]


@lru_cache(maxsize=1)
def _default_classifier() -> SensitivityClassifier:
    text = resources.files("healthycity.exchange").joinpath("data/sensitive_codes.json")
    return SensitivityClassifier(orjson.loads(text.read_bytes()))
