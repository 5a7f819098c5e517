"""The web desk's Starlette application: routes, start-up wiring, one error handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.app import Services, make_services
from bot.desk.clock import Clock
from bot.desk.files import FileStore, LocalFileStore
from bot.desk.review import ReviewDesk
from bot.desk.weblogin import WebLogins
from bot.settings import Settings
from bot.web import corrections, flags, pages, relief, reports
from bot.web.http import Desk, page, refuse

__all__ = ["STATIC", "build_app", "make_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


async def _failed(request: Request, exc: Exception) -> Response:
    """Any unexpected failure: logged (masked by the log setup), the reader told nothing was changed."""
    log.error("web request %s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return refuse(await page(request), 500, "web_error")


async def _missing(request: Request, exc: Exception) -> Response:
    """A URL that is no page: the desk's own 404 page, in the reader's language."""
    return refuse(await page(request), 404, "web_not_found")


def build_app(services: Services, *, files: FileStore | None = None, own_services: bool = False) -> Starlette:
    """The desk over ``services``; ``own_services``: dispose of their engine when the app stops."""
    desk = Desk(
        services=services,
        logins=WebLogins(services.sessions, services.settings, services.clock),
        reviews=ReviewDesk(services.sessions, services.settings, services.clock),
        files=files or LocalFileStore(services.settings.files_dir),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if own_services:
                await services.engine.dispose()

    routes = [
        Route("/", pages.home),
        Route("/login/{token}", pages.login),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/lang", pages.set_language, methods=["POST"]),
        Route("/queue", pages.queue),
        Route("/visits/{visit_id}", pages.visit),
        Route("/visits/{visit_id}/files/{attachment_id}", pages.visit_photo),
        Route("/visits/{visit_id}/approve", pages.approve, methods=["POST"]),
        Route("/visits/{visit_id}/return", pages.send_back, methods=["POST"]),
        Route("/visits/{visit_id}/reply", pages.reply, methods=["POST"]),
        Route("/relief", relief.relief_page),
        Route("/relief/{request_id}/decide", relief.decide, methods=["POST"]),
        Route("/visits/{visit_id}/correct", corrections.correct, methods=["POST"]),  # bot/web/corrections.py
        Route("/visits/{visit_id}/flags/{flag_id}/explain", flags.explain, methods=["POST"]),
        Route("/overview", reports.overview),
        Route("/briefing", reports.briefing),
        Route("/briefing.xlsx", reports.briefing_download),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _missing, Exception: _failed})
    app.state.desk = desk
    return app


def make_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    """The desk for the deployment's settings (uvicorn's factory: each worker makes its own engine)."""
    return build_app(make_services(settings or Settings(), clock), own_services=True)
