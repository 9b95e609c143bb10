"""What an import reports: every problem with where it is, or what it changed.

Analysts fix files in a spreadsheet, so rows are counted as a spreadsheet counts them
(the header is row 1; a quoted field with line breaks is still one row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A bad million-row file must not produce a million-line report.
MAX_PROBLEMS = 200


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.reason}"


class ImportRefused(Exception):
    """The data were refused and nothing was written; ``problems`` says why."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        first = str(problems[0]) if problems else "refused"
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        super().__init__(first + more)


class ProblemList:
    """Collects problems, keeping the first ``MAX_PROBLEMS`` and counting the rest."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []
        self.total = 0

    def add(self, row: int | None, column: str | None, reason: str) -> None:
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(self.file, row, column, reason))

    def extend(self, other: ProblemList) -> None:
        self.total += other.total
        room = MAX_PROBLEMS - len(self.items)
        self.items.extend(other.items[: max(room, 0)])

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportRefused(self.items, self.total)


@dataclass
class ImportResult:
    """What a load changed. ``release_id`` is None when nothing changed."""

    source: str
    location: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    replaced_illustrative: int = 0
    release_id: int | None = None
    indicators_created: list[str] = field(default_factory=list)
    areas_created: list[str] = field(default_factory=list)
    illustrative: bool = False
    indicator_ids: list[str] = field(default_factory=list)
    # Parents (London, sub-regions) rolled up from their boroughs after the load
    # (healthycity.outcomes.aggregate): what was done, and differences from published rows.
    aggregates: list[str] = field(default_factory=list)
    aggregates_computed: int = 0
    aggregate_differences: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.inserted
            or self.updated
            or self.replaced_illustrative
            or self.indicators_created
            or self.areas_created
        )

    def summary(self) -> str:
        parts = [
            f"{self.rows} rows read",
            f"{self.inserted} inserted",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
        ]
        if self.indicators_created:
            parts.append(f"{len(self.indicators_created)} new indicator(s)")
        if self.areas_created:
            parts.append(f"{len(self.areas_created)} new area(s)")
        if self.replaced_illustrative:
            parts.append(f"{self.replaced_illustrative} illustrative rows replaced")
        if self.illustrative:
            parts.append("marked illustrative")
        if self.aggregates_computed:
            parts.append(f"{self.aggregates_computed} aggregate row(s) computed from the boroughs")
        return ", ".join(parts)
