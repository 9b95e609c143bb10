"""Area boundaries: read a GeoJSON (or TopoJSON) file, keep each area's outline.

Why: the tile grid works with no files, but a map with real outlines is what people
recognise. ``healthycity load boundaries FILE`` reads a FeatureCollection (or TopoJSON,
converted here so the GLA's TopoJSON files load as they are), finds the property that
holds area codes the database knows (``LAD24CD``, ``gss_code``, ``ICB23CD``… or the one
named with ``--key``), and stores one geometry per area in one transaction. Features for
areas not in the database are counted and skipped, not invented: a boundary without an
area has no page to appear on. Loading the same file twice changes nothing.

The package also ships London's 33 borough outlines (ONS, OGL v3; ``boundaries_data/``),
used for any borough with no loaded outline, so a fresh install draws a real map.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes.boundary_models import AreaBoundary

_POLYGONAL = {"Polygon", "MultiPolygon"}
# Where the area name usually is, to report what matched.
_NAME_KEYS = ("name", "NAME", "LAD24NM", "LAD13NM", "ICB23NM", "LAD21NM", "areaName")


class BoundaryError(ValueError):
    """The file cannot be used as boundaries; the message says why."""


@dataclass(frozen=True)
class BoundaryLoad:
    """What a load did: which property held the codes, and how many features counted."""

    key: str
    features: int
    stored: int
    unchanged: int
    skipped: int
    skipped_codes: tuple[str, ...]


# ----------------------------------------------------------------------------- reading


def _decode_arcs(topology: dict[str, Any]) -> list[list[list[float]]]:
    """TopoJSON arcs as absolute positions (quantised arcs are delta-encoded)."""
    transform = topology.get("transform")
    arcs: list[list[list[float]]] = []
    for arc in topology.get("arcs", []):
        if transform:
            sx, sy = transform["scale"]
            tx, ty = transform["translate"]
            x = y = 0.0
            points = []
            for position in arc:
                x += position[0]
                y += position[1]
                points.append([x * sx + tx, y * sy + ty])
        else:
            points = [[float(p[0]), float(p[1])] for p in arc]
        arcs.append(points)
    return arcs


def _ring(indexes: Sequence[int], arcs: list[list[list[float]]]) -> list[list[float]]:
    ring: list[list[float]] = []
    for index in indexes:
        points = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        ring.extend(points if not ring else points[1:])
    return ring


def topojson_features(topology: dict[str, Any]) -> list[dict[str, Any]]:
    """Every polygonal geometry of every object of a TopoJSON topology, as features."""
    arcs = _decode_arcs(topology)
    features: list[dict[str, Any]] = []

    def walk(geometry: dict[str, Any]) -> None:
        kind = geometry.get("type")
        if kind == "GeometryCollection":
            for child in geometry.get("geometries", []):
                walk(child)
            return
        if kind == "Polygon":
            coordinates: Any = [_ring(r, arcs) for r in geometry["arcs"]]
        elif kind == "MultiPolygon":
            coordinates = [[_ring(r, arcs) for r in polygon] for polygon in geometry["arcs"]]
        else:
            return
        features.append(
            {
                "type": "Feature",
                "id": geometry.get("id"),
                "properties": geometry.get("properties") or {},
                "geometry": {"type": kind, "coordinates": coordinates},
            }
        )

    for item in topology.get("objects", {}).values():
        walk(item)
    return features


def read_features(path: Path) -> list[dict[str, Any]]:
    """Polygon features from a GeoJSON FeatureCollection, Feature or TopoJSON file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BoundaryError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BoundaryError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(document, dict):
        raise BoundaryError(f"{path}: expected a GeoJSON or TopoJSON object")
    kind = document.get("type")
    if kind == "Topology":
        features = topojson_features(document)
    elif kind == "FeatureCollection":
        features = [f for f in document.get("features") or [] if isinstance(f, dict)]
    elif kind == "Feature":
        features = [document]
    else:
        raise BoundaryError(
            f"{path}: type {kind!r} is not a FeatureCollection, Feature or Topology"
        )
    polygonal = [
        f
        for f in features
        if isinstance(f.get("geometry"), dict) and f["geometry"].get("type") in _POLYGONAL
    ]
    if not polygonal:
        raise BoundaryError(f"{path}: no Polygon or MultiPolygon features")
    return polygonal


def _candidates(feature: dict[str, Any]) -> dict[str, str]:
    found = {
        str(k): str(v).strip()
        for k, v in (feature.get("properties") or {}).items()
        if isinstance(v, str | int)
    }
    if feature.get("id") is not None:
        found["id"] = str(feature["id"]).strip()
    return found


