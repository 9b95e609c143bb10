#!/usr/bin/env python3
"""Rebuild the published-figures snapshot shipped in ``healthycity/outcomes/published/``.

Reads the Fingertips extracts in ``../shared/data/fingertips/trafford_dashboard/`` (the
package itself never reads ``../shared``), keeps England and London's 33 local
authorities, and writes one long-format CSV per Fingertips indicator plus
``manifest.json`` (source, licence, attribution, extract date, rows, sha256 of each
source file). Run from the repository root:

    .venv/bin/python scripts/build_published_snapshot.py [--shared ../shared]

The output is deterministic: the same source files give byte-identical snapshot files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "healthycity" / "outcomes" / "published"
# Source file → Fingertips indicator id (../shared/data/README.md, section 1a).
FILES = {
    "excess_weight_reception.csv": "20601",
    "excess_weight_year6.csv": "20602",
    "school_readiness_fsm.csv": "90632",
    "smoking_adults.csv": "92443",
    "physically_inactive.csv": "93015",
    "deaths_at_home.csv": "92727",
    "mortality_serious_mental_illness.csv": "91096",
    "preventable_mortality_from_cancer.csv": "40502",
    "healthy_life_expectancy_at_birth.csv": "90362",
    "slope_index_of_inequality.csv": "92901",
}
UPSTREAM = "traffordDataLab/dashboard"
UPSTREAM_COMMIT = "83e9bc0cd14d1fac19c743c1e5eece54e0145458"
EXTRACT_DATE = "2020-08"  # the upstream snapshot commit (Aug 2020)
LICENCE = "Open Government Licence v3.0"
ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Source: Office for Health Improvement and Disparities (formerly Public Health "
    "England), Fingertips public health profiles; extracted by Trafford Data Lab."
)


def keep(code: str) -> bool:
    return code == "E92000001" or (code.startswith("E09") and len(code) == 9)


def build(shared: Path) -> dict[str, object]:
    folder = shared / "data" / "fingertips" / "trafford_dashboard"
    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, indicator in sorted(FILES.items(), key=lambda item: item[1]):
        source = folder / name
        raw = source.read_bytes()
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
        columns = list(reader.fieldnames or [])
        rows = [r for r in reader if keep(r["area_code"])]
        target = OUT / f"{indicator}.csv"
        with target.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        entries.append(
            {
                "indicator_id": indicator,
                "file": target.name,
                "source_file": name,
                "name": rows[0].get("indicator", "") if rows else "",
                "rows": len(rows),
                "periods": sorted({r["period"] for r in rows}),
                "source_sha256": hashlib.sha256(raw).hexdigest(),
            }
        )
    manifest: dict[str, object] = {
        "source": f"https://github.com/{UPSTREAM} (commit {UPSTREAM_COMMIT})",
        "publisher": "OHID / PHE Fingertips (https://fingertips.phe.org.uk)",
        "licence": LICENCE,
        "licence_url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "attribution": ATTRIBUTION,
        "extract_date": EXTRACT_DATE,
        "areas": "England (E92000001) and London's 33 local authorities (E09000001-33)",
        "indicators": entries,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    manifest = build(args.shared)
    indicators = manifest["indicators"]
    assert isinstance(indicators, list)
    print(f"wrote {len(indicators)} indicators to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
