"""Problems with a pack, one line each: what the reader reports and how it words them.

A problem names the file, a location (a key path such as ``programmes[3].budget``, or a
line of a CSV file) and the reason. The helpers here turn pydantic's errors and the
schema's issues into those words; they read nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack.

    ``file`` is relative to the pack folder; ``location`` is a key path such as
    ``programmes[3].budget``, or ``line 12`` where there is no key (a syntax error, a CSV
    row). ``line`` is the line in the file where known.
    """

    file: str
    location: str
    reason: str
    line: int | None = None

    def __post_init__(self) -> None:
        # One problem is one line of output, whatever text a parser put in the reason.
        for name in ("file", "location", "reason"):
            text = " ".join(str(getattr(self, name)).split())
            object.__setattr__(self, name, text)

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.reason}"


class PackInvalid(Exception):
    """A pack was refused; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        summary = "\n".join(str(p) for p in self.problems)
        super().__init__(f"the pack has {count} problem(s):\n{summary}")


def format_loc(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "top level"


def clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Keep the data path of a pydantic error location, dropping validator labels."""
    return [
        part
        for part in loc
        if isinstance(part, int) or (isinstance(part, str) and not re.search(r"[\[\](]", part))
    ]


def error_reason(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown key (not part of the pack format; check the spelling)"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        message = f"{message} (got {shown})"
    return message


def csv_location(loc: str, lines: Sequence[int]) -> tuple[str, int | None]:
    """``local_authorities[4].sub_region`` as ``line 6, column sub_region``."""
    match = re.fullmatch(r"local_authorities\[(\d+)\](?:\.(\w+))?", loc)
    if match is None or int(match.group(1)) >= len(lines):
        return ("file", None)
    line = lines[int(match.group(1))]
    column = match.group(2)
    if column == "tile":
        return (f"line {line}, columns tile_col and tile_row", line)
    return (f"line {line}, column {column}" if column else f"line {line}", line)


def csv_reason(reason: str, lines: Sequence[int]) -> str:
    """Within-table issues cite the first row as ``[i]``; a CSV author wants its line."""

    def line_of(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"line {lines[index]}" if index < len(lines) else match.group(0)

    return re.sub(r"\[(\d+)\]", line_of, reason)
