"""Random corruption of a pack never crashes the reader with anything but PackInvalid.

A pack is hand-written data from outside the project; whatever is in the files, the
reader must answer with problems (or a valid pack), never a traceback.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthycity.packs import PackInvalid, read_pack, resolve_pack
from healthycity.packs.schema import PACK_FILES

NASTY = [
    b"",
    b"\x00",
    b"\xff\xfe",
    b":",
    b"- ",
    b"[",
    b"{",
    b"&a",
    b"*a",
    b"!!python/object:os.system",
    b"? ",
    b"<<: ",
    b'"',
    b"'",
    b"\t",
    b"---\n",
    b"...",
    b"%YAML 1.1\n",
    b"1e999",
    b".nan",
    b"-.inf",
    b"0x1F",
    b"2017-13-45",
    b"12:30:00",
    b"null",
    b"~",
    b"yes",
    b",",
    b"\r",
    b"\n  ",
    b"\xe2\x80\xa8",
]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "pack"
        shutil.copytree(resolve_pack("london"), target)
        yield target


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[str, int, int, bytes]:
    file = draw(st.sampled_from(PACK_FILES))
    start = draw(st.integers(min_value=0, max_value=40_000))
    length = draw(st.integers(min_value=0, max_value=200))
    insert = draw(st.one_of(st.sampled_from(NASTY), st.binary(max_size=12)))
    return file, start, length, insert


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(corruption=corruptions())
def test_corruption_never_crashes(scratch: Path, corruption: tuple[str, int, int, bytes]) -> None:
    file, start, length, insert = corruption
    path = scratch / file
    original = path.read_bytes()
    start = start % (len(original) + 1)
    try:
        path.write_bytes(original[:start] + insert + original[start + length :])
        try:
            read_pack(scratch)
        except PackInvalid as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.file and problem.location and problem.reason
                assert "\n" not in str(problem)
    finally:
        path.write_bytes(original)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_yaml_document_is_refused_cleanly(scratch: Path, data: object) -> None:
    path = scratch / "devolution.yaml"
    original = path.read_bytes()
    try:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        try:
            read_pack(scratch)
        except PackInvalid as exc:
            assert any(p.file == "devolution.yaml" for p in exc.problems)
    finally:
        path.write_bytes(original)
