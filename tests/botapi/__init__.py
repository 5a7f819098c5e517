"""A local Telegram Bot API double for end-to-end tests of the bot (in-process or as a subprocess).

async with BotApiDouble(token="123:ABC") as double:
    env = {**os.environ, "VISITBOT_TELEGRAM_TOKEN": double.token,
           "VISITBOT_TELEGRAM_API_URL": double.base_url, "VISITBOT_TELEGRAM_FILE_URL": double.base_file_url}
    bot = await asyncio.create_subprocess_exec("visitbot", "bot", env=env)
    user = double.user(user_id=1001, first_name="王")
    await user.send("/start visit-42")
    reply = await user.wait_for_message("您好")
    await user.press("确认")
"""

from .double import BotApiDouble
from .records import (
    ApiRequest,
    BotMessage,
    ButtonNotFound,
    CallbackAnswer,
    DoubleError,
    MessageVersion,
    StoredFile,
    WaitTimeout,
)
from .users import FakeUser

__all__ = [
    "ApiRequest",
    "BotApiDouble",
    "BotMessage",
    "ButtonNotFound",
    "CallbackAnswer",
    "DoubleError",
    "FakeUser",
    "MessageVersion",
    "StoredFile",
    "WaitTimeout",
]
