"""Cross-check the London pack against the seeds and public reference data.

These tests read ../shared (the seed papers and ONS/NHS lookups); the package itself
never does. They skip where the shared folder is absent.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

from healthycity.packs import Pack


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_boroughs_sit_in_the_sub_region_ons_puts_them(london: Pack, shared_dir: Path) -> None:
    lookup = _rows(shared_dir / "data/organisations/lsoa11_ccg21_lad21_lookup_london.csv")
    ccg_to_sub_region = {
        "NHS North West London CCG": "NWL",
        "NHS North Central London CCG": "NCL",
        "NHS North East London CCG": "NEL",
        "NHS South East London CCG": "SEL",
        "NHS South West London CCG": "SWL",
    }
    ons = {r["LAD21CD"]: (r["LAD21NM"], ccg_to_sub_region[r["CCG21NM"]]) for r in lookup}
    ours = {la.code: (la.name, la.sub_region) for la in london.local_authorities}
    assert ours == ons


def test_stp_codes_name_the_right_sub_region(london: Pack, shared_dir: Path) -> None:
    areas = _rows(shared_dir / "data/organisations/fingertipsnext_areas.csv")
    names = {r["AreaCode"]: r["AreaName"] for r in areas if r["AreaCode"].startswith("E54")}
    for sub in london.sub_regions:
        assert sub.name in names[sub.nhs_code], (sub.code, names[sub.nhs_code])


def test_ccgs_match_the_2014_nhs_list(london: Pack, shared_dir: Path) -> None:
    rows = _rows(shared_dir / "data/estates/nhs_choices_2014_ccgs_london.csv")
    listed = {r["OrganisationCode"]: r["OrganisationName"].lower() for r in rows}
    ours = {
        o.ods_code: o.name.lower() for o in london.organisations.organisations if o.kind == "ccg"
    }
    assert ours == listed


def test_ccg_sub_regions_match_the_estates_lookup(london: Pack, shared_dir: Path) -> None:
    rows = _rows(shared_dir / "data/estates/london_org_subregion_lookup.csv")
    listed = {r["org_code"]: r["subregion"] for r in rows if r["org_kind"] == "ccg"}
    ours = {o.ods_code: o.sub_region for o in london.organisations.organisations if o.kind == "ccg"}
    assert ours == listed


def _seed(shared_dir: Path, prefix: str) -> str:
    (path,) = (shared_dir / "seeds").glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def test_budgets_and_sros_match_seed_004(london: Pack, shared_dir: Path) -> None:
    text = _seed(shared_dir, "004")
    table = text[text.index("Appendix 2. Programme budgets") : text.index("Appendix 3.")]
    seed: dict[str, tuple[str, Decimal]] = {}
    for line in table.splitlines():
        cells = line.split("\t")
        if len(cells) == 3 and cells[2].startswith("£"):
            amount = re.match(r"£\s*([\d,]+)", cells[2])
            assert amount is not None
            seed[cells[0]] = (cells[1], Decimal(amount.group(1).replace(",", "")))
    ours = {p.name: (p.ccg_lead_sro, p.budget) for p in london.programmes}
    ours.update({line.name: (line.sro, line.budget) for line in london.portfolio_lines})
    assert ours == seed
    assert sum(amount for _, amount in seed.values()) == Decimal("15525236")


def test_fingertips_ids_match_the_trafford_files(london: Pack, shared_dir: Path) -> None:
    readme = (shared_dir / "data/README.md").read_text(encoding="utf-8")
    published = set(re.findall(r"^\| `[a-z0-9_]+\.csv` \| (\d+) \|", readme, flags=re.MULTILINE))
    assert len(published) == 10
    ours = {str(i.fingertips_id) for i in london.indicator_list if i.fingertips_id}
    # the shared files are a subset of the catalogue, save the FSM-only variant of school
    # readiness, which the catalogue also carries
    assert published <= ours


def test_aspiration_titles_are_the_seed_names(london: Pack, shared_dir: Path) -> None:
    text = _seed(shared_dir, "003")
    for aspiration in london.aspirations.aspirations:
        assert aspiration.title in text, aspiration.title


def test_forums_and_assurances_are_named_in_seed_001(london: Pack, shared_dir: Path) -> None:
    text = _seed(shared_dir, "001")
    for forum in london.organisations.forums:
        if forum.kind == "decision_making":
            assert f"- {forum.name}" in text
    for assurance in london.assurance.mayor_assurances:
        assert f"**{assurance.name}**" in text


def test_named_leads_appear_in_seed_004(london: Pack, shared_dir: Path) -> None:
    text = " ".join(_seed(shared_dir, "004").split())
    words = set(text.split())
    for programme in london.programmes:
        people = [p for lead in programme.spg_leads + programme.ccg_leads for p in lead.people]
        people += list(programme.hlp_leads)
        for person in people:
            if programme.slug == "interoperability" and person.name not in text:
                # the seed's interoperability SPG row wraps each name over two lines
                assert set(person.name.split()) <= words, person.name
            else:
                assert person.name in text, (programme.slug, person.name)


def test_sub_region_partnership_names_match_ons(london: Pack, shared_dir: Path) -> None:
    rows = _rows(shared_dir / "data/organisations/ons-population-estimates_ccg21_stp21.csv")
    names = {r["STP21 Code"]: r["STP21 Name"] for r in rows}
    for sub in london.sub_regions:
        assert sub.nhs_name == names[sub.nhs_code]
