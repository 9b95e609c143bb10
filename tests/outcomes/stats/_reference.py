"""Where PHEindicatormethods' reference data live, and how the tests read them.

The checkout is /work/main and the shared data /work/shared, a sibling; the files are
read in place and never copied into the repository (they are GPL-derived test data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / ".." / "shared" / "reference" / "pheindicatormethods"

#: Closed-form methods must match to this relative tolerance.
CLOSED_FORM_RTOL = 1e-9
#: Funnel limits: upstream solves by bisection with a 1e-7 stopping rule.
FUNNEL_RTOL = 1e-4
#: SII limits are simulated; upstream compares with 5% relative tolerance.
SIMULATION_RTOL = 0.05


def reference_file(name: str) -> Path:
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"PHEindicatormethods reference data not found at {REFERENCE.resolve()}")
    return path


def read(name: str) -> pl.DataFrame:
    return pl.read_csv(reference_file(name), infer_schema_length=None, null_values=["NA"])


def column(df: pl.DataFrame, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return df.get_column(name).cast(pl.Float64).to_numpy().astype(np.float64)


def assert_close(
    actual: Any, expected: Any, rtol: float = CLOSED_FORM_RTOL, atol: float = 0.0
) -> None:
    """Relative closeness with missing values required in the same places."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=rtol,
        atol=atol,
        equal_nan=True,
    )
