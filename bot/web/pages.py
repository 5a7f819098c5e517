"""The web desk's pages: sign-in, the review queue, a visit's transcript, approve / send back, language."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk.files import FileStoreError
from bot.desk.labels import answered_by_label, outcome_label, severity_label
from bot.desk.review import ReviewAction, ReviewRefused
from bot.desk.review_queue import REVIEW_VIEWS, QueueCursor, queue_page, visible_officers, visit_file, visit_page
from bot.desk.timefmt import day_start, shown
from bot.web.corrections import correction_view
from bot.web.flags import flag_rows, quality_badge
from bot.web.http import (
    LANG_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Page,
    csrf_ok,
    desk_of,
    page,
    refuse,
    render,
    with_flash,
)
from bot.web.relief import visit_relief
from dialogs.i18n import LOCALES, message
from dialogs.schema import Outcome
from storage import repositories as repo

__all__ = ["approve", "home", "login", "logout", "queue", "reply", "send_back", "set_language", "visit", "visit_photo"]

log = logging.getLogger(__name__)

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FILTERS = ("since", "until", "officer", "script", "outcome", "risk", "review", "quality")
RISKS = ("low", "medium", "high")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def home(request: Request) -> Response:
    """``/``: the queue for the signed in, the sign-in hint for others."""
    p = await page(request)
    return _redirect("/queue") if p.visitor else refuse(p, 401, "web_sign_in_needed")


async def login(request: Request) -> Response:
    """``/login/{token}``: a one-time link becomes a session cookie, then the queue; a used or old link: 403."""
    p = await page(request)
    desk = desk_of(request)
    signed = await desk.logins.sign_in(str(request.path_params["token"]))
    if signed is None:
        return refuse(p, 403, "web_link_expired")
    response = _redirect("/queue")
    response.set_cookie(
        SESSION_COOKIE, signed.key, max_age=signed.max_age, path="/", httponly=True, samesite="lax",
        secure=desk.services.settings.web_url.startswith("https://"),
    )  # fmt: skip
    return response


async def logout(request: Request) -> Response:
    """POST ``/logout``: end the session everywhere."""
    p = await page(request)
    form = await request.form()
    if not csrf_ok(p, form):
        return refuse(p, 403, "web_forbidden")
    assert p.session_key is not None
    await desk_of(request).logins.sign_out(p.session_key)
    response = refuse(p, 200, "web_sign_in_needed")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def set_language(request: Request) -> Response:
    """POST ``/lang``: the reader's language (a cookie); signed-in readers' forms carry the CSRF token."""
    p = await page(request)
    form = await request.form()
    if p.visitor is not None and not csrf_ok(p, form):
        return refuse(p, 403, "web_forbidden")
    locale = str(form.get("locale", ""))
    back = str(form.get("next", "") or "/queue")
    if not back.startswith("/") or back.startswith("//"):
        back = "/queue"
    response = _redirect(back)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, path="/", httponly=True, samesite="lax")
    return response


# -- the queue ----------------------------------------------------------------------------------
def _cursor_text(cursor: QueueCursor) -> str:
    at = cursor.finished_at
    micros = (at - EPOCH) // timedelta(microseconds=1)
    return f"{cursor.rank}_{micros}_{cursor.visit_id}"


def _cursor(text: str) -> QueueCursor:
    rank, micros, visit_id = (int(part) for part in text.split("_"))
    return QueueCursor(rank, EPOCH + timedelta(microseconds=micros), visit_id)


def _filters(params: Any, zone: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The queue's query parameters as typed (raising ValueError naming the bad one) and as given."""
    given = {name: str(params.get(name, "")).strip() for name in FILTERS}
    typed: dict[str, Any] = {}
    for name in ("since", "until"):
        if given[name]:
            try:
                day = date.fromisoformat(given[name])
            except ValueError as exc:
                raise ValueError(name) from exc
            typed[name] = day_start(day, zone, end=name == "until")
    if given["officer"]:
        if not given["officer"].isdigit():
            raise ValueError("officer")
        typed["officer_id"] = int(given["officer"])
    if given["outcome"]:
        if given["outcome"] not in {o.value for o in Outcome}:
            raise ValueError("outcome")
        typed["outcome"] = given["outcome"]
    if given["risk"]:
        if given["risk"] not in RISKS:
            raise ValueError("risk")
        typed["risk"] = given["risk"]
    if given["quality"] not in ("", "1"):  # only visits with a quality flag (形式化) nobody explained yet
        raise ValueError("quality")
    given["review"] = given["review"] or "pending"
    if given["review"] not in REVIEW_VIEWS:
        raise ValueError("review")
    return given, typed


