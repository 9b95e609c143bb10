"""The outcomes tables on both engines: the natural key holds, deletes cascade, indexes
for the page queries exist."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import models as m


def _base(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(Area(code="E92000001", name="England", area_type="country"))
        session.add(m.Indicator(id="hc-test", name="A test indicator"))


def _observation(**values: object) -> m.Observation:
    fields: dict[str, object] = {
        "indicator_id": "hc-test",
        "area_code": "E92000001",
        "period": "2018",
        "time_period_sortable": 20180000,
        "value": 1.5,
    }
    fields.update(values)
    return m.Observation(**fields)


def test_defaults_and_the_natural_key(engine: Engine) -> None:
    _base(engine)
    with transaction(engine) as session:
        session.add(_observation())
        session.add(_observation(sex="Male"))
        session.add(_observation(category_type="Deprivation decile", category="Most deprived"))
    with transaction(engine) as session:
        rows = session.scalars(select(m.Observation).order_by(m.Observation.id)).all()
        assert [(o.sex, o.age, o.category) for o in rows] == [
            ("Persons", "All ages", ""),
            ("Male", "All ages", ""),
            ("Persons", "All ages", "Most deprived"),
        ]
        assert not rows[0].illustrative and rows[0].release_id is None
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.add(_observation(value=2.0))


def test_deleting_an_indicator_removes_its_data_links_and_targets(engine: Engine) -> None:
    _base(engine)
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "hc-test")
        assert indicator is not None
        indicator.links.append(m.IndicatorLink(kind="aspiration", slug="healthy-start"))
        indicator.targets.append(
            m.Target(
                link_kind="aspiration",
                link_slug="healthy-start",
                statement="X%",
                kind="relative_change",
                status="not_set",
            )
        )
        session.add(_observation())
    with transaction(engine) as session:
        target = session.scalars(select(m.Target)).one()
        assert not target.is_set
        session.delete(session.get(m.Indicator, "hc-test"))
    with transaction(engine) as session:
        for model in (m.Observation, m.IndicatorLink, m.Target):
            assert session.scalars(select(model)).all() == []


def test_indexes_for_the_page_queries(engine: Engine) -> None:
    inspector = inspect(engine)
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("observation")}
    assert indexes["ix_observation_indicator_sortable"] == ["indicator_id", "time_period_sortable"]
    assert indexes["ix_observation_area_indicator"] == ["area_code", "indicator_id"]
    unique = inspector.get_unique_constraints("observation")
    assert [c["column_names"] for c in unique] == [
        ["indicator_id", "area_code", "period", "sex", "age", "category_type", "category"]
    ]
