"""Imports into the observations store, one module per source.

Every import runs in one transaction and is refused whole, with every problem named by
file, row (as a person counts it: the header is row 1) and column, or written whole.
Importing the same data twice changes nothing. See docs/outcomes-data.md.

- ``fingertips_csv``: Fingertips' download / API ``all_data/csv`` format
- ``fingertips_api``: fetches that format (and indicator metadata) from the API
- ``counts_csv``: counts and denominators in, values and intervals computed
- ``long_format``: long files of area, period, value (e.g. fingertipsR extracts)
"""

from __future__ import annotations

from healthycity.outcomes.ingest.problems import ImportRefused, ImportResult, Problem

__all__ = ["ImportRefused", "ImportResult", "Problem"]
