"""Programme pages and the health-inequality view read outcome indicators through
`outcomes.queries`, and say so plainly when there are none."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.portfolio import indicators, service
from tests.workspace.helpers import london_pack


def test_without_outcome_data_the_pages_say_so(engine: Engine) -> None:
    with transaction(engine) as session:
        statuses, note = indicators.programme_indicators(session, ["40501"], ["healthy-start"])
        assert note == indicators.UNAVAILABLE
        assert [s.id for s in statuses] in ([], ["40501"])
        rows, note = indicators.borough_values(session, ["E09000005"])
        assert rows == [] and note == indicators.UNAVAILABLE


def test_a_programme_shows_its_indicators_and_a_proposal_its_boroughs(engine: Engine) -> None:
    try:
        from healthycity.core.pack_loading import load_pack
        from healthycity.outcomes.demo import load_demo
    except ImportError as exc:  # the outcomes module is another engineer's, still growing
        pytest.skip(f"outcomes demo data are not available: {exc}")
    load_pack(engine, london_pack())
    load_demo(engine)
    with transaction(engine) as session:
        cancer = service.get_programme(session, "cancer")
        statuses, note = indicators.programme_indicators(session, [], cancer.aspirations)
        assert note is None and statuses
        assert all(s.name and s.period for s in statuses)
        assert any(s.value is not None and s.comparison for s in statuses)
        rows, note = indicators.borough_values(session, ["E09000005", "E09000009"])
        assert note is None
        assert {r.area_name for r in rows} == {"Brent", "Ealing"}
        assert all(r.london is not None for r in rows if r.value is not None)
