"""Facts the open pages rest on: each pilot's status and dated milestones (seeds 001 and
003), the agreement's 54 pledges, and the shared objectives each programme serves."""

from __future__ import annotations

from pathlib import Path

from healthycity.packs import Pack
from tests.packs.conftest import Edit
from tests.packs.test_reader import problems_of


def test_pilots_carry_status_and_milestones(london: Pack) -> None:
    assert london.devolution.mou is not None and london.devolution.mou.pledges == 54
    pilots = london.devolution.pilots
    assert len(pilots) == 5
    for pilot in pilots:
        assert pilot.status == "tested"
        assert pilot.milestones[0].date == "2015-12" and pilot.milestones[-1].date == "2017-11-16"
        assert all(m.sources for m in pilot.milestones)


def test_programmes_serve_known_shared_objectives(london: Pack) -> None:
    objectives = {o.slug for o in london.aspirations.shared_objectives}
    by_slug = {p.slug: p for p in london.portfolio.programmes}
    assert all(set(p.objectives) <= objectives for p in by_slug.values())
    assert "fit-for-purpose-estate" in by_slug["estates"].objectives
    assert by_slug["workforce"].objectives == ("world-class-workforce",)
    assert "world-class-care" not in by_slug["interoperability"].aspirations


def test_an_unknown_shared_objective_is_a_problem(london_copy: Path, edit: Edit) -> None:
    edit(
        "programmes.yaml",
        "    objectives: [world-class-workforce]\n",
        "    objectives: [world-class-workfarce]\n",
    )
    problems = problems_of(london_copy)
    assert any("unknown shared objective 'world-class-workfarce'" in p.reason for p in problems)