async def queue(request: Request) -> Response:
    """``/queue``: finished visits the reader may see, highest risk first, filtered, one page at a time."""
    p = await page(request)
    if p.visitor is None:
        return refuse(p, 401, "web_sign_in_needed")
    desk = desk_of(request)
    settings = desk.services.settings
    try:
        given, typed = _filters(request.query_params, settings.timezone)
        after_text = request.query_params.get("after", "")
        after = _cursor(after_text) if after_text else None
    except ValueError as exc:
        return refuse(p, 400, "web_bad_filter", field=str(exc) or "after")
    user = p.visitor.user
    result = await queue_page(
        desk.services.sessions, user, repo.VisitFilter(**typed), view=given["review"],
        script_id=given["script"] or None, after=after, limit=PAGE_SIZE, quality=given["quality"] == "1",
    )  # fmt: skip
    kept = {k: v for k, v in given.items() if v}
    rows = [
        {
            "id": e.visit.id,
            "borrower": f"{e.visit.borrower.code} {e.visit.borrower.name}",
            "officer": e.visit.officer.name if e.visit.officer else "-",
            "script": f"{e.visit.script_id} v{e.visit.script_version}",
            "outcome": outcome_label(e.visit.outcome, p.locale) if e.visit.outcome else "-",
            "worst": e.worst or "",
            "risk": severity_label(e.worst, p.locale) if e.worst else "-",
            "high": e.high_flags,
            "review": message(f"review_state_{e.state.value}", p.locale),
            "finished": shown(e.visit.finished_at, p.zone, named=False),
            "quality": result.quality.get(e.visit.id, []),
            "quality_words": quality_badge(result.quality.get(e.visit.id, []), p.locale),
        }
        for e in result.entries
    ]
    next_url = "/queue?" + urlencode({**kept, "after": _cursor_text(result.next)}) if result.next else ""
    first_url = "/queue?" + urlencode(kept) if after is not None else ""
    officers = await visible_officers(desk.services.sessions, user)
    return render(
        p, "queue.html", rows=rows, given=given, next_url=next_url, first_url=first_url,
        officers=[(o.id, o.name) for o in officers], scripts=desk.services.catalog.ids,
        outcomes=[(o.value, outcome_label(o.value, p.locale)) for o in Outcome],
        risks=[(r, severity_label(r, p.locale)) for r in RISKS],
        views=[(v, message(f"web_review_view_{v}", p.locale)) for v in REVIEW_VIEWS],
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )  # fmt: skip


# -- one visit ----------------------------------------------------------------------------------
def _visit_id(request: Request) -> int | None:
    raw = str(request.path_params.get("visit_id", ""))
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


async def _next_waiting(p: Page, visit_id: int) -> int | None:
    """The next visit of the reader's default queue after this one (the first other one when it is not there)."""
    assert p.visitor is not None
    desk = desk_of(p.request)
    result = await queue_page(desk.services.sessions, p.visitor.user, repo.VisitFilter(), limit=PAGE_SIZE)
    ids = [e.visit.id for e in result.entries]
    if visit_id in ids:
        later = ids[ids.index(visit_id) + 1 :]
        return later[0] if later else None
    return ids[0] if ids else None