def find_key(features: Sequence[dict[str, Any]], known: set[str], key: str | None) -> str:
    """The property whose values match the most known area codes (``key`` if given)."""
    if key is not None:
        if not any(key in _candidates(f) for f in features):
            raise BoundaryError(f"no feature has a property named {key!r}")
        return key
    scores: dict[str, int] = {}
    for feature in features:
        for name, value in _candidates(feature).items():
            if value in known:
                scores[name] = scores.get(name, 0) + 1
    if not scores:
        raise BoundaryError(
            "no property of the features holds an area code this database knows; load the "
            "city pack (or the data) first, or name the property with --key"
        )
    return max(sorted(scores), key=lambda name: scores[name])


def _name(feature: dict[str, Any]) -> str | None:
    properties = feature.get("properties") or {}
    for key in _NAME_KEYS:
        if isinstance(properties.get(key), str) and properties[key].strip():
            return str(properties[key]).strip()[:200]
    return None


def _round(coordinates: Any) -> Any:
    """Six decimal places (about 10 cm): plenty for a map, and half the bytes."""
    if isinstance(coordinates, float | int):
        return round(float(coordinates), 6)
    return [_round(c) for c in coordinates]


# ----------------------------------------------------------------------------- storing


def load_boundaries(engine: Engine, path: Path, *, key: str | None = None) -> BoundaryLoad:
    """Store one geometry per known area from ``path``, in one transaction."""
    features = read_features(path)
    with transaction(engine) as session:
        known = set(session.scalars(select(Area.code)))
        chosen = find_key(features, known, key)
        existing = {b.area_code: b for b in session.scalars(select(AreaBoundary))}
        stored = unchanged = 0
        skipped: list[str] = []
        seen: set[str] = set()
        for feature in features:
            code = _candidates(feature).get(chosen, "")
            if code not in known or code in seen:
                if code not in known:
                    skipped.append(code or "(no code)")
                continue
            seen.add(code)
            geometry = {
                "type": feature["geometry"]["type"],
                "coordinates": _round(feature["geometry"]["coordinates"]),
            }
            row = existing.get(code)
            if row is not None and row.geometry == geometry:
                unchanged += 1
                continue
            if row is None:
                session.add(
                    AreaBoundary(
                        area_code=code,
                        geometry=geometry,
                        name_in_file=_name(feature),
                        source=path.name,
                    )
                )
            else:
                row.geometry = geometry
                row.name_in_file = _name(feature)
                row.source = path.name
            stored += 1
        if not seen:
            raise BoundaryError(f"no feature's {chosen!r} is an area code in this database")
    return BoundaryLoad(
        key=chosen,
        features=len(features),
        stored=stored,
        unchanged=unchanged,
        skipped=len(skipped),
        skipped_codes=tuple(sorted(set(skipped))[:10]),
    )


def boundaries_for(session: Session, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored geometry of each of ``codes`` that has one."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return {}
    rows = session.execute(
        select(AreaBoundary.area_code, AreaBoundary.geometry).where(
            AreaBoundary.area_code.in_(wanted)
        )
    ).all()
    return {code: geometry for code, geometry in rows}


# ----------------------------------------------------------------------------- shipped

# The package's own copy of London's borough outlines (``boundaries_data/README.md``):
# a map on first run, before any ``load boundaries``.
SHIPPED_FILE = "london_boroughs.json"


@functools.cache
def shipped_boundaries() -> tuple[dict[str, dict[str, Any]], str]:
    """The shipped outlines by area code, and the attribution the map must carry."""
    text = (resources.files("healthycity.outcomes.boundaries_data") / SHIPPED_FILE).read_text(
        encoding="utf-8"
    )
    document = json.loads(text)
    shapes = {f["properties"]["code"]: f["geometry"] for f in document["features"]}
    return shapes, str(document.get("attribution", ""))


def boundaries_or_shipped(
    session: Session, codes: Iterable[str]
) -> tuple[dict[str, dict[str, Any]], str]:
    """Each code's outline — loaded ones first, else the shipped borough outline — and
    where they came from, in words for the map's note ("" when none were found)."""
    wanted = list(dict.fromkeys(codes))
    found = boundaries_for(session, wanted)
    if len(found) == len(wanted):
        return found, "Boundaries loaded from a file." if found else ""
    shipped, attribution = shipped_boundaries()
    added = {c: shipped[c] for c in wanted if c not in found and c in shipped}
    if not added:
        return found, "Boundaries loaded from a file." if found else ""
    return {**found, **added}, attribution
