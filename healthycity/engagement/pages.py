"""Public pages: the consultation hub, taking part without an account, receipts,
results with table twins, polls and the privacy page.

The answer form works without JavaScript and carries three defences a person never
notices (`engagement.guard`): an anonymous CSRF token (double-submit cookie, as the
sign-in form), a signed start time and a honeypot field. A refused submission is
counted and answered with a plain message and a status that says why (403 forged,
409 closed or repeated, 400 too fast or honeypot, 429 rate limit); a badly answered
form comes back with an error summary, as every form on the site does. None writes an
answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from healthycity.core.audit import Actor, acting_as
from healthycity.core.errors import Invalid, NotFound
from healthycity.core.inputs import form_data
from healthycity.core.throttle import client_address
from healthycity.core.web import csrf
from healthycity.core.web.rendering import render
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import FORM_ERROR_STATUS, install, read_session, sessions
from healthycity.engagement import guard, mail, notify, polls, results, service
from healthycity.engagement.models import DRAFT, STATUS_LABELS, Consultation
from healthycity.engagement.questions import KIND_LABELS, FormLayout, field_name, read_answers

router = APIRouter(include_in_schema=False)
# Fixed paths under /consultations, mounted before "/consultations/{slug}" can take them.
fixed = APIRouter(include_in_schema=False)
PUBLIC_ACTOR = Actor("public: consultation form")
COOKIE_PATH = "/consultations"
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")


def policy(request: Request) -> guard.Policy:
    found = getattr(request.app.state, "engagement_policy", None)
    return found if isinstance(found, guard.Policy) else guard.Policy()


def secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def hasher(request: Request, purpose: str) -> Callable[[str], str]:
    key = secret(request)
    return lambda value: guard.keyed_hash(key, purpose, value)


def _public(session: Session, slug: str) -> Consultation:
    row = service.get(session, slug)
    if row.status == DRAFT:
        raise NotFound(f"no consultation {slug}")
    return row


def _anonymous_token(request: Request) -> str:
    cookie = request.cookies.get(csrf.ANON_COOKIE)
    if cookie is not None and csrf.anonymous_token_valid(secret(request), cookie):
        return cookie
    return csrf.new_anonymous_token(secret(request))


def _with_cookie(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        csrf.ANON_COOKIE,
        token,
        max_age=6 * 3600,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.environment != "development",
        path=COOKIE_PATH,
    )
    return response


def _summary(row: Consultation) -> dict[str, Any]:
    return {
        "slug": row.slug,
        "title": row.title,
        "status": STATUS_LABELS[row.status],
        "open": service.is_open(row),
        "opens_on": row.opens_on.isoformat(),
        "closes_on": row.closes_on.isoformat(),
        "version": row.version,
        "links": row.links,
    }


@twin_routes(router, "/consultations")
def hub(request: Request) -> Page:
    with read_session(request) as session:
        rows = service.public(session)
        data = [_summary(r) for r in rows]
    return Page(
        "engagement/hub.html",
        "Have your say",
        context={
            "open_rows": [r for r in rows if service.is_open(r)],
            "other_rows": [r for r in rows if not service.is_open(r)],
        },
        data=data,
        table=Table(list(data[0]) if data else ["slug"], [list(d.values()) for d in data]),
        filename="consultations",
    )


def _form_page(
    request: Request,
    row: Consultation,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    token = _anonymous_token(request)
    errors = errors or {}
    response = render(
        request,
        "engagement/consultation.html",
        row.title,
        status_code=FORM_ERROR_STATUS,
        consultation=row,
        is_open=service.is_open(row),
        status_label=STATUS_LABELS[row.status],
        anonymous_token=token,
        started=guard.start_token(secret(request), row.slug),
        values=values or {},
        errors=errors,
        error_list=[{"text": m, "href": f"#{k or 'answer-form'}"} for k, m in errors.items()],
        error_title=bool(errors),
        kind_labels=KIND_LABELS,
        field_name=field_name,
        honeypot=guard.HONEYPOT,
        titles={q["id"]: q["text"] for q in row.questions},
        layout=FormLayout(row.questions),
    )
    return _with_cookie(request, response, token)


@router.get("/consultations/{slug}.json")
def consultation_json(request: Request, slug: str) -> Response:
    from healthycity.core.web.twins import json_response

    with read_session(request) as session:
        row = _public(session, slug)
        body = _summary(row) | {
            "purpose": row.purpose,
            "audience": row.audience,
            "privacy_notice": row.privacy_notice,
            "retention_days": row.retention_days,
            "questions": row.questions,
            "we_did": row.we_did,
        }
    return json_response(body)


@router.get("/consultations/{slug}", response_class=HTMLResponse)
def consultation(request: Request, slug: str) -> Response:
    with read_session(request) as session:
        row = _public(session, slug)
    return _form_page(request, row)


def _refused(
    request: Request, row: Consultation, reason: str, status: int, message: str
) -> Response:
    return render(
        request,
        "engagement/refused.html",
        "Your answer was not accepted",
        status_code=status,
        consultation=row,
        reason=reason,
        message=message,
    )


MESSAGES = {
    guard.FORGED: (
        403,
        "The form had expired or did not come from this site. Nothing was saved: open the "
        "consultation again and send your answer from the new form.",
    ),
    guard.CLOSED: (409, "This consultation is not open for answers, so nothing was saved."),
    guard.HONEYPOT_FILLED: (
        400,
        "A field that should stay empty was filled in, so the answer looks automated and "
        "was not saved. If you are a person, open the form again and send it without "
        "filling in hidden fields.",
    ),
    guard.TOO_FAST: (
        400,
        "The form was sent very quickly after it was opened, as automated tools do, so it "
        "was not saved. Please go back, check your answers and send them again.",
    ),
    guard.RATE_LIMITED: (
        429,
        "Too many answers have come from your connection or to this consultation in the "
        "last hour, so this one was not saved. Please try again later.",
    ),
    guard.DUPLICATE_EMAIL: (
        409,
        "An answer has already been confirmed with this email address. Each person can "
        "answer once; use your receipt code to see or withdraw your answer.",
    ),
}


def _check(
    request: Request, session: Session, row: Consultation, form: dict[str, Any]
) -> str | None:
    """The first abuse reason that applies, or None."""
    try:
        csrf.verify_anonymous(
            secret(request), request.cookies.get(csrf.ANON_COOKIE), str(form.get(csrf.FIELD, ""))
        )
        elapsed = guard.seconds_since_start(
            secret(request), row.slug, str(form.get(guard.STARTED, ""))
        )
    except (csrf.CsrfError, ValueError):
        return guard.FORGED
    rules = policy(request)
    if elapsed > rules.max_form_age.total_seconds() or elapsed < -60:
        return guard.FORGED
    if not service.is_open(row):
        return guard.CLOSED
    if str(form.get(guard.HONEYPOT, "")).strip():
        return guard.HONEYPOT_FILLED
    if elapsed < rules.min_seconds:
        return guard.TOO_FAST
    return None


@router.post("/consultations/{slug}", response_class=HTMLResponse)
async def answer(request: Request, slug: str) -> Response:
    form = form_data(await request.form())
    address = hasher(request, "address")(
        client_address(request.client.host if request.client else None)
    )
    with sessions(request)() as session, session.begin(), acting_as(session, PUBLIC_ACTOR):
        row = _public(session, slug)
        reason = _check(request, session, row, form)
        email_hash = None
        wants_news = str(form.get("notify", "")) == "yes"
        email = str(form.get("email", "")).strip().lower()
        if reason is None:
            try:
                answers = read_answers(row.questions, form)
                if row.confirm_email or wants_news:
                    if not EMAIL.match(email):
                        raise Invalid({"email": "Enter your email address, like name@example.org"})
                    email_hash = hasher(request, "email")(email)
            except Invalid as exc:
                return _form_page(request, row, values=form, errors=exc.errors)
            if email_hash and service.confirmed_email_exists(session, row, email_hash):
                reason = guard.DUPLICATE_EMAIL
            elif guard.over_limit(session, policy(request), row.id, address):
                reason = guard.RATE_LIMITED
        if reason is not None:
            guard.refuse(session, row.id, reason)
            status, message = MESSAGES[reason]
            return _refused(request, row, reason, status, message)
        done = service.submit(
            session,
            row,
            answers,
            receipt_hash=hasher(request, "receipt"),
            email_hash=email_hash if row.confirm_email else None,
        )
        if wants_news and email_hash:
            notify.subscribe(session, row, done.response_id, email, email_hash, secret(request))
        guard.count_attempt(session, row.id, address)
    mailed = False
    if done.confirm_token:
        mailed = _send_confirmation(request, row, email, done.confirm_token)
    return render(
        request,
        "engagement/thanks.html",
        "Thank you",
        consultation=row,
        receipt=done.receipt,
        needs_confirming=done.confirm_token is not None,
        mailed=mailed,
        subscribed=wants_news,
    )


def mailer_of(request: Request) -> mail.Mailer | None:
    """The app's mailer (``app.state.engagement_mailer``), chosen by the mail settings."""
    found = getattr(request.app.state, "engagement_mailer", None)
    return found if callable(found) else None


