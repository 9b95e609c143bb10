"""Record types of the workspace, described once and served everywhere.

A `RecordKind` says how one record type is read, keyed, owned, validated, created,
changed and deleted. From that description this module builds the JSON API
(``/api/v1/<plural>``) and the generic HTML forms (``/workspace/<plural>/…``), and both
check access through `core.auth.authorize` in the same way, in the same order:

1. who is asking (401 without a session or token) and, for a browser, the CSRF token;
2. may this role ever do this to this record type (403 before reading any input);
3. the record (404), the owner rule for that record or for the input (403);
4. the input (422 with one message per field), then the change in one audited
   transaction; a refused rule (422) or state (409) rolls the whole change back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from healthycity.core.audit import history, snapshot
from healthycity.core.auth import (
    CREATE,
    DELETE,
    EDIT,
    PROTECTED_FIELDS,
    VIEW,
    Forbidden,
    Principal,
    authorize,
    authorize_fields,
    could_ever,
    field_object,
    is_allowed,
    protected_changes,
)
from healthycity.core.errors import Invalid, NotFound
from healthycity.core.web.twins import json_response
from healthycity.core.web.workspace import (
    FORM_ERROR_STATUS,
    errors_from,
    read_session,
    see_other,
    unit_of_work,
    viewer,
    writer,
    ws_render,
)


@dataclass(frozen=True)
class FormField:
    """One field of a generic form, drawn with the NHS design system's components."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, money, date, month, number, select, lines, year
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    width: int | None = None

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")


Action = Callable[[Session, Any, Any, Principal], None]


@dataclass(frozen=True)
class RecordKind:
    name: str
    plural: str
    label: str
    model: type[Any]
    schema: type[BaseModel]
    fields: tuple[FormField, ...]
    parse_key: Callable[[str], Any]
    key_of: Callable[[Any], str]
    owner_of: Callable[[Any], str | None]
    owner_of_input: Callable[[BaseModel], str | None]
    current: Callable[[Any], dict[str, Any]]
    create: Callable[[Session, Any, Principal], Any]
    update: Callable[[Session, Any, Any, Principal], None]
    listing: Callable[[Session], Sequence[Any]]
    return_url: Callable[[Any], str]
    title_of: Callable[[Any], str]
    delete: Callable[[Session, Any], None] | None = None
    to_json: Callable[[Any], dict[str, Any]] = snapshot
    immutable: tuple[str, ...] = ()
    defaults: Callable[[Request], dict[str, Any]] = lambda _request: {}
    form_to_input: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: data
    actions: dict[str, tuple[str, Action, type[BaseModel] | None]] = field(default_factory=dict)
    # Fields that depend on the database (a proposal's bed-test conditions come from the pack).
    more_fields: Callable[[Session], tuple[FormField, ...]] | None = None

    def url_key(self, row: Any) -> str:
        return self.key_of(row).replace("/", "-")


def _delete_row(session: Session, row: Any) -> None:
    session.delete(row)
    session.flush()


def _load(kind: RecordKind, session: Session, key: str) -> Any:
    try:
        identity = kind.parse_key(key)
    except (ValueError, TypeError):
        raise NotFound(f"no {kind.label} {key!r}") from None
    row = session.get(kind.model, identity)
    if row is None:
        raise NotFound(f"no {kind.label} {key!r}")
    return row


def validate_input(kind: RecordKind, data: dict[str, Any]) -> BaseModel:
    try:
        return kind.schema.model_validate(data)
    except ValidationError as exc:
        raise Invalid(errors_from(exc)) from None


def merged_input(kind: RecordKind, row: Any, patch: dict[str, Any]) -> BaseModel:
    """An edit is the record's current values with the changes laid over them, validated
    whole, so every rule that holds on creation holds after every edit."""
    current = kind.current(row)
    for name in kind.immutable:
        if name in patch and str(patch[name]) != str(current.get(name)):
            raise Invalid({name: f"{name.replace('_', ' ')} cannot be changed"})
    return validate_input(kind, current | patch)


def check_create(kind: RecordKind, principal: Principal, data: BaseModel) -> None:
    owner = kind.owner_of_input(data)
    authorize(principal, CREATE, kind.name, owner=owner)
    changed = protected_changes(kind.name, None, data.model_dump())
    authorize_fields(principal, CREATE, kind.name, owner, changed)


