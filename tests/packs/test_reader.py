"""Broken packs are refused with every problem, each naming its file and key or line."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthycity.packs import (
    PACKS_DIR,
    PackInvalid,
    Problem,
    read_pack,
    resolve_pack,
    validate_pack,
)
from tests.packs.conftest import Edit


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(PackInvalid) as caught:
        read_pack(path)
    problems = list(caught.value.problems)
    assert problems == validate_pack(path)
    return problems


def only(problems: list[Problem], file: str, location: str) -> Problem:
    found = [p for p in problems if p.file == file and p.location == location]
    assert len(found) == 1, "\n".join(map(str, problems))
    return found[0]


def test_problem_prints_as_one_line() -> None:
    problem = Problem("programmes.yaml", "programmes[3].budget", "must not be negative", 120)
    assert str(problem) == "programmes.yaml: programmes[3].budget: must not be negative"


def test_unknown_area_code(london_copy: Path, edit: Edit) -> None:
    edit("devolution.yaml", "areas: [E09000023]", "areas: [E09000099]")
    problem = only(problems_of(london_copy), "devolution.yaml", "pilots[2].areas[0]")
    assert "unknown area code 'E09000099'" in problem.reason
    assert problem.line is not None


def test_area_code_must_match_the_ons_pattern(london_copy: Path, edit: Edit) -> None:
    edit("devolution.yaml", "areas: [E09000023]", "areas: [Lewisham]")
    problem = only(problems_of(london_copy), "devolution.yaml", "pilots[2].areas[0]")
    assert "pattern" in problem.reason and "Lewisham" in problem.reason


def test_negative_budget(london_copy: Path, edit: Edit) -> None:
    edit("programmes.yaml", 'budget: "2073270.00"', 'budget: "-2073270.00"')
    problem = only(problems_of(london_copy), "programmes.yaml", "programmes[3].budget")
    assert "must not be negative" in problem.reason
    text = (london_copy / "programmes.yaml").read_text(encoding="utf-8").splitlines()
    assert problem.line is not None and "-2073270.00" in text[problem.line - 1]


def test_money_as_a_float_is_refused(london_copy: Path, edit: Edit) -> None:
    edit("programmes.yaml", 'budget: "191745.00"', "budget: 191745.50")
    problem = only(problems_of(london_copy), "programmes.yaml", "programmes[10].budget")
    assert "quoted decimal string" in problem.reason


def test_missing_required_field(london_copy: Path, edit: Edit) -> None:
    edit("programmes.yaml", "    ccg_lead_sro: Peter Kohn\n", "")
    problem = only(problems_of(london_copy), "programmes.yaml", "programmes[8].ccg_lead_sro")
    assert problem.reason == "required field is missing"


def test_misspelt_key(london_copy: Path, edit: Edit) -> None:
    edit("assurance.yaml", "nhs_tests_year: 2010", "nhs_test_year: 2010")
    problem = only(problems_of(london_copy), "assurance.yaml", "nhs_test_year")
    assert "unknown key" in problem.reason


def test_bad_yaml_names_the_line(london_copy: Path) -> None:
    path = london_copy / "vision.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[9] = "  - name: [unclosed"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = [p for p in problems_of(london_copy) if p.file == "vision.yaml"]
    assert len(problems) == 1
    assert problems[0].location.startswith("line ")
    assert "YAML syntax error" in problems[0].reason


def test_duplicate_slug(london_copy: Path, edit: Edit) -> None:
    edit("programmes.yaml", "  - slug: workforce\n", "  - slug: estates\n")
    problem = only(problems_of(london_copy), "programmes.yaml", "programmes[10].slug")
    assert "duplicate slug 'estates'" in problem.reason


def test_duplicate_yaml_key(london_copy: Path, edit: Edit) -> None:
    edit("pack.yaml", "city: London\n", "city: London\ncity: Paris\n")
    problems = problems_of(london_copy)
    assert any(p.file == "pack.yaml" and "repeats" in p.reason for p in problems)


def test_aliases_are_refused(london_copy: Path, edit: Edit) -> None:
    edit("pack.yaml", "city: London\n", "city: &c London\nname2: *c\n")
    problems = problems_of(london_copy)
    assert any("aliases" in p.reason for p in problems if p.file == "pack.yaml")


def test_missing_file(london_copy: Path) -> None:
    (london_copy / "assurance.yaml").unlink()
    problem = only(problems_of(london_copy), "assurance.yaml", "file")
    assert problem.reason == "required file is missing"


def test_bad_utf8(london_copy: Path) -> None:
    path = london_copy / "aspirations.yaml"
    path.write_bytes(path.read_bytes().replace(b"Give all", b"Give \xff all", 1))
    problems = [p for p in problems_of(london_copy) if p.file == "aspirations.yaml"]
    assert problems and problems[0].reason == "not valid UTF-8 text"


def test_csv_problems_name_line_and_column(london_copy: Path, edit: Edit) -> None:
    edit("local_authorities.csv", "E09000009,Ealing,NWL,1,2", "E09000009,Ealing,NWX,1,2")
    edit(
        "local_authorities.csv",
        "E09000013,Hammersmith and Fulham,NWL,1,3",
        "E09000013,Hammersmith and Fulham,NWL,1,2",
    )
    problems = problems_of(london_copy)
    sub_region = only(problems, "local_authorities.csv", "line 10, column sub_region")
    assert "unknown sub-region 'NWX'" in sub_region.reason
    tile = only(problems, "local_authorities.csv", "line 14, columns tile_col and tile_row")
    assert "duplicate tile" in tile.reason


def test_csv_missing_column(london_copy: Path, edit: Edit) -> None:
    edit(
        "local_authorities.csv",
        "code,name,sub_region,tile_col,tile_row",
        "code,name,region,tile_col,tile_row",
    )
    problems = [p for p in problems_of(london_copy) if p.file == "local_authorities.csv"]
    assert {p.reason for p in problems} == {
        "missing column 'sub_region'",
        "unknown column 'region'",
    }


def test_unset_target_with_a_value_is_refused(london_copy: Path, edit: Edit) -> None:
    old = (
        "        statement: An X% reduction in homicides; the figure was left to be agreed.\n"
        "        kind: relative_change\n"
        "        direction: decrease\n"
        "        value: null\n"
    )
    edit("indicators.yaml", old, old.replace("value: null", 'value: "10"'))
    problems = problems_of(london_copy)
    assert any(p.file == "indicators.yaml" and "not set has no value" in p.reason for p in problems)


def test_fund_categories_must_reconcile(london_copy: Path, edit: Edit) -> None:
    edit(
        "devolution.yaml",
        "      name: Unallocated\n      amount: null",
        '      name: Unallocated\n      amount: "200000000.00"',
    )
    problem = only(problems_of(london_copy), "devolution.yaml", "transformation_fund")
    assert "more than the total" in problem.reason


def test_unknown_references_across_files(london_copy: Path, edit: Edit) -> None:
    edit("programmes.yaml", "    aspirations: [gp-access]\n", "    aspirations: [gp-acess]\n")
    edit(
        "programmes.yaml",
        "      - {group: WELC, people: [Steve Gilvin]}\n      - {group: BHR, people: [Sarah See]}",
        "      - {group: WEL, people: [Steve Gilvin]}\n      - {group: BHR, people: [Sarah See]}",
    )
    problems = problems_of(london_copy)
    only(problems, "programmes.yaml", "programmes[6].aspirations[0]")
    only(problems, "programmes.yaml", "programmes[6].spg_leads[3].group")


def test_unmeasured_commitment(london_copy: Path, edit: Edit) -> None:
    edit("vision.yaml", "      - slug: zero-hiv\n", "      - slug: zero-new-hiv\n")
    problems = problems_of(london_copy)
    assert any(
        p.file == "vision.yaml" and "no indicator measures commitment 'zero-new-hiv'" in p.reason
        for p in problems
    )
    assert any(
        p.file == "indicators.yaml" and "unknown commitment 'zero-hiv'" in p.reason
        for p in problems
    )


def test_all_problems_are_collected_in_file_order(london_copy: Path, edit: Edit) -> None:
    edit("pack.yaml", "city: London\n", "city: ''\n")
    edit("programmes.yaml", 'budget: "472381.00"', 'budget: "-1.00"')
    edit("assurance.yaml", "nhs_tests_year: 2010", "nhs_tests_year: [2010")
    edit("devolution.yaml", "areas: [E09000012]", "areas: [E09000034]")
    problems = problems_of(london_copy)
    files = [p.file for p in problems]
    assert files == sorted(
        files, key=["pack.yaml", "programmes.yaml", "devolution.yaml", "assurance.yaml"].index
    )
    assert len(problems) == 4


def test_not_a_folder(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "nowhere")
    assert problems[0].location == "folder"


def test_resolve_pack(tmp_path: Path) -> None:
    assert resolve_pack("london") == PACKS_DIR / "london"
    assert resolve_pack(str(PACKS_DIR / "london" / "pack.yaml")) == PACKS_DIR / "london"
    assert resolve_pack(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(PackInvalid) as caught:
        resolve_pack("atlantis")
    assert "no built-in pack" in str(caught.value.problems[0])
