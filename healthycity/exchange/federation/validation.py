"""Structural validation of incoming resources against the FHIR R4B models, remembered.

Every resource a node sends is checked with fhir.resources' R4B models before it can be
passed on: a node with a bug must not be able to hand a client something that is not
FHIR. A full model validation costs about a quarter of a millisecond per resource, too
much to repeat for every request that touches the same record, so the verdict is cached
by a digest of the resource's content: the same version of a resource is validated once,
and any change to it (a new version, or a node altering it in place) is validated anew.

The models check structure (types, cardinality, formats), not invariants or terminology:
they are a gate against malformed data, not a conformance test.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    problem: str | None = None


VALID = Verdict(True)


def _model_check(resource: Mapping[str, Any]) -> Verdict:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return Verdict(False, "no resourceType")
    try:
        model = get_fhir_model_class(resource_type)
    except (ValueError, KeyError):
        return Verdict(False, f"unknown resource type {resource_type!r}")
    try:
        model.model_validate(dict(resource))
    except ValidationError as error:
        # Locations and messages only: the offending values may be personal data.
        first = error.errors(include_input=False, include_url=False)[:3]
        where = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in first
        )
        return Verdict(False, f"{resource_type}: {where}")
    except (TypeError, ValueError) as error:
        return Verdict(False, f"{resource_type}: {type(error).__name__}")
    return VALID


class ResourceValidator:
    """Validates resources with the R4B models and remembers each content's verdict."""

    def __init__(self, cache_size: int = 200_000) -> None:
        self.cache_size = cache_size
        self._verdicts: dict[bytes, Verdict] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def digest(resource: Mapping[str, Any], canonical: bytes | None = None) -> bytes:
        if canonical is None:
            canonical = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(canonical, digest_size=16).digest()

    def check(
        self,
        resource: Mapping[str, Any],
        canonical: bytes | None = None,
        *,
        digest: bytes | None = None,
    ) -> Verdict:
        """The verdict for ``resource``; ``canonical`` is its sorted compact JSON, or
        ``digest`` that JSON's :meth:`digest`, if the caller already has it (it must be
        exactly that, or the cache is fooled)."""
        if self.cache_size == 0:
            return _model_check(resource)
        key = digest if digest is not None else self.digest(resource, canonical)
        verdict = self._verdicts.get(key)
        if verdict is not None:
            self.hits += 1
            return verdict
        self.misses += 1
        verdict = _model_check(resource)
        with self._lock:
            if len(self._verdicts) >= self.cache_size:
                # Drop the oldest tenth: dicts keep insertion order, so this is FIFO.
                for old in list(islice(self._verdicts, max(1, self.cache_size // 10))):
                    del self._verdicts[old]
            self._verdicts[key] = verdict
        return verdict
