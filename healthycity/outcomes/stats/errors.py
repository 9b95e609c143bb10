"""The one error type the statistics raise for bad input, and the warning they give.

The PHE R package validates up front with plain messages; we do the same, and we also
say *where*: ``row`` is the 0-based index into the arrays passed in (``None`` when the
problem is not about one row) and ``column`` names the argument or column at fault.
Callers that show rows to people (``compute_table``) re-word the location in their own
terms (``message``), so the plain ``reason`` is kept separately from the full message.
"""

from __future__ import annotations


class StatsInputError(ValueError):
    """Input the statistics cannot use: negative counts, missing populations, and so on."""

    def __init__(
        self,
        reason: str,
        *,
        row: int | None = None,
        column: str | None = None,
        message: str | None = None,
    ) -> None:
        self.reason = reason
        self.row = row
        self.column = column
        super().__init__(message if message is not None else self._compose())

    def _compose(self) -> str:
        where: list[str] = []
        if column := self.column:
            where.append(f"column '{column}'")
        if self.row is not None:
            where.append(f"row {self.row} (counting from 0)")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class StatsWarning(UserWarning):
    """Results were produced, but some were suppressed or rest on thin data."""
