"""The schema on its own: models built in code enforce the same rules, and a small pack
for another city validates, so the format is not London-shaped."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from healthycity.packs import Pack, pack_counts, programme_budget_total, read_pack
from healthycity.packs.schema import Portfolio, Target, TransformationFund

OTHER_CITY = {
    "pack.yaml": """
schema_version: 1
id: exampleton
name: Exampleton Health and Care Partnership
city: Exampleton
country_code: E92000001
region_code: E12000002
licence: CC0
source_note: A made-up city for testing the pack format.
sources:
  - {id: plan, title: Exampleton plan, date: 2024}
""",
    "geography.yaml": """
country: {code: E92000001, name: England}
region: {code: E12000002, name: North West}
sub_regions:
  - {code: EX, name: Exampleton, nhs_code: E54000057, approx_population: 500000}
""",
    "local_authorities.csv": "code,name,sub_region,tile_col,tile_row\n"
    "E08000003,Manchester,EX,0,0\nE08000007,Stockport,EX,0,1\n",
    "organisations.yaml": """
organisations:
  - slug: exampleton-council
    name: Exampleton Council
    kind: council
    areas: [E08000003]
    party_to_agreement: true
  - {slug: other, name: Other Council, kind: council, areas: [E08000007], party_to_agreement: no}
""",
    "aspirations.yaml": """
aspirations:
  - slug: move-more
    number: 1
    title: Move more
    ambitions: [{slug: active, statement: More people active.}]
""",
    "vision.yaml": """
title: Exampleton vision
date: 2024-05
status: draft
life_stages: [{slug: all-ages, name: All ages}]
priorities:
  - slug: activity
    number: 1
    name: Activity
    life_stage: all-ages
    commitments: [{slug: active-city, statement: An active city by X%., target_placeholder: true}]
""",
    "programmes.yaml": """
themes: [{slug: health, name: Health}]
programmes:
  - slug: active-travel
    number: 1
    name: Active travel
    title: Walking and cycling
    theme: health
    vision: Everyone can walk and cycle safely.
    challenges: [Too many short car trips.]
    focus_areas: [{number: 1, text: Safe routes.}]
    aspirations: [move-more]
    ccg_lead_sro: A. Person
    budget: "1000.50"
""",
    "devolution.yaml": "{}\n",
    "assurance.yaml": "{}\n",
    "indicators.yaml": """
indicators:
  - id: "93014"
    fingertips_id: 93014
    name: Physically active adults
    definition: Adults doing 150 minutes a week.
    rationale: Activity prevents illness.
    methodology: Survey estimate.
    unit: "%"
    value_type: proportion
    multiplier: 100
    polarity: high_is_good
    numerator: {definition: Active adults., source: Active Lives}
    disclosure_control: Small samples suppressed.
    frequency: annual
    area_levels: [local_authority]
    aspirations: [move-more]
    commitments: [active-city]
    targets:
      - commitment: active-city
        statement: X% more
        kind: relative_change
        direction: increase
        status: not_set
        source: plan
""",
}


def write_pack(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text.lstrip(), encoding="utf-8")
    return folder


def test_another_city_can_bring_its_own_pack(tmp_path: Path) -> None:
    pack = read_pack(write_pack(tmp_path / "exampleton", OTHER_CITY))
    assert pack.id == "exampleton"
    assert programme_budget_total(pack) == Decimal("1000.50")
    counts = pack_counts(pack)
    assert counts["local_authorities"] == 2 and counts["pilots"] == 0


def test_pack_built_in_code_is_cross_checked(london: Pack) -> None:
    data = dict(london)
    data["local_authorities"] = london.local_authorities[1:]  # drop the City of London
    with pytest.raises(ValidationError, match="unknown area code 'E09000001'"):
        Pack.model_validate(data)
    assert Pack.model_validate(dict(london)) == london


def test_file_models_built_in_code_check_themselves(london: Pack) -> None:
    data = london.portfolio.model_dump()
    data["programmes"][1]["slug"] = data["programmes"][0]["slug"]
    with pytest.raises(ValidationError, match="duplicate slug"):
        Portfolio.model_validate(data)
    assert Portfolio.model_validate(data, context={"collect": True}).issues()


def test_models_are_frozen(london: Pack) -> None:
    with pytest.raises(ValidationError):
        london.programmes[0].budget = Decimal(0)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "absolute", "status": "set"}, "needs a value"),
        ({"kind": "absolute", "status": "not_set", "value": "5"}, "no value"),
        ({"kind": "zero", "status": "set", "value": "3"}, "value 0"),
        ({"kind": "direction", "status": "set"}, "needs a direction"),
        ({"kind": "benchmark", "status": "set", "direction": "decrease"}, "benchmark"),
        ({"kind": "absolute", "status": "set", "value": 1.5}, "quoted strings"),
    ],
)
def test_target_rules(fields: dict[str, object], message: str) -> None:
    base = {"aspiration": "a", "statement": "s", "source": "x"}
    with pytest.raises(ValidationError, match=message):
        Target.model_validate(base | fields)


def test_fund_must_reconcile_when_every_amount_is_known() -> None:
    categories = [
        {"slug": "a", "name": "A", "amount": "60.00"},
        {"slug": "b", "name": "B", "amount": "30.00"},
    ]
    with pytest.raises(ValidationError, match="not the total"):
        TransformationFund.model_validate(
            {"period": "2018/19", "total": "100.00", "categories": categories}
        )