def check_edit(kind: RecordKind, principal: Principal, row: Any, data: BaseModel) -> None:
    """The field-level policy on an edit: every protected field it changes must be one
    the principal may change (a programme lead may edit their programme, not its SRO)."""
    changed = protected_changes(kind.name, kind.current(row), data.model_dump())
    authorize_fields(principal, EDIT, kind.name, kind.owner_of(row), changed)


def kept_fields(kind: RecordKind, principal: Principal, row: Any) -> list[tuple[str, str, str]]:
    """(name, label, value) of the protected fields of ``row`` the principal may not
    change: the edit form shows them as text and does not ask for them."""
    owner = kind.owner_of(row)
    values = _form_values(kind.current(row))
    labels = {f.name: f.label for f in kind.fields}
    return [
        (name, labels.get(name, name), values.get(name, ""))
        for name in PROTECTED_FIELDS.get(kind.name, ())
        if not is_allowed(principal, EDIT, field_object(kind.name, name), owner)
    ]


def gate(principal: Principal, action: str, kind: RecordKind) -> None:
    """Refuse at once a role that may never do ``action`` to this record type."""
    if not could_ever(principal, action, kind.name):
        authorize(principal, action, kind.name, owner=None)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Invalid("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    return body


def api_router(kinds: Sequence[RecordKind]) -> APIRouter:
    """``/api/v1/<plural>``: list, read, history, create, edit, delete and actions."""
    router = APIRouter(prefix="/api/v1")
    for kind in kinds:
        _add_api_routes(router, kind)
    return router


def _add_api_routes(router: APIRouter, kind: RecordKind) -> None:
    base = f"/{kind.plural}"

    def list_records(request: Request) -> Response:
        principal = viewer(request)
        authorize(principal, VIEW, kind.name)
        with read_session(request) as session:
            return json_response([kind.to_json(row) for row in kind.listing(session)])

    def read_record(request: Request, key: str) -> Response:
        principal = viewer(request)
        authorize(principal, VIEW, kind.name)
        with read_session(request) as session:
            return json_response(kind.to_json(_load(kind, session, key)))

    def record_history(request: Request, key: str) -> Response:
        principal = viewer(request)
        authorize(principal, VIEW, kind.name)
        with read_session(request) as session:
            row = _load(kind, session, key)
            records = history(session, kind.name, kind.key_of(row))
            return json_response([_audit_json(r) for r in records])

    async def create_record(request: Request) -> Response:
        principal = await writer(request)
        gate(principal, CREATE, kind)
        data = validate_input(kind, await _json_body(request))
        check_create(kind, principal, data)
        with unit_of_work(request, principal) as session:
            row = kind.create(session, data, principal)
            body = kind.to_json(row)
        return JSONResponse(_jsonable(body), status_code=201)

    async def edit_record(request: Request, key: str) -> Response:
        principal = await writer(request)
        gate(principal, EDIT, kind)
        patch = await _json_body(request)
        with unit_of_work(request, principal) as session:
            row = _load(kind, session, key)
            authorize(principal, EDIT, kind.name, owner=kind.owner_of(row))
            data = merged_input(kind, row, patch)
            check_edit(kind, principal, row, data)
            kind.update(session, row, data, principal)
            body = kind.to_json(row)
        return json_response(body)

    async def delete_record(request: Request, key: str) -> Response:
        principal = await writer(request)
        gate(principal, DELETE, kind)
        with unit_of_work(request, principal) as session:
            row = _load(kind, session, key)
            authorize(principal, DELETE, kind.name, owner=kind.owner_of(row))
            (kind.delete or _delete_row)(session, row)
        return Response(status_code=204)

    router.add_api_route(base, list_records, methods=["GET"], name=f"{kind.name}_list")
    router.add_api_route(base, create_record, methods=["POST"], name=f"{kind.name}_create")
    router.add_api_route(f"{base}/{{key}}", read_record, methods=["GET"], name=f"{kind.name}_get")
    router.add_api_route(
        f"{base}/{{key}}/history", record_history, methods=["GET"], name=f"{kind.name}_history"
    )
    router.add_api_route(
        f"{base}/{{key}}", edit_record, methods=["PATCH"], name=f"{kind.name}_edit"
    )
    router.add_api_route(
        f"{base}/{{key}}", delete_record, methods=["DELETE"], name=f"{kind.name}_delete"
    )
    for verb in dict.fromkeys(("assess", "publish", *kind.actions)):
        router.add_api_route(
            f"{base}/{{key}}/{verb}",
            _action_endpoint(kind, verb),
            methods=["POST"],
            name=f"{kind.name}_{verb}",
        )


def _action_endpoint(kind: RecordKind, verb: str) -> Callable[..., Any]:
    """A named action (assess, publish, submit…), checked as the policy action it maps to."""
    known = kind.actions.get(verb)
    policy_action, handler, schema = known if known is not None else (verb, None, None)

    async def endpoint(request: Request, key: str) -> Response:
        principal = await writer(request)
        gate(principal, policy_action, kind)
        body = await _json_body(request) if await request.body() else {}
        with unit_of_work(request, principal) as session:
            row = _load(kind, session, key)
            authorize(principal, policy_action, kind.name, owner=kind.owner_of(row))
            if handler is None:
                raise Forbidden(f"{kind.label} records cannot be {verb}ed")
            data: Any = body
            if schema is not None:
                try:
                    data = schema.model_validate(body)
                except ValidationError as exc:
                    raise Invalid(errors_from(exc)) from None
            handler(session, row, data, principal)
            result = kind.to_json(row)
        return json_response(result)

    return endpoint


def _jsonable(body: dict[str, Any]) -> Any:
    import orjson

    from healthycity.core.web.twins import _json_default

    return orjson.loads(orjson.dumps(body, default=_json_default))


def _audit_json(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": record.at.isoformat(),
        "actor": record.actor,
        "record_type": record.record_type,
        "record_id": record.record_id,
        "action": record.action,
        "before": record.before,
        "after": record.after,
    }


# ----------------------------------------------------------------------- HTML forms


def form_router(kinds: Sequence[RecordKind]) -> APIRouter:
    """``/workspace/<plural>/new``, ``/<key>/edit`` and ``/<key>/delete`` for each kind."""
    router = APIRouter(prefix="/workspace")
    for kind in kinds:
        _add_form_routes(router, kind)
    return router


def error_list(errors: dict[str, str], fields: Sequence[FormField]) -> list[dict[str, str]]:
    """The error summary's items, each linking to its field (or the form's message)."""
    ids = {f.name: f.id for f in fields}
    first = fields[0].id if fields else "maincontent"
    items = []
    for name, message in errors.items():
        target = ids.get(name) or next(
            (f.id for f in fields if f.name.startswith(name + ".")), None
        )
        items.append(
            {"text": message, "href": "#" + (target or ("form-error" if not name else first))}
        )
    return items


def _form_values(row_values: dict[str, Any]) -> dict[str, Any]:
    """Values as a form shows them: lists one per line, None as empty."""
    out: dict[str, Any] = {}
    for name, value in row_values.items():
        if isinstance(value, list):
            out[name] = "\n".join(str(v) for v in value)
        elif isinstance(value, dict):
            for sub, sub_value in value.items():
                out[f"{name}.{sub}"] = "" if sub_value is None else str(sub_value)
        else:
            out[name] = "" if value is None else str(value)
    return out


async def _posted(request: Request) -> dict[str, Any]:
    from healthycity.core.inputs import form_data
    from healthycity.core.web.csrf import FIELD

    data = form_data(await request.form())
    data.pop(FIELD, None)
    return data


def _render_form(
    request: Request,
    kind: RecordKind,
    principal: Principal,
    *,
    heading: str,
    action: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    back: str,
    hidden: Sequence[str] = (),
    kept: Sequence[tuple[str, str, str]] = (),
) -> HTMLResponse:
    """The form; ``kept`` fields (protected ones this person may not change) are shown
    as text above it and not asked for, so saving leaves them as they are."""
    fields = list(kind.fields)
    if kind.more_fields is not None:
        with read_session(request) as session:
            fields += kind.more_fields(session)
    kept_names = {name for name, _label, _value in kept}
    return ws_render(
        request,
        "workspace/form.html",
        heading,
        principal,
        status_code=FORM_ERROR_STATUS,
        kind=kind,
        fields=[f for f in fields if f.name not in hidden and f.name not in kept_names],
        kept=list(kept),
        hidden={name: values.get(name, "") for name in hidden},
        values=values,
        errors=errors or {},
        error_list=error_list(errors or {}, fields),
        error_title=bool(errors),
        action=action,
        back=back,
    )


def _add_form_routes(router: APIRouter, kind: RecordKind) -> None:
    base = f"/{kind.plural}"

    def new_form(request: Request) -> Response:
        principal = viewer(request)
        gate(principal, CREATE, kind)
        defaults = kind.defaults(request)
        owner = defaults.get("programme_slug")
        if owner is not None:
            authorize(principal, CREATE, kind.name, owner=owner or None)
        return _render_form(
            request,
            kind,
            principal,
            heading=f"Add {kind.label}",
            action=f"/workspace{base}/new",
            values=_form_values(defaults),
            back=request.query_params.get("back") or "/workspace",
            hidden=tuple(k for k in defaults if k in {"programme_slug", "area_slug"}),
        )

    async def create_from_form(request: Request) -> Response:
        principal = await writer(request)
        gate(principal, CREATE, kind)
        posted = await _posted(request)
        try:
            data = validate_input(kind, kind.form_to_input(posted))
            check_create(kind, principal, data)
            with unit_of_work(request, principal) as session:
                row = kind.create(session, data, principal)
                target = kind.return_url(row)
        except Invalid as exc:
            hidden = tuple(k for k in ("programme_slug", "area_slug") if k in posted)
            return _render_form(
                request,
                kind,
                principal,
                heading=f"Add {kind.label}",
                action=f"/workspace{base}/new",
                values=posted,
                errors=exc.errors,
                back="/workspace",
                hidden=hidden,
            )
        return see_other(target)

    def edit_form(request: Request, key: str) -> Response:
        principal = viewer(request)
        gate(principal, EDIT, kind)
        with read_session(request) as session:
            row = _load(kind, session, key)
            authorize(principal, EDIT, kind.name, owner=kind.owner_of(row))
            values = _form_values(kind.current(row))
            title = kind.title_of(row)
            back = kind.return_url(row)
            kept = kept_fields(kind, principal, row)
        return _render_form(
            request,
            kind,
            principal,
            heading=f"Change {title}",
            action=f"/workspace{base}/{key}/edit",
            values=values,
            back=back,
            hidden=kind.immutable,
            kept=kept,
        )

    async def edit_from_form(request: Request, key: str) -> Response:
        principal = await writer(request)
        gate(principal, EDIT, kind)
        posted = await _posted(request)
        try:
            with unit_of_work(request, principal) as session:
                row = _load(kind, session, key)
                authorize(principal, EDIT, kind.name, owner=kind.owner_of(row))
                title = kind.title_of(row)
                kept = kept_fields(kind, principal, row)
                data = merged_input(kind, row, kind.form_to_input(posted))
                check_edit(kind, principal, row, data)
                kind.update(session, row, data, principal)
                target = kind.return_url(row)
        except Invalid as exc:
            return _render_form(
                request,
                kind,
                principal,
                heading=f"Change {title}",
                action=f"/workspace{base}/{key}/edit",
                values=posted,
                errors=exc.errors,
                back="/workspace",
                hidden=kind.immutable,
                kept=kept,
            )
        return see_other(target)

    def delete_form(request: Request, key: str) -> Response:
        principal = viewer(request)
        gate(principal, DELETE, kind)
        with read_session(request) as session:
            row = _load(kind, session, key)
            authorize(principal, DELETE, kind.name, owner=kind.owner_of(row))
            title, back = kind.title_of(row), kind.return_url(row)
        return ws_render(
            request,
            "workspace/delete.html",
            f"Delete {title}?",
            principal,
            kind=kind,
            action=f"/workspace{base}/{key}/delete",
            back=back,
        )

    async def delete_from_form(request: Request, key: str) -> Response:
        principal = await writer(request)
        gate(principal, DELETE, kind)
        with unit_of_work(request, principal) as session:
            row = _load(kind, session, key)
            authorize(principal, DELETE, kind.name, owner=kind.owner_of(row))
            target = kind.return_url(row)
            (kind.delete or _delete_row)(session, row)
        return see_other(target)

    for path, endpoint, method in (
        ("/new", new_form, "GET"),
        ("/new", create_from_form, "POST"),
        ("/{key}/edit", edit_form, "GET"),
        ("/{key}/edit", edit_from_form, "POST"),
        ("/{key}/delete", delete_form, "GET"),
        ("/{key}/delete", delete_from_form, "POST"),
    ):
        router.add_api_route(
            base + path,
            endpoint,
            methods=[method],
            response_class=HTMLResponse,
            include_in_schema=False,
        )
