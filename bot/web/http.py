"""What every page of the web desk needs: the reader's language, who is signed in, CSRF, rendering.

A translator only: who may see what and what a review may become are the core's; this module turns
requests into the core's calls and its results into pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.app import Services
from bot.desk.files import FileStore
from bot.desk.review import ReviewDesk
from bot.desk.timefmt import person_zone
from bot.desk.weblogin import Visitor, WebLogins, csrf_matches
from bot.web.text import MESSAGES
from dialogs.i18n import LOCALES, message, normalize_locale
from dialogs.templating import environment

__all__ = [
    "FLASH_COOKIE",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "Desk",
    "Page",
    "csrf_ok",
    "desk_of",
    "page",
    "reader_locale",
    "refuse",
    "render",
    "with_flash",
]

SESSION_COOKIE = "visitbot_session"
LANG_COOKIE = "visitbot_lang"
FLASH_COOKIE = "visitbot_flash"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""Sent with every page: only the desk's own assets run, no page is framed or cached, login links never leak."""

assert MESSAGES  # the desk's words are registered


@dataclass
class Desk:
    """What the web desk works with, made once per process (each uvicorn worker has its own)."""

    services: Services
    logins: WebLogins
    reviews: ReviewDesk
    files: FileStore


@dataclass(frozen=True)
class Page:
    """A request as the pages see it: the reader's language and zone, and who is signed in (None: nobody)."""

    request: Request
    locale: str
    visitor: Visitor | None
    session_key: str | None
    zone: str


def desk_of(request: Request) -> Desk:
    """The desk of the app serving ``request``."""
    desk: Desk = request.app.state.desk
    return desk


def _accepted(header: str) -> str | None:
    """The first shipped locale in an ``Accept-Language`` header, by weight."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, n, tag.strip()))
    for _w, _n, tag in sorted(ranked):
        if tag.lower().startswith(("zh", "en")):
            return normalize_locale(tag)
    return None


def reader_locale(request: Request, default: str) -> str:
    """The reader's language: the switch's cookie, else the browser's Accept-Language, else the deployment's."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return str(chosen)
    return _accepted(request.headers.get("accept-language", "")) or default


async def page(request: Request) -> Page:
    """Who is asking, in which language."""
    desk = desk_of(request)
    settings = desk.services.settings
    key = request.cookies.get(SESSION_COOKIE)
    visitor = await desk.logins.visitor(key)
    locale = reader_locale(request, settings.locale)
    zone = person_zone(visitor.user if visitor else None, settings.timezone)
    return Page(request, locale, visitor, key if visitor else None, zone)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    """The project's one Jinja2 environment (sandboxed, StrictUndefined), with the desk's templates, escaping HTML."""
    overlay = environment().overlay(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, auto_reload=False)
    return overlay


def render(p: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the reader's language; ``t`` looks up the desk's words."""
    locale = p.locale

    def t(key: str, **params: object) -> str:
        return message(key, locale, **params)

    flash = unquote(p.request.cookies.get(FLASH_COOKIE, ""))
    user = p.visitor.user if p.visitor else None
    body = (
        _templates()
        .get_template(template)
        .render(
            t=t,
            locale=locale,
            locales=LOCALES,
            user=user,
            role=message(f"web_role_{user.role}", locale) if user else "",
            csrf=p.visitor.csrf if p.visitor else "",
            flash=flash[:500],
            zone=p.zone,
            **context,
        )
    )
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def refuse(p: Page, status: int, key: str, **params: object) -> HTMLResponse:
    """An error page (401, 403, 404) saying, in the reader's language, what happened."""
    return render(p, "error.html", status=status, text=message(key, p.locale, **params))


def csrf_ok(p: Page, form: Any) -> bool:
    """Whether a posted form carries this session's CSRF token."""
    return p.session_key is not None and csrf_matches(p.session_key, form.get("csrf"))


def with_flash(response: Response, text: str) -> Response:
    """Show ``text`` once on the page the response leads to (a short-lived cookie)."""
    response.set_cookie(FLASH_COOKIE, quote(text[:300]), max_age=60, path="/", httponly=True, samesite="lax")
    return response