def _send_confirmation(request: Request, row: Consultation, email: str, token: str) -> bool:
    """Send the confirmation link. The address is used here and forgotten (only its
    keyed hash is kept, to refuse a second confirmed answer)."""
    link = f"{request.base_url}consultations/{row.slug}/confirm?token={token}"
    return mail.try_send(
        mailer_of(request),
        email,
        f"Confirm your answer to {row.title}",
        f"Confirm your answer: {link}\n\nIf you did not answer this consultation, ignore "
        "this email: the answer will not count and will be erased.",
    )


@router.get("/consultations/{slug}/confirm", response_class=HTMLResponse)
def confirm(request: Request, slug: str, token: str = "") -> Response:
    with sessions(request)() as session, session.begin():
        row = _public(session, slug)
        existing = service.confirm(session, hasher(request, "receipt")(token[:100]))
        if existing.consultation_id != row.id:
            raise NotFound("that confirmation link is not for this consultation")
    return render(request, "engagement/confirmed.html", "Answer confirmed", consultation=row)


def _results_page(
    session: Session, row: Consultation
) -> tuple[list[results.QuestionResult], Table, dict[str, Any]]:
    answers = [r.answers for r in service.counted(session, row)]
    found = results.tally(row.questions, answers)
    comments = service.published_comments(session, row)
    refusals = guard.refusal_counts(session, row.id)
    data = {
        "consultation": _summary(row),
        "label": results.SELF_SELECTED,
        "responses": len(answers),
        "results": results.table(found).records(),
        "comments": [{"question": q, "text": t, "theme": th} for q, t, th in comments],
        "refused_submissions": refusals,
        "we_did": row.we_did,
    }
    return found, results.table(found), data


