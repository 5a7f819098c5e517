"""The bot's Bot API calls over aiohttp: PTB's request interface, a cheaper client than its httpx one.

Every answer costs the bot process one or two Bot API calls (edit the pressed question, answer the
press, send the next question). Through PTB's :class:`~telegram.request.HTTPXRequest` one call cost
this process about 1.7 ms of CPU one at a time and 3–4 ms with 16 at once (httpcore's pool and its
anyio plumbing); through aiohttp's client (its HTTP parser in C) about 0.5 ms either way
(``python -m bench.bot_api_http``). :class:`AiohttpRequest` is a
:class:`~telegram.request.BaseRequest` (the interface PTB documents for other HTTP libraries): PTB
still builds every call and turns Telegram's answer — an error, a flood wait — into its exceptions;
this class only moves the bytes.

Timeouts as HTTPXRequest's, from the same settings: ``connect`` to open a connection, ``read`` for
each read of the answer, ``pool`` to wait for a free connection of the ``connection_pool_size`` (a call
that waited that long is not sent).
aiohttp has no write timeout: ``write`` (``media_write`` for an upload) bounds the whole call
together with the others instead. A timeout raises :class:`~telegram.error.TimedOut`, any other
failure to reach the Bot API :class:`~telegram.error.NetworkError`. A proxy from the environment
(``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) as httpx takes it, looked up once per host:
aiohttp's own ``trust_env`` reads the environment and ``~/.netrc`` at every call, 1.4 ms of CPU here.
Long polling (``getUpdates``) keeps PTB's own request.
"""

from __future__ import annotations

import asyncio
import urllib.request
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]


class AiohttpRequest(BaseRequest):
    """PTB's requests over one :class:`aiohttp.ClientSession` (made by :meth:`initialize`, in the loop)."""

    __slots__ = ("_connect", "_free", "_media_write", "_pool", "_proxies", "_read", "_session", "_size", "_write")

    def __init__(
        self,
        connection_pool_size: int = 8,
        *,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._size = connection_pool_size
        self._connect = connect_timeout
        self._read = read_timeout
        self._write = write_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._free = asyncio.Semaphore(connection_pool_size)
        """A call holds one while it runs: at most the pool's size at once, waiting at most ``pool``."""
        self._proxies: dict[tuple[str, str], str | None] = {}
        """The proxy per (scheme, host) of the environment, as read when first needed."""

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (again, after :meth:`shutdown`)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._size)  # (never waited for: ``_free`` is waited for first)
            self._session = aiohttp.ClientSession(connector=connector)
            self._proxies = {}

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP call: (status, body). A timeout not given (PTB's ``DEFAULT_NONE``) is this request's own."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        read = _seconds(read_timeout, self._read)
        connect = _seconds(connect_timeout, self._connect)
        pool = _seconds(pool_timeout, self._pool)
        write = _seconds(write_timeout, self._media_write if files else self._write)
        parts = (read, connect, pool, write)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=connect,
            sock_connect=connect,
            sock_read=read,
        )
        body: aiohttp.FormData | dict[str, str] | None = fields
        if files:
            form = aiohttp.FormData(fields or {}, quote_fields=False)  # 回访.csv as it is, not %E5%9B%9E…
            for name, (filename, content, *mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype[0] if mimetype else None)
            body = form
        try:
            await asyncio.wait_for(self._free.acquire(), pool)
        except TimeoutError as exc:
            raise TimedOut(f"Pool timeout: all {self._size} connections are busy; the call was not sent") from exc
        try:
            async with self._session.request(
                method, url, data=body, headers={"User-Agent": self.USER_AGENT}, timeout=timeout, proxy=self._proxy(url)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts (ServerTimeoutError …) are TimeoutErrors
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        finally:
            self._free.release()

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for ``url``'s scheme and host (None: straight there)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            bypass = bool(key[1]) and urllib.request.proxy_bypass(key[1])
            self._proxies[key] = None if bypass else proxies.get(key[0]) or proxies.get("all")
        return self._proxies[key]


def _seconds(given: object, default: float | None) -> float | None:
    """A timeout passed to a call (None: none at all), else (PTB's ``DEFAULT_NONE``) the default."""
    if given is None:
        return None
    if isinstance(given, int | float):
        return float(given)
    return default
