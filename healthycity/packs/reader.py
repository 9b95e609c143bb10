"""Read and validate a city pack folder: pure Python, no database, no web.

The reader's promise to a pack author is *all* the problems at once, one line each,
naming the file and the key (or the line) and the reason, so a broken pack can be fixed
in one pass rather than one error per run. Anything that goes wrong while reading a
pack - a missing file, bad UTF-8, a YAML syntax error, a wrong type, a dangling
reference - becomes a :class:`~healthycity.packs.problems.Problem`; :func:`read_pack`
raises :class:`~healthycity.packs.problems.PackInvalid` carrying them, and never any
other exception for bad content. The YAML subset packs use is read by
:mod:`healthycity.packs.yamlfile`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import ValidationError

from healthycity.packs.problems import (
    PackInvalid,
    Problem,
    clean_loc,
    csv_location,
    csv_reason,
    error_reason,
    format_loc,
)
from healthycity.packs.schema import (
    Aspirations,
    Assurance,
    Devolution,
    Geography,
    Indicators,
    LocalAuthority,
    Organisations,
    Pack,
    PackInfo,
    Portfolio,
    Vision,
)
from healthycity.packs.schema.common import FileIssue, FileModel
from healthycity.packs.schema.global_cities import (
    GLOBAL_CITIES_FILE,
    CityFigure,
    read_global_cities,
)
from healthycity.packs.schema.local_authorities import (
    LOCAL_AUTHORITIES_FILE,
    LOCAL_AUTHORITY_COLUMNS,
    local_authority_issues,
)
from healthycity.packs.schema.pack import FILE_MODELS, PACK_FILES, cross_file_issues
from healthycity.packs.summary import pack_counts, pack_summary, programme_budget_total
from healthycity.packs.yamlfile import load_yaml, node_line, parse_path

__all__ = [
    "PACKS_DIR",
    "PackInvalid",
    "Problem",
    "builtin_packs",
    "pack_counts",
    "pack_summary",
    "programme_budget_total",
    "read_pack",
    "resolve_pack",
    "validate_pack",
]

PACKS_DIR = Path(__file__).resolve().parent
"""Where the built-in packs live: one folder per pack (``london``)."""

_COLLECT = {"collect": True}
_M = TypeVar("_M", bound=FileModel)


def _validation_problems(exc: ValidationError, file: str, root: yaml.Node | None) -> list[Problem]:
    errors = exc.errors()
    inner = {tuple(clean_loc(e["loc"]))[:-1] for e in errors if e["loc"]}
    problems = []
    for error in errors:
        loc = clean_loc(error["loc"])
        if error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == tuple(loc) for other in inner
        ):
            continue  # a list is "empty" only because its items failed; those are reported
        line = node_line(root, loc)
        problems.append(Problem(file, format_loc(loc), error_reason(error), line))
    return problems


# ---------------------------------------------------------------------------- files


def _read_text(folder: Path, file: str) -> tuple[str | None, list[Problem]]:
    path = folder / file
    if not path.is_file():
        return None, [Problem(file, "file", "required file is missing")]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(file, "file", f"cannot be read: {exc.strerror or exc}")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(file, f"line {line}", "not valid UTF-8 text", line)]


def _read_yaml_file(
    folder: Path, file: str, model: type[FileModel]
) -> tuple[FileModel | None, yaml.Node | None, list[Problem]]:
    text, problems = _read_text(folder, file)
    if text is None:
        return None, None, problems
    data, root, problems = load_yaml(text, file)
    if problems:
        return None, root, problems
    try:
        parsed = model.model_validate(data, context=_COLLECT)
    except ValidationError as exc:
        return None, root, _validation_problems(exc, file, root)
    except RecursionError:
        return None, root, [Problem(file, "file", "the data is nested too deeply")]
    issues = [
        Problem(file, loc, reason, node_line(root, parse_path(loc)))
        for loc, reason in parsed.issues()
    ]
    return parsed, root, issues


def _read_local_authorities(
    folder: Path,
) -> tuple[tuple[LocalAuthority, ...] | None, list[int], list[Problem]]:
    """The local-authority table, the file line of each row, and any problems."""
    file = LOCAL_AUTHORITIES_FILE
    text, problems = _read_text(folder, file)
    if text is None:
        return None, [], problems
    rows: list[LocalAuthority] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return None, [], [Problem(file, "line 1", "the file is empty", 1)]
        header = [h.strip() for h in header]
        missing = [c for c in LOCAL_AUTHORITY_COLUMNS if c not in header]
        unknown = [c for c in header if c not in LOCAL_AUTHORITY_COLUMNS]
        for column in missing:
            problems.append(Problem(file, "line 1", f"missing column {column!r}", 1))
        for column in unknown:
            problems.append(Problem(file, "line 1", f"unknown column {column!r}", 1))
        if len(set(header)) != len(header):
            problems.append(Problem(file, "line 1", "a column name is repeated", 1))
        if problems:
            return None, [], problems
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                reason = f"expected {len(header)} values, found {len(values)}"
                problems.append(Problem(file, f"line {line}", reason, line))
                continue
            record = {k: v.strip() for k, v in zip(header, values, strict=True) if v.strip()}
            try:
                rows.append(LocalAuthority.model_validate(record, context=_COLLECT))
                lines.append(line)
            except ValidationError as exc:
                for error in exc.errors():
                    path = clean_loc(error["loc"])
                    column = f", column {path[0]}" if path else ""
                    problems.append(
                        Problem(file, f"line {line}{column}", error_reason(error), line)
                    )
    except csv.Error as exc:
        return None, [], [Problem(file, f"line {reader.line_num}", f"CSV error: {exc}")]
    usable = not problems  # every row parsed: references to it can still be checked
    for loc, reason in local_authority_issues(rows):
        where, line_no = csv_location(loc, lines)
        problems.append(Problem(file, where, csv_reason(reason, lines), line_no))
    return (tuple(rows) if usable else None), lines, problems


# ---------------------------------------------------------------------------- public API


def _check_folder(path: Path | str) -> tuple[Pack | None, list[Problem]]:
    folder = Path(path)
    if not folder.is_dir():
        return None, [Problem(str(path), "folder", "no such pack folder")]
    problems: list[Problem] = []
    parsed: dict[str, FileModel | None] = {}
    roots: dict[str, yaml.Node | None] = {}
    for file, model in FILE_MODELS.items():
        parsed[file], roots[file], found = _read_yaml_file(folder, file, model)
        problems += found
    local_authorities, la_lines, found = _read_local_authorities(folder)
    problems += found
    global_cities: tuple[CityFigure, ...] | None = ()
    if (folder / GLOBAL_CITIES_FILE).exists():  # optional: comparisons with other cities
        text, found = _read_text(folder, GLOBAL_CITIES_FILE)
        if text is not None:
            global_cities, found = read_global_cities(text)
        problems += found

    def typed(file: str, model: type[_M]) -> _M | None:
        value = parsed.get(file)
        return value if isinstance(value, model) else None

    cross: list[FileIssue] = cross_file_issues(
        pack=typed("pack.yaml", PackInfo),
        geography=typed("geography.yaml", Geography),
        local_authorities=local_authorities,
        organisations=typed("organisations.yaml", Organisations),
        aspirations=typed("aspirations.yaml", Aspirations),
        vision=typed("vision.yaml", Vision),
        portfolio=typed("programmes.yaml", Portfolio),
        devolution=typed("devolution.yaml", Devolution),
        assurance=typed("assurance.yaml", Assurance),
        indicators=typed("indicators.yaml", Indicators),
    )
    for file, loc, reason in cross:
        if file == LOCAL_AUTHORITIES_FILE:
            where, line = csv_location(loc, la_lines)
            problems.append(Problem(file, where, reason, line))
        else:
            line = node_line(roots.get(file), parse_path(loc))
            problems.append(Problem(file, loc, reason, line))
    order = {file: i for i, file in enumerate(PACK_FILES)}
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line or 0))
    if problems:
        return None, problems
    pack = Pack.model_validate(
        {
            "pack": parsed["pack.yaml"],
            "geography": parsed["geography.yaml"],
            "local_authorities": local_authorities,
            "organisations": parsed["organisations.yaml"],
            "aspirations": parsed["aspirations.yaml"],
            "vision": parsed["vision.yaml"],
            "portfolio": parsed["programmes.yaml"],
            "devolution": parsed["devolution.yaml"],
            "assurance": parsed["assurance.yaml"],
            "indicators": parsed["indicators.yaml"],
            "global_cities": global_cities or (),
        },
        context=_COLLECT,
    )
    return pack, []


def validate_pack(path: Path | str) -> list[Problem]:
    """Every problem with the pack folder at ``path``; an empty list means it is valid."""
    return _check_folder(path)[1]


def read_pack(path: Path | str) -> Pack:
    """Read and validate the pack folder at ``path``; raise :class:`PackInvalid` if broken."""
    pack, problems = _check_folder(path)
    if pack is None:
        raise PackInvalid(problems)
    return pack


def builtin_packs() -> list[str]:
    """Names of the packs shipped inside the package."""
    return sorted(p.parent.name for p in PACKS_DIR.glob("*/pack.yaml"))


def resolve_pack(name_or_path: str) -> Path:
    """A built-in pack's folder by name (``london``), else the folder at that path.

    A bare name prefers the built-in pack, so ``london`` means the shipped pack even if
    the current directory happens to hold a folder of that name. A path to a
    ``pack.yaml`` file means its folder.
    """
    if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", name_or_path):
        builtin = PACKS_DIR / name_or_path
        if (builtin / "pack.yaml").is_file():
            return builtin
    path = Path(name_or_path).expanduser()
    if path.is_file() and path.name == "pack.yaml":
        path = path.parent
    if path.is_dir():
        return path.resolve()
    known = ", ".join(builtin_packs()) or "none"
    reason = f"no built-in pack of that name (built in: {known}) and no such folder"
    raise PackInvalid([Problem(name_or_path, "folder", reason)])
