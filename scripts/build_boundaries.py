#!/usr/bin/env python3
"""Rebuild the borough boundaries shipped in ``healthycity/outcomes/boundaries_data/``.

Reads ONS's "Local Authority Districts (May 2024) Boundaries UK BSC" cut to London's 33
local authorities (``../shared/data/boundaries/london_lad_may2024_bsc.geojson``; the
package itself never reads ``../shared``), keeps each feature's code and name, rounds
positions to four decimal places (about 10 m, finer than the 20 m generalisation of the
source), drops repeated positions, and writes ``london_boroughs.json`` (GeoJSON) with
its source, licence and extract date as top-level members. Run from the repository root:

    .venv/bin/python scripts/build_boundaries.py [--source PATH]

The output is deterministic: the same source file gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "healthycity" / "outcomes" / "boundaries_data" / "london_boroughs.json"
SOURCE = ROOT.parent / "shared" / "data" / "boundaries" / "london_lad_may2024_bsc.geojson"
PLACES = 4
ATTRIBUTION = (
    "Source: Office for National Statistics, Local Authority Districts (May 2024) "
    "Boundaries UK BSC, licensed under the Open Government Licence v3.0. Contains OS data "
    "© Crown copyright and database right 2024."
)


def _ring(ring: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y, *_ in ring:
        point = [round(float(x), PLACES), round(float(y), PLACES)]
        if not out or out[-1] != point:
            out.append(point)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out


def simplify(geometry: dict[str, Any]) -> dict[str, Any]:
    if geometry["type"] == "Polygon":
        coordinates: Any = [_ring(r) for r in geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        coordinates = [[_ring(r) for r in p] for p in geometry["coordinates"]]
    else:
        raise ValueError(f"unexpected geometry {geometry['type']}")
    return {"type": geometry["type"], "coordinates": coordinates}


def build(source: Path) -> dict[str, Any]:
    document = json.loads(source.read_text(encoding="utf-8"))
    features = []
    for feature in sorted(document["features"], key=lambda f: f["properties"]["LAD24CD"]):
        code = feature["properties"]["LAD24CD"]
        if not code.startswith("E09"):
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": feature["properties"]["LAD24NM"]},
                "geometry": simplify(feature["geometry"]),
            }
        )
    if len(features) != 33:
        raise SystemExit(f"expected London's 33 local authorities, found {len(features)}")
    return {
        "type": "FeatureCollection",
        "name": "London local authorities (May 2024), generalised",
        "source": "ONS Open Geography Portal: Local Authority Districts (May 2024) "
        "Boundaries UK BSC, London's 33 features",
        "licence": "Open Government Licence v3.0",
        "attribution": ATTRIBUTION,
        "extracted": "2024-05",
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "features": features,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(build(args.source), ensure_ascii=False, separators=(",", ":"))
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()
