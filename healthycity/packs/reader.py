"""Read and validate a city pack folder: pure Python, no database, no web.

The reader's promise to a pack author is *all* the problems at once, one line each,
naming the file and the key (or the line) and the reason, so a broken pack can be fixed
in one pass rather than one error per run. Anything that goes wrong while reading a
pack - a missing file, bad UTF-8, a YAML syntax error, a wrong type, a dangling
reference - becomes a :class:`Problem`; :func:`read_pack` raises :class:`PackInvalid`
carrying them, and never any other exception for bad content.

YAML is read with three deliberate restrictions, because each YAML 1.1 convenience is a
trap in hand-written data: dates stay text (so ``2017-13-01`` is a clear schema error,
not a crash), only ``true``/``false`` are booleans (so ``no`` stays a word), and anchors,
aliases and repeated keys are refused (a repeated key would silently win).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from healthycity.packs.schema import (
    FILE_MODELS,
    LOCAL_AUTHORITIES_FILE,
    LOCAL_AUTHORITY_COLUMNS,
    PACK_FILES,
    Aspirations,
    Assurance,
    Devolution,
    FileIssue,
    FileModel,
    Geography,
    Indicators,
    LocalAuthority,
    Organisations,
    Pack,
    PackInfo,
    Portfolio,
    Vision,
    cross_file_issues,
    local_authority_issues,
)

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


# ---------------------------------------------------------------------------- YAML


try:  # libyaml's parser is about seven times faster; the pure-Python one behaves the same
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _PackLoader(_BaseLoader):
    """A safe loader without implicit timestamps and YAML 1.1 yes/no/on/off booleans."""


_PackLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PackLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _walk_nodes(root: yaml.Node, file: str) -> list[Problem]:
    """Refuse aliases (a node reached twice) and repeated mapping keys, without recursion."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            where = f"line {_line(node)}"
            problems.append(
                Problem(file, where, "anchors and aliases are not supported", _line(node))
            )
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in keys:
                        reason = f"key {key.value!r} repeats the one on line {keys[key.value]}"
                        problems.append(Problem(file, f"line {_line(key)}", reason, _line(key)))
                    else:
                        keys[key.value] = _line(key)
                stack.append(value)
                if not isinstance(key, yaml.ScalarNode):
                    stack.append(key)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return problems


def _load_yaml(text: str, file: str) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """Parse YAML text into data plus its node tree (for line numbers), or problems."""
    loader = _PackLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, [Problem(file, "line 1", "the file is empty", 1)]
        problems = _walk_nodes(node, file)
        if problems:
            return None, node, problems
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        reason = " ".join(x for x in (exc.context, exc.problem) if x) or "not valid YAML"
        where = f"line {line}" if line is not None else "file"
        return None, None, [Problem(file, where, f"YAML syntax error: {reason}", line)]
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        return None, None, [Problem(file, "file", f"cannot read the YAML: {exc}")]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        where = f"line {_line(node)}"
        return (
            None,
            node,
            [Problem(file, where, "expected a mapping of keys to values", _line(node))],
        )
    return data, node, []