@twin_routes(router, "/consultations/{slug}/results")
def results_page(request: Request, slug: str) -> Page:
    with read_session(request) as session:
        row = _public(session, slug)
        found, table, data = _results_page(session, row)
    comments = Table(["question", "text", "theme"], [list(c.values()) for c in data["comments"]])
    return Page(
        "engagement/results.html",
        f"Results: {row.title}",
        context={
            "consultation": row,
            "found": found,
            "charts": {r.question["id"]: results.chart(r) for r in found},
            "data": data,
            "label": results.SELF_SELECTED,
            "refusal_labels": guard.REFUSAL_LABELS,
        },
        data=data,
        table=table,
        tables={"comments": comments},
        filename=f"consultation-{row.slug}-results",
    )


def _receipt_data(request: Request, code: str) -> dict[str, Any]:
    with read_session(request) as session:
        response = service.by_receipt(session, hasher(request, "receipt")(code.strip()[:100]))
        row = service.get(session, response.consultation_id)
        return {
            "consultation": row.slug,
            "title": row.title,
            "submitted_at": response.submitted_at.isoformat(),
            "version": response.version,
            "confirmed": response.confirmed,
            "answers": response.answers,
            "questions": {q["id"]: q["text"] for q in row.questions},
        }


@fixed.get("/consultations/receipt.json")
def receipt_json(request: Request, code: str = "") -> Response:
    """Everything kept about one answer, as JSON: the export a respondent may ask for."""
    from healthycity.core.web.twins import json_response

    response = json_response(_receipt_data(request, code))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@fixed.get("/consultations/receipt", response_class=HTMLResponse)
def receipt(request: Request, code: str = "") -> Response:
    """See an answer by its receipt code, and withdraw it."""
    token = _anonymous_token(request)
    found = _receipt_data(request, code) if code.strip() else None
    page = render(
        request,
        "engagement/receipt.html",
        "Your answer",
        found=found,
        code=code.strip(),
        anonymous_token=token,
    )
    page.headers["Cache-Control"] = "private, no-store"
    return _with_cookie(request, page, token)


@fixed.post("/consultations/receipt/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request) -> Response:
    form = form_data(await request.form())
    try:
        csrf.verify_anonymous(
            secret(request), request.cookies.get(csrf.ANON_COOKIE), str(form.get(csrf.FIELD, ""))
        )
    except csrf.CsrfError as exc:
        return render(
            request, "engagement/withdrawn.html", "Not withdrawn", status_code=403, message=str(exc)
        )
    with sessions(request)() as session, session.begin():
        response = service.by_receipt(
            session, hasher(request, "receipt")(str(form.get("code", "")).strip()[:100])
        )
        service.withdraw(session, response)
    return render(request, "engagement/withdrawn.html", "Answer withdrawn", message=None)


@fixed.get("/consultations/privacy", response_class=HTMLResponse)
def privacy(request: Request) -> Response:
    return render(request, "engagement/privacy.html", "How we use your answers")


def site_paths(session: Session) -> list[str]:
    """The public pages (with twins) the static site exports. Forms need the server; the
    privacy page has no twins and is exported by following the links to it."""
    paths = ["/consultations", "/polls"]
    paths += [f"/consultations/{r.slug}/results" for r in service.public(session)]
    paths += [f"/polls/{s.slug}" for s in polls.series_list(session)]
    return paths


def register(app: FastAPI) -> None:
    """Mount the public consultation hub, answer form, results and polls, and choose the
    mailer from the mail settings (unless one was put on the app already)."""
    install(app)
    if not hasattr(app.state, "engagement_mailer"):
        app.state.engagement_mailer = mail.make_mailer(mail.MailSettings())
    app.include_router(fixed)
    app.include_router(router)
