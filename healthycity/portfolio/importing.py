"""Import programmes, monthly spend, pledges and progress-report items from CSV or XLSX.

All or nothing, in three passes: every row is read and validated (types, amounts,
dates); then every row's permission and references are checked (the programme or area
exists, the person may change it); only then are the rows applied, inside the caller's
transaction. Every problem found by the first two passes is reported with its file, row,
column and reason; a rule broken while applying (a variance over 5% left unexplained)
stops at that row. Either way the caller rolls back and nothing is written.

Columns are the fields of the matching input model (documented in docs/workspace.md);
the first row holds the column names, so row 2 is the first record. A row that names
an existing programme or pledge changes only the columns the file has: the others keep
their values (a file of ``slug,name`` renames programmes and touches nothing else).

Permission is the policy's, row by row and field by field: the right to edit a record
does not include its protected fields (``core.auth.PROTECTED_FIELDS``: a programme's
number, SRO and whole-life budget), so a programme lead's file that changes one of them
is refused at that row and column, and the refusal is audited by the caller's unit of
work.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.errors import Invalid
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import DevolutionArea, Pledge, Programme, ProgressUpdate

MAX_ROWS = 20000
MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{self.file}: {where}: {self.reason}"


class ImportRefused(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s); nothing was imported")


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    updated: int = 0
    rows: int = 0


@dataclass(frozen=True)
class ImportKind:
    """How one kind of row is validated, authorised and applied."""

    name: str
    record_type: str
    schema: type[BaseModel]
    apply: Callable[[Session, Any], bool]  # returns True when it created a record
    owner: Callable[[Any], str | None] = lambda _data: None
    references: Callable[[Session, Any], dict[str, str]] = lambda _session, _data: {}
    columns: tuple[str, ...] = field(default=())
    # The record a row names, found from its raw values, and its current values as
    # input: a row for an existing record is laid over them (only its columns change).
    existing: Callable[[Session, dict[str, str]], Any | None] = lambda _session, _values: None
    current: Callable[[Any], dict[str, Any]] = lambda _row: {}

    @property
    def allowed_columns(self) -> tuple[str, ...]:
        return self.columns or tuple(self.schema.model_fields)


def _apply_programme(session: Session, data: schemas.ProgrammeIn) -> bool:
    existing = session.get(Programme, data.slug)
    if existing is None:
        service.create_programme(session, data)
        return True
    service.update_programme(session, existing, data)
    return False


def _apply_spend(session: Session, data: schemas.SpendIn) -> bool:
    programme = session.get(Programme, data.programme_slug)
    existed = programme is not None and any(r.month == data.month for r in programme.spend)
    service.record_spend(session, data)
    return not existed


def _apply_pledge(session: Session, data: schemas.PledgeIn) -> bool:
    existing = None
    if data.number:
        existing = session.scalars(
            select(Pledge).where(Pledge.area_slug == data.area_slug, Pledge.number == data.number)
        ).first()
    if existing is None:
        service.create_pledge(session, data)
        return True
    service.update_pledge(session, existing, data)
    return False


def _apply_progress(session: Session, data: schemas.ProgressIn) -> bool:
    existing = session.scalars(
        select(ProgressUpdate).where(
            ProgressUpdate.programme_slug.is_(None)
            if data.programme_slug is None
            else ProgressUpdate.programme_slug == data.programme_slug,
            ProgressUpdate.period == data.period,
            ProgressUpdate.kind == data.kind,
            ProgressUpdate.position == data.position,
        )
    ).first()
    if existing is None:
        service.add_progress(session, data)
        return True
    service.update_fields(session, existing, data, service.PROGRESS_FIELDS)
    return False


def _existing_programme(session: Session, values: dict[str, str]) -> Programme | None:
    slug = values.get("slug")
    return session.get(Programme, slug) if slug else None


def _existing_pledge(session: Session, values: dict[str, str]) -> Pledge | None:
    area, number = values.get("area_slug"), values.get("number", "")
    if not area or not number.isdigit() or int(number) == 0:
        return None
    return session.scalars(
        select(Pledge).where(Pledge.area_slug == area, Pledge.number == int(number))
    ).first()


def _pledge_current(row: Pledge) -> dict[str, Any]:
    current = service.fields_input(row, service.PLEDGE_FIELDS)
    return {k: getattr(v, "value", v) for k, v in current.items()}


def _programme_exists(session: Session, data: Any) -> dict[str, str]:
    slug = data.programme_slug
    if slug and session.get(Programme, slug) is None:
        return {"programme_slug": f"there is no programme {slug!r}"}
    return {}


def _area_exists(session: Session, data: Any) -> dict[str, str]:
    if session.get(DevolutionArea, data.area_slug) is None:
        return {"area_slug": f"there is no devolution area {data.area_slug!r}"}
    return {}


KINDS: dict[str, ImportKind] = {
    "programmes": ImportKind(
        "programmes",
        auth.PROGRAMME,
        schemas.ProgrammeIn,
        _apply_programme,
        lambda d: d.slug,
        existing=_existing_programme,
        current=service.programme_input,
    ),
    "spend": ImportKind(
        "spend",
        auth.SPEND,
        schemas.SpendIn,
        _apply_spend,
        lambda d: d.programme_slug,
        _programme_exists,
    ),
    "pledges": ImportKind(
        "pledges",
        auth.PLEDGE,
        schemas.PledgeIn,
        _apply_pledge,
        references=_area_exists,
        existing=_existing_pledge,
        current=_pledge_current,
    ),
    "progress": ImportKind(
        "progress",
        auth.PROGRESS,
        schemas.ProgressIn,
        _apply_progress,
        lambda d: d.programme_slug,
        _programme_exists,
    ),
}


def read_table(filename: str, content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(row number, values)]) from a CSV or XLSX file; row 1 is the header."""
    if len(content) > MAX_BYTES:
        raise ImportRefused([RowError(filename, 0, "", "the file is larger than 10 MB")])
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(filename, content)
    elif suffix in (".csv", ".txt"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused(
                [RowError(filename, 0, "", "the file is not UTF-8 text; save it as CSV UTF-8")]
            ) from None
        rows = list(csv.reader(io.StringIO(text)))
    else:
        raise ImportRefused([RowError(filename, 0, "", "use a .csv or .xlsx file")])
    if not rows:
        raise ImportRefused([RowError(filename, 1, "", "the file is empty")])
    header = [h.strip() for h in rows[0]]
    records: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(rows[1:], start=2):
        if not any(str(v).strip() for v in values):
            continue
        if len(records) >= MAX_ROWS:
            raise ImportRefused([RowError(filename, number, "", f"more than {MAX_ROWS} rows")])
        padded = list(values) + [""] * (len(header) - len(values))
        records.append(
            (number, {h: str(v).strip() for h, v in zip(header, padded, strict=False) if h})
        )
    return header, records


def _xlsx_rows(filename: str, content: bytes) -> list[list[str]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError):
        raise ImportRefused(
            [RowError(filename, 0, "", "this is not a readable .xlsx file")]
        ) from None
    sheet = book.worksheets[0]
    out = []
    for row in sheet.iter_rows(values_only=True):
        out.append([_cell(value) for value in row])
    book.close()
    return out


def _cell(value: Any) -> str:
    from datetime import date, datetime

    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_of(loc: tuple[Any, ...], known: tuple[str, ...]) -> str:
    for part in loc:
        if isinstance(part, str) and part in known:
            return part
    return ""


def import_file(
    session: Session,
    kind_name: str,
    filename: str,
    content: bytes,
    authorize: Callable[[str, str, str | None], None] | None = None,
) -> ImportResult:
    """Validate every row, then apply them all; raise `ImportRefused` listing every problem.

    ``authorize(action, record_type, owner)`` is called for each row when the import is
    made by a person (the web and API do this; the command line runs as the operator).
    """
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ImportRefused(
            [RowError(filename, 0, "", f"unknown import {kind_name!r}; use {', '.join(KINDS)}")]
        )
    header, records = read_table(filename, content)
    allowed = kind.allowed_columns
    errors = [
        RowError(filename, 1, column, "unknown column")
        for column in header
        if column and column not in allowed
    ]
    parsed: list[tuple[int, Any, dict[str, Any] | None]] = []
    for number, values in records:
        data = {k: (v if v != "" else None) for k, v in values.items() if k in allowed}
        found = kind.existing(session, values)
        before = kind.current(found) if found is not None else None
        try:
            merged = (before or {}) | data
            parsed.append((number, kind.schema.model_validate(merged), before))
        except ValidationError as exc:
            for error in exc.errors():
                message = str(error["msg"]).removeprefix("Value error, ")
                errors.append(
                    RowError(filename, number, _column_of(error["loc"], allowed), message)
                )
    if errors:
        raise ImportRefused(errors)
    # Every row's permission and references are checked before anything is written.
    for number, data, before in parsed:
        if authorize is not None:
            action = auth.CREATE if before is None else auth.EDIT
            owner = kind.owner(data)
            try:
                authorize(action, kind.record_type, owner)
            except auth.Forbidden as exc:
                errors.append(RowError(filename, number, "", str(exc)))
            else:
                changed = auth.protected_changes(kind.record_type, before, data.model_dump())
                for name in changed:
                    try:
                        authorize(action, auth.field_object(kind.record_type, name), owner)
                    except auth.Forbidden as exc:
                        errors.append(RowError(filename, number, name, str(exc)))
        for column, message in kind.references(session, data).items():
            errors.append(RowError(filename, number, column, message))
    if errors:
        raise ImportRefused(errors)
    result = ImportResult(kind=kind.name, rows=len(parsed))
    for number, data, _before in parsed:
        try:
            created = kind.apply(session, data)
        except Invalid as exc:
            # A rule broken by the rows so far (a variance left unexplained): report it and
            # stop, since later rows would be judged against a state that will not exist.
            raise ImportRefused(
                [
                    RowError(filename, number, column, message)
                    for column, message in exc.errors.items()
                ]
            ) from None
        result.created += int(created)
        result.updated += int(not created)
    return result