def _node_line(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest node a key path reaches (the parent's, for a missing key)."""
    if root is None:
        return None
    node = root
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
    return _line(node)


_PATH_PART = re.compile(r"(\w+)|\[(\d+)\]")


def _parse_path(path: str) -> list[str | int]:
    """``programmes[3].budget`` back into ``["programmes", 3, "budget"]``."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(path)]


# ---------------------------------------------------------------------------- errors


def _format_loc(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "top level"


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Keep the data path of a pydantic error location, dropping validator labels."""
    return [
        part
        for part in loc
        if isinstance(part, int) or (isinstance(part, str) and not re.search(r"[\[\](]", part))
    ]


def _reason(error: Mapping[str, Any]) -> str:
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


def _validation_problems(exc: ValidationError, file: str, root: yaml.Node | None) -> list[Problem]:
    errors = exc.errors()
    inner = {tuple(_clean_loc(e["loc"]))[:-1] for e in errors if e["loc"]}
    problems = []
    for error in errors:
        loc = _clean_loc(error["loc"])
        if error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == tuple(loc) for other in inner
        ):
            continue  # a list is "empty" only because its items failed; those are reported
        line = _node_line(root, loc)
        problems.append(Problem(file, _format_loc(loc), _reason(error), line))
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
    data, root, problems = _load_yaml(text, file)
    if problems:
        return None, root, problems
    try:
        parsed = model.model_validate(data, context=_COLLECT)
    except ValidationError as exc:
        return None, root, _validation_problems(exc, file, root)
    except RecursionError:
        return None, root, [Problem(file, "file", "the data is nested too deeply")]
    issues = [
        Problem(file, loc, reason, _node_line(root, _parse_path(loc)))
        for loc, reason in parsed.issues()
    ]
    return parsed, root, issues


def _csv_location(loc: str, lines: Sequence[int]) -> tuple[str, int | None]:
    """``local_authorities[4].sub_region`` as ``line 6, column sub_region``."""
    match = re.fullmatch(r"local_authorities\[(\d+)\](?:\.(\w+))?", loc)
    if match is None or int(match.group(1)) >= len(lines):
        return ("file", None)
    line = lines[int(match.group(1))]
    column = match.group(2)
    if column == "tile":
        return (f"line {line}, columns tile_col and tile_row", line)
    return (f"line {line}, column {column}" if column else f"line {line}", line)


def _csv_reason(reason: str, lines: Sequence[int]) -> str:
    """Within-table issues cite the first row as ``[i]``; a CSV author wants its line."""

    def line_of(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"line {lines[index]}" if index < len(lines) else match.group(0)

    return re.sub(r"\[(\d+)\]", line_of, reason)


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
                    path = _clean_loc(error["loc"])
                    column = f", column {path[0]}" if path else ""
                    problems.append(Problem(file, f"line {line}{column}", _reason(error), line))
    except csv.Error as exc:
        return None, [], [Problem(file, f"line {reader.line_num}", f"CSV error: {exc}")]
    usable = not problems  # every row parsed: references to it can still be checked
    for loc, reason in local_authority_issues(rows):
        where, line_no = _csv_location(loc, lines)
        problems.append(Problem(file, where, _csv_reason(reason, lines), line_no))
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
            where, line = _csv_location(loc, la_lines)
            problems.append(Problem(file, where, reason, line))
        else:
            line = _node_line(roots.get(file), _parse_path(loc))
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


def _count(items: Sequence[object] | Iterator[object]) -> int:
    return len(list(items))


def pack_counts(pack: Pack) -> dict[str, int]:
    """How many of each entity the pack holds, for ``pack show`` and load checks."""
    organisations = pack.organisations.organisations
    forums = pack.organisations.forums
    assurance = pack.assurance
    fund = pack.devolution.transformation_fund
    return {
        "local_authorities": len(pack.local_authorities),
        "sub_regions": len(pack.geography.sub_regions),
        "planning_groups": len(pack.geography.planning_groups),
        "organisations": len(organisations),
        "ccgs": _count(o for o in organisations if o.kind == "ccg"),
        "councils": _count(o for o in organisations if o.kind == "council"),
        "parties": _count(o for o in organisations if o.party_to_agreement),
        "forums": _count(f for f in forums if f.kind == "decision_making"),
        "supporting_groups": _count(f for f in forums if f.kind == "supporting"),
        "partnerships": len(pack.organisations.partnerships),
        "aspirations": len(pack.aspirations.aspirations),
        "ambitions": sum(len(a.ambitions) for a in pack.aspirations.aspirations),
        "shared_objectives": len(pack.aspirations.shared_objectives),
        "life_stages": len(pack.vision.life_stages),
        "vision_priorities": len(pack.vision.priorities),
        "commitments": len(pack.vision.commitments()),
        "guiding_principles": len(pack.vision.principles),
        "themes": len(pack.portfolio.themes),
        "programmes": len(pack.portfolio.programmes),
        "portfolio_lines": len(pack.portfolio.portfolio_lines),
        "devolution_areas": len(pack.devolution.areas),
        "pilots": len(pack.devolution.pilots),
        "fund_categories": len(fund.categories) if fund else 0,
        "critical_tasks": len(pack.devolution.critical_tasks),
        "assurances": len(assurance.mayor_assurances),
        "nhs_tests": len(assurance.nhs_tests),
        "bed_test_conditions": len(assurance.bed_test.conditions) if assurance.bed_test else 0,
        "indicators": len(pack.indicators.indicators),
        "targets": sum(len(i.targets) for i in pack.indicators.indicators),
    }


def programme_budget_total(pack: Pack) -> Decimal:
    """The programme budgets plus the portfolio lines, in pounds to the penny."""
    total = sum((p.budget for p in pack.portfolio.programmes), Decimal(0))
    total += sum((line.budget for line in pack.portfolio.portfolio_lines), Decimal(0))
    return total.quantize(Decimal("0.01"))


def pack_summary(pack: Pack) -> dict[str, object]:
    """The shape ``healthycity pack show --json`` prints (scripts rely on it)."""
    return {
        "pack": pack.pack.id,
        "counts": pack_counts(pack),
        "programme_budget_total": str(programme_budget_total(pack)),
    }
