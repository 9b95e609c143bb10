"""The London pack: the counts, totals and facts the product and its scripts rely on."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from healthycity.packs import (
    PACKS_DIR,
    Pack,
    pack_counts,
    pack_summary,
    programme_budget_total,
    validate_pack,
)


def test_london_pack_is_valid() -> None:
    assert validate_pack(PACKS_DIR / "london") == []


def test_exact_counts(london: Pack) -> None:
    counts = pack_counts(london)
    expected = {
        "local_authorities": 33,
        "sub_regions": 5,
        "aspirations": 10,
        "vision_priorities": 9,
        "commitments": 9,
        "programmes": 13,
        "portfolio_lines": 2,
        "devolution_areas": 7,
        "pilots": 5,
        "assurances": 6,
        "nhs_tests": 4,
        "bed_test_conditions": 3,
        "forums": 5,
        "ccgs": 32,
        "councils": 33,
        "life_stages": 3,
        "fund_categories": 3,
        "shared_objectives": 10,
        "planning_groups": 6,
    }
    assert {key: counts[key] for key in expected} == expected
    assert counts["indicators"] >= 25
    assert counts["organisations"] >= 32 + 33 + 4


def test_budget_total_is_exact(london: Pack) -> None:
    assert programme_budget_total(london) == Decimal("15525236.00")
    programmes = sum((p.budget for p in london.programmes), Decimal(0))
    assert programmes == Decimal("13310073.00")
    assert [line.budget for line in london.portfolio_lines] == [
        Decimal("865163.00"),
        Decimal("1350000.00"),
    ]


def test_money_is_decimal_never_float(london: Pack) -> None:
    for programme in london.programmes:
        assert isinstance(programme.budget, Decimal)
    text = (PACKS_DIR / "london" / "programmes.yaml").read_text(encoding="utf-8")
    for match in re.finditer(r"^\s*budget: (.*)$", text, flags=re.MULTILINE):
        assert re.fullmatch(r'"\d+\.\d\d"', match.group(1)), match.group(0)


def test_summary_has_the_shape_scripts_rely_on(london: Pack) -> None:
    summary = json.loads(json.dumps(pack_summary(london)))
    assert summary["pack"] == "london"
    assert summary["programme_budget_total"] == "15525236.00"
    assert summary["counts"]["programmes"] == 13


def test_every_aspiration_and_commitment_has_an_indicator(london: Pack) -> None:
    aspirations = {slug for i in london.indicator_list for slug in i.aspirations}
    commitments = {slug for i in london.indicator_list for slug in i.commitments}
    assert aspirations == {a.slug for a in london.aspirations.aspirations}
    assert commitments == {c.slug for c in london.vision.commitments()}
    for aspiration in london.aspirations.aspirations:
        with_target = [
            i for i in london.indicator_list for t in i.targets if t.aspiration == aspiration.slug
        ]
        assert with_target, f"no target for aspiration {aspiration.slug}"


def _target(pack: Pack, indicator_id: str, link: str) -> dict[str, object]:
    indicator = next(i for i in pack.indicator_list if i.id == indicator_id)
    target = next(t for t in indicator.targets if link in (t.aspiration, t.commitment))
    return target.model_dump()


def test_targets_as_the_seeds_state_them(london: Pack) -> None:
    obesity = _target(london, "90323", "healthy-start")
    assert (obesity["kind"], obesity["direction"], obesity["value"]) == (
        "relative_change",
        "decrease",
        Decimal(10),
    )
    assert obesity["target_period"] == "2020"
    smoking = _target(london, "92443", "unhealthy-habits")
    assert (smoking["kind"], smoking["value"], smoking["unit"]) == ("absolute", Decimal(13), "%")
    active = _target(london, "93014", "fitter-london")
    assert (active["kind"], active["value"]) == ("absolute", Decimal(70))
    hiv = _target(london, "hc-new-hiv-infections", "zero-hiv")
    assert (hiv["kind"], hiv["target_period"], hiv["status"]) == ("zero", "2023", "set")
    smi = _target(london, "hc-smi-life-expectancy-gap", "severe-mental-illness")
    assert (smi["kind"], smi["direction"], smi["value"]) == (
        "relative_change",
        "decrease",
        Decimal(5),
    )


def test_x_percent_commitments_are_not_set(london: Pack) -> None:
    placeholders = {c.slug for c in london.vision.commitments() if c.target_placeholder}
    assert placeholders == {
        "cut-child-obesity",
        "child-friendly-city",
        "asthma-plans",
        "reduce-violence",
        "wellbeing-and-access",
        "stay-well-at-home",
    }
    for slug in placeholders:
        unset = [
            t
            for i in london.indicator_list
            for t in i.targets
            if t.commitment == slug and t.status == "not_set"
        ]
        assert unset, slug
        assert all(t.value is None for t in unset)


def test_fingertips_ids_match_indicator_ids(london: Pack) -> None:
    for indicator in london.indicator_list:
        if indicator.id.startswith("hc-"):
            assert indicator.fingertips_id is None
        else:
            assert indicator.fingertips_id == int(indicator.id)
    ids = {i.id for i in london.indicator_list}
    # Ids verified against public Fingertips data and code (school readiness, NCMP,
    # smoking, activity, mortality, SMI, life expectancy).
    assert {"90631", "90323", "92443", "93014", "91096", "40501", "90362"} <= ids


def test_sub_regions_and_stp_codes(london: Pack) -> None:
    codes = {s.code: s.nhs_code for s in london.sub_regions}
    assert codes == {
        "NWL": "E54000027",
        "NCL": "E54000028",
        "NEL": "E54000029",
        "SEL": "E54000030",
        "SWL": "E54000031",
    }
    populations = {s.code: s.approx_population for s in london.sub_regions}
    assert populations == {
        "NWL": 2_000_000,
        "NCL": 1_400_000,
        "NEL": 1_900_000,
        "SWL": 1_500_000,
        "SEL": 1_700_000,
    }


def test_local_authorities_and_tile_grid(london: Pack) -> None:
    codes = [la.code for la in london.local_authorities]
    assert sorted(codes) == [f"E090000{n:02d}" for n in range(1, 34)]
    tiles = {(la.tile_col, la.tile_row) for la in london.local_authorities}
    assert len(tiles) == 33
    by_name = {la.name: (la.tile_col, la.tile_row) for la in london.local_authorities}
    cols = [c for c, _ in tiles]
    rows = [r for _, r in tiles]
    city_col, city_row = by_name["City of London"]
    assert min(cols) < city_col < max(cols) and min(rows) < city_row < max(rows)
    assert by_name["Havering"][0] == max(cols)
    assert by_name["Hillingdon"][0] == min(cols)
    assert by_name["Enfield"][1] == min(rows)
    assert by_name["Camden"][1] < by_name["Lambeth"][1]  # north of the river is up


def test_every_borough_has_one_council_and_a_ccg(london: Pack) -> None:
    organisations = london.organisations.organisations
    city_and_hackney = next(o for o in organisations if o.slug == "city-and-hackney-ccg")
    assert city_and_hackney.areas == ("E09000001", "E09000012")
    for la in london.local_authorities:
        councils = [o for o in organisations if o.kind == "council" and la.code in o.areas]
        ccgs = [o for o in organisations if o.kind == "ccg" and la.code in o.areas]
        assert len(councils) == 1 and ccgs, la.name
    parties = {
        o.slug for o in organisations if o.party_to_agreement and o.kind not in ("ccg", "council")
    }
    assert parties == {"mayor-of-london", "nhs-england", "public-health-england"}


def test_forums_and_pilots(london: Pack) -> None:
    forums = [f.name for f in london.organisations.forums if f.kind == "decision_making"]
    assert forums == [
        "London Health Board",
        "Strategic Partnership Board",
        "London Estates Board",
        "London Workforce Board",
        "London Prevention Board",
    ]
    themes = {p.slug: (p.theme, p.areas) for p in london.devolution.pilots}
    assert themes["haringey-prevention"] == ("prevention", ("E09000014",))
    assert themes["ncl-estates"][0] == "estates"
    assert len(themes["ncl-estates"][1]) == 5
    assert themes["bhr-integration"][1] == ("E09000002", "E09000016", "E09000026")
    fund = london.devolution.transformation_fund
    assert fund is not None and fund.total == Decimal("114000000.00")
    assert [c.slug for c in fund.categories] == [
        "contracts-issued",
        "purpose-defined",
        "unallocated",
    ]
    mou = london.devolution.mou
    assert mou is not None and mou.signed == "2017-11-16" and mou.pledges == 54


def test_assurance_facts(london: Pack) -> None:
    names = [t.name for t in london.assurance.mayor_assurances]
    assert names == [
        "Patient and public engagement",
        "Clinical Support",
        "Impact on health inequality",
        "Impact on social care",
        "Hospital capacity",
        "Sufficient investment",
    ]
    assert london.assurance.bed_test is not None
    assert london.assurance.bed_test.minimum_conditions_met == 1
    assert london.assurance.nhs_tests_year == 2010


def test_programmes_have_their_parts(london: Pack) -> None:
    for programme in london.programmes:
        assert programme.vision and programme.challenges and programme.focus_areas
        assert programme.local_actions and programme.collaborative_actions
        assert programme.aspirations and programme.ccg_lead_sro and programme.hlp_leads
        assert {lead.group for lead in programme.spg_leads} == {
            "SEL",
            "NCL",
            "NWL",
            "WELC",
            "BHR",
            "SWL",
        }
        for lead in programme.ccg_leads:
            assert london.sub_region("SEL").code == next(
                la.sub_region for la in london.local_authorities if la.code == lead.area
            )
    sros = {p.slug: p.ccg_lead_sro for p in london.programmes}
    assert sros["cancer"] == "Paul Haigh" and sros["estates"] == "Peter Kohn"
    specialised = next(p for p in london.programmes if p.slug == "specialised-commissioning")
    assert specialised.budget == Decimal("0.00") and specialised.budget_note


def test_package_never_reads_shared_data() -> None:
    for path in Path(PACKS_DIR).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, path
        assert not re.search(r"""["'/]shared\b""", text), path
