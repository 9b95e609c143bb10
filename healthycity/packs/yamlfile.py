"""The YAML subset packs are written in, parsed with line numbers kept for problems.

YAML is read with three deliberate restrictions, because each YAML 1.1 convenience is a
trap in hand-written data: dates stay text (so ``2017-13-01`` is a clear schema error,
not a crash), only ``true``/``false`` are booleans (so ``no`` stays a word), and anchors,
aliases and repeated keys are refused (a repeated key would silently win).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from healthycity.packs.problems import Problem

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


def load_yaml(text: str, file: str) -> tuple[Any, yaml.Node | None, list[Problem]]:
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


def node_line(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
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


def parse_path(path: str) -> list[str | int]:
    """``programmes[3].budget`` back into ``["programmes", 3, "budget"]``."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(path)]
