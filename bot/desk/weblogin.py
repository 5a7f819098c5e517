"""Signing in to the web desk: one-time login links, browser sessions and their CSRF tokens.

A staff member asks for a link (Telegram ``/web``, ``visitbot web-link <telegram id>``): a random
token, of which only the SHA-256 is kept, valid ``VISITBOT_WEB_LINK_MINUTES`` and used once. Opening
it makes a session: another random key, set as the browser's cookie, of which again only the hash is
kept (so any web worker on the same database knows it, and a copy of the database opens nothing),
valid ``VISITBOT_WEB_SESSION_HOURS``. Each session's CSRF token is derived from its key, so every form
of that browser carries it and no other site can know it. Who may see what once signed in is
:mod:`bot.desk.access`'s, as on every front-end.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk import audit
from bot.desk.access import STAFF_ROLES
from bot.desk.clock import Clock, SystemClock
from bot.settings import Settings
from dialogs.i18n import message, register
from storage import repositories as repo
from storage import web as store
from storage.models import User

__all__ = ["LoginRefused", "SignedIn", "Visitor", "WebLogins", "csrf_matches", "csrf_token", "key_hash"]

register(
    {
        "web_link_unknown": {
            "zh-CN": "Telegram ID {telegram_id} 不是在职员工（信贷员、主管或管理员），无法生成登录链接。"
            "请先用 visitbot users add 添加。",
            "en": "Telegram id {telegram_id} is no active staff member (officer, supervisor or admin), so there "
            "is no login link for it. Add them first with visitbot users add.",
        },
    }
)


def key_hash(raw: str) -> str:
    """The stored form of a login token or a session key (SHA-256, hex)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def csrf_token(session_key: str) -> str:
    """The CSRF token of the session with this (raw) key: every form of that browser carries it."""
    return hashlib.sha256(b"visitbot-csrf:" + session_key.encode()).hexdigest()


def csrf_matches(session_key: str, given: str | None) -> bool:
    """Whether a form's CSRF token is this session's (compared in constant time)."""
    return bool(given) and hmac.compare_digest(csrf_token(session_key), str(given))


class LoginRefused(Exception):
    """No login link for this person; ``text`` says why, in the caller's language."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)


@dataclass(frozen=True)
class SignedIn:
    """A new browser session: the raw ``key`` goes into the cookie (nowhere else), for ``max_age`` seconds."""

    key: str
    user: User
    max_age: int


@dataclass(frozen=True)
class Visitor:
    """The signed-in person behind a request, with the CSRF token their forms carry."""

    user: User
    csrf: str


class WebLogins:
    """Issues login links, turns them into sessions, and finds the person behind a session cookie."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock | None = None
    ) -> None:
        if settings.web_link_minutes <= 0 or settings.web_session_hours <= 0:
            raise ValueError("web_link_minutes and web_session_hours must be positive")
        self.sessions = sessions
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    def url(self, token: str) -> str:
        """The login URL of a token: ``{web_url}/login/{token}``."""
        return f"{self.settings.web_url.rstrip('/')}/login/{token}"

    async def link_for_telegram_id(self, telegram_id: int, *, locale: str | None = None) -> str:
        """A fresh login URL for the active staff member with this Telegram id; :class:`LoginRefused` otherwise."""
        async with self.sessions() as session, session.begin():
            user = await repo.user_by_telegram_id(session, telegram_id)
            if user is None or user.role not in STAFF_ROLES:
                raise LoginRefused(message("web_link_unknown", locale or self.settings.locale, telegram_id=telegram_id))
            return await self._issue(session, user)

    async def link_for(self, user: User) -> str:
        """A fresh login URL for this staff member (Telegram ``/web``)."""
        async with self.sessions() as session, session.begin():
            return await self._issue(session, user)

    async def _issue(self, session: AsyncSession, user: User) -> str:
        token = secrets.token_urlsafe(24)
        now = self.clock.now()
        expires = now + timedelta(minutes=self.settings.web_link_minutes)
        await store.add_login(session, user.id, key_hash(token), now=now, expires_at=expires)
        await store.purge_web(session, before=now - timedelta(days=1))  # links and sessions a day past their end
        await audit.record(session, "web_link_issued", now=now, user=user)
        return self.url(token)

    async def sign_in(self, token: str) -> SignedIn | None:
        """Use a login link: a new session for its person; None when it is unknown, used or expired."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            _login, user = await store.take_login(session, key_hash(token), now=now)
            if user is None or user.role not in STAFF_ROLES:
                return None
            key = secrets.token_urlsafe(32)
            hours = self.settings.web_session_hours
            await store.add_session(session, user.id, key_hash(key), now=now, expires_at=now + timedelta(hours=hours))
            await audit.record(session, "web_signed_in", now=now, user=user)
        return SignedIn(key, user, int(hours * 3600))

    async def visitor(self, key: str | None) -> Visitor | None:
        """The person signed in with this session key; None for no key, an unknown, ended or expired one."""
        if not key:
            return None
        async with self.sessions() as session:
            found = await store.live_session(session, key_hash(key), now=self.clock.now())
        if found is None:
            return None
        _row, user = found
        return Visitor(user, csrf_token(key))

    async def sign_out(self, key: str) -> None:
        """End the session with this key (the cookie stops working in every worker)."""
        async with self.sessions() as session, session.begin():
            await store.end_session(session, key_hash(key), now=self.clock.now())