async def visit(request: Request) -> Response:
    """``/visits/{id}``: the transcript — lines said, answers, flags, photos, location, notes, review history."""
    p = await page(request)
    visit_id = _visit_id(request)
    if p.visitor is None or visit_id is None:
        return refuse(p, 404, "web_not_found")
    desk = desk_of(request)
    shown_page = await visit_page(desk.services.sessions, p.visitor.user, visit_id, now=desk.services.clock.now())
    if shown_page is None:
        return refuse(p, 404, "web_not_found")
    record = shown_page.record
    locale = p.locale
    photo_steps = {a["step"] for a in record["attachments"] if a["kind"] == "photo"}
    steps = [
        {
            "said": a["question"],
            # a photo's raw answer is the file store's key: the photo itself is shown below
            "raw": message("web_photo_raw", locale) if a["step"] in photo_steps and not a["skipped"] else a["raw"],
            "parsed": a["display"] or ("" if a["value"] is None else str(a["value"])),
            "who": answered_by_label(a["answered_by"], locale) if a.get("answered_by") else "-",
            "skipped": a["skipped"],
            "at": shown(a["answered_at"], p.zone, fmt="%H:%M:%S", named=False),
        }
        for a in record["answers"]
    ]
    flags = flag_rows(p, shown_page.flags)  # each with its kind, evidence, explanation (bot.web.flags)
    photos = [a for a in record["attachments"] if a["kind"] == "photo"]
    notes = [m for m in record["transcript"] if m["direction"] == "note" and not m["text"].startswith("[review ")]
    directions = {d: message(f"web_direction_{d}", locale) for d in ("in", "out", "note")}
    messages_ = [
        {"at": shown(m["at"], p.zone, fmt="%H:%M:%S", named=False), "direction": m["direction"],
         "arrow": directions.get(m["direction"], m["direction"]), "text": m["text"]}
        for m in record["transcript"]
    ]  # fmt: skip
    event_keys = {"review_approved": "review_event_approved", "review_returned": "review_event_returned"}
    events = [
        {
            "action": e.action,
            "text": message(
                event_keys.get(e.action, "review_event_replied"),
                locale,
                at=shown(e.at, p.zone, named=False),
                name=e.name,
                text=e.text,
            ),
        }
        for e in shown_page.events
    ]
    state = record.get("review_status") or ("pending" if record["status"] == "finished" else "")
    return render(
        p, "visit.html", record=record, steps=steps, flags=flags, photos=photos, notes=notes,
        messages=messages_, events=events, locations=shown_page.locations, address=shown_page.address,
        corrections=await correction_view(p, record),  # old → new on the answers, the form (bot.web.corrections)
        promises=shown_page.promises,  # promises to pay (bot.desk.promises)
        outcome=outcome_label(record["outcome"], locale) if record.get("outcome") else record["status"],
        review=message(f"review_state_{state}", locale) if state else "",
        started=shown(record["started_at"], p.zone, named=False),
        finished=shown(record["finished_at"], p.zone, named=False),
        can_approve=ReviewAction.APPROVE in shown_page.actions,
        can_send_back=ReviewAction.SEND_BACK in shown_page.actions,
        can_reply=ReviewAction.REPLY in shown_page.actions,
        next_visit=await _next_waiting(p, visit_id),
        relief=await visit_relief(p, visit_id),  # its hardship requests (bot.web.relief)
    )  # fmt: skip


async def visit_photo(request: Request) -> Response:
    """``/visits/{id}/files/{attachment}``: a photo kept with a visit the reader may see."""
    p = await page(request)
    visit_id = _visit_id(request)
    raw = str(request.path_params.get("attachment_id", ""))
    if p.visitor is None or visit_id is None or not raw.isdigit() or len(raw) >= 12:
        return refuse(p, 404, "web_not_found")
    desk = desk_of(request)
    found = await visit_file(desk.services.sessions, p.visitor.user, visit_id, int(raw))
    if found is None:
        return refuse(p, 404, "web_not_found")
    try:
        data = await asyncio.to_thread(desk.files.read, found.store_key)
    except FileStoreError:
        log.warning("visit %s: kept file %s is missing from the store", visit_id, found.id)
        return refuse(p, 404, "web_not_found")
    headers = {**SECURITY_HEADERS, "Cache-Control": "private, max-age=3600"}
    return Response(data, media_type=found.content_type or "application/octet-stream", headers=headers)


async def _review_post(request: Request, action: ReviewAction) -> Response:
    p = await page(request)
    visit_id = _visit_id(request)
    form = await request.form()
    if p.visitor is None or not csrf_ok(p, form):
        return refuse(p, 403, "web_forbidden")
    if visit_id is None:
        return refuse(p, 404, "web_not_found")
    reviews = desk_of(request).reviews
    user = p.visitor.user
    try:
        if action is ReviewAction.APPROVE:
            await reviews.approve(visit_id, user, locale=p.locale)
            text = message("web_approved", p.locale, id=visit_id)
        elif action is ReviewAction.REPLY:
            await reviews.reply(visit_id, user, str(form.get("text", "")), locale=p.locale)
            text = message("web_replied", p.locale, id=visit_id)
        else:
            await reviews.send_back(visit_id, user, str(form.get("comment", "")), locale=p.locale)
            text = message("web_returned", p.locale, id=visit_id)
    except ReviewRefused as refusal:
        if refusal.reason == "not_found":
            return refuse(p, 404, "web_not_found")
        text = refusal.text
    return with_flash(_redirect(f"/visits/{visit_id}"), text)


async def approve(request: Request) -> Response:
    """POST ``/visits/{id}/approve``: approve through the core, then back to the page with what happened."""
    return await _review_post(request, ReviewAction.APPROVE)


async def reply(request: Request) -> Response:
    """POST ``/visits/{id}/reply``: the visit's officer answers the comment (as ``/reply`` on Telegram)."""
    return await _review_post(request, ReviewAction.REPLY)


async def send_back(request: Request) -> Response:
    """POST ``/visits/{id}/return``: send back with the comment; the core queues the officer's Telegram notice."""
    return await _review_post(request, ReviewAction.SEND_BACK)
