"""``/web`` on Telegram: staff get a one-time login link to the web desk; strangers do not."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from starlette.testclient import TestClient

from bot.app import make_services
from bot.settings import Settings
from bot.web import build_app
from tests.bot.telegram.harness import OFFICER_ID, STRANGER_ID, SUPERVISOR_ID, running
from tests.botapi import BotApiDouble

LINK = re.compile(r"(https?://\S+)/login/([A-Za-z0-9_\-]+)")


async def test_web_gives_staff_a_link_that_signs_in_once(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "VISITBOT_WEB_URL": "https://desk.example.com"}
    supervisor = double.user(SUPERVISOR_ID, "刘主管")
    officer = double.user(OFFICER_ID, "王磊", language_code="en")
    stranger = double.user(STRANGER_ID, "路人")
    async with running(env, tmp_path / "bot.log") as bot:
        await supervisor.send("/web")
        said = await supervisor.wait_for_message("/login/", timeout=30)
        await officer.send("/web")
        english = await officer.wait_for_message("/login/", timeout=30)
        await stranger.send("/web")
        refused = await stranger.wait_for_message("Telegram ID", timeout=30)
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()
    assert "网页工作台登录链接" in (said.text or "") and "web desk" in (english.text or "")
    assert "/login/" not in (refused.text or "")
    found = LINK.search(said.text or "")
    assert found and found.group(1) == "https://desk.example.com"

    def sign_in_twice() -> tuple[int, int]:
        svc = make_services(Settings(database_url=env["VISITBOT_DATABASE_URL"], web_url="https://desk.example.com"))
        with TestClient(build_app(svc, own_services=True), base_url="https://desk.example.com") as client:
            first = client.get(f"/login/{found.group(2)}", follow_redirects=False)
            assert "secure" in first.headers["set-cookie"].lower()  # the desk is served over https
            client.cookies.clear()
            second = client.get(f"/login/{found.group(2)}", follow_redirects=False)
        return first.status_code, second.status_code

    assert await asyncio.to_thread(sign_in_twice) == (303, 403)
