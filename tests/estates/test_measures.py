"""The measures are sums divided, never averaged ratios, and missing means left out."""

from __future__ import annotations

import numpy as np

from healthycity.estates import measures as m

NAN = np.nan


def test_ratios_sum_before_dividing() -> None:
    backlog = np.array([100.0, 10_000.0])
    area = np.array([1.0, 1000.0])
    groups = np.array([0, 0])
    ratio = m.group_ratio(backlog, area, groups, 1)
    assert ratio[0] == 10_100.0 / 1001.0  # not (100 + 10) / 2


def test_rows_missing_either_side_are_left_out_of_both() -> None:
    ratio = m.group_ratio(
        np.array([10.0, 50.0, NAN]), np.array([1.0, NAN, 4.0]), np.array([0, 0, 0]), 1
    )
    assert ratio[0] == 10.0


def test_group_sum_is_nan_only_when_nothing_was_reported() -> None:
    total = m.group_sum(np.array([NAN, 1.0, NAN]), np.array([0, 1, 1]), 2)
    assert np.isnan(total[0]) and total[1] == 1.0


def test_pence_add_exactly() -> None:
    pence = np.array([123456789012.0, 1.0, 99.0] * 100)
    assert m.group_sum(pence, np.zeros(300, dtype=np.int64), 1)[0] == 12345678911200.0


def test_surplus_uses_unutilised_only_before_the_split() -> None:
    f = m.SiteFigures(
        gia=np.array([100.0, 100.0]),
        occupied=np.array([NAN, NAN]),
        clinical=np.array([NAN, NAN]),
        non_clinical=np.array([NAN, NAN]),
        empty_pct=np.array([1.0, NAN]),
        under_used_pct=np.array([2.0, NAN]),
        unutilised_pct=np.array([NAN, 5.0]),
        not_suitable_pct=np.array([NAN, NAN]),
        land_owned=np.array([NAN, NAN]),
        land_not_delivering=np.array([NAN, NAN]),
        backlog={b: np.array([NAN, NAN]) for b in m.BANDS},
        critical_infrastructure=np.array([NAN, NAN]),
        running_cost=np.array([NAN, NAN]),
    )
    assert list(m.surplus_m2(f)) == [3.0, 5.0]
    assert np.isnan(m.backlog_total(f)).all()


def test_quartiles() -> None:
    assert m.quartiles(np.array([1.0, 2.0, 3.0, 4.0, 5.0, NAN])) == (2.0, 3.0, 4.0)
    assert m.quartiles(np.array([NAN])) is None
