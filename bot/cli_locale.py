"""The language of the ``visitbot`` command line: VISITBOT_LOCALE as configured, and typer's own words in it.

Typer writes some texts itself, in English: the headings of a help page, ``--help``'s line, its
wrong-usage errors and "Try --help". :func:`localize_typer` puts them in the user's language.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.i18n import DEFAULT_LOCALE, LOCALES, message, register

__all__ = ["USAGE_ERRORS", "cli_locale", "configured_locale", "localize_typer", "usage_text"]


register(
    {
        # -- typer's own headings of a help page
        "cli_panel_arguments": {"zh-CN": "参数", "en": "Arguments"},
        "cli_panel_options": {"zh-CN": "选项", "en": "Options"},
        "cli_panel_commands": {"zh-CN": "命令", "en": "Commands"},
        "cli_panel_error": {"zh-CN": "错误", "en": "Error"},
        "cli_panel_required": {"zh-CN": "[必填]", "en": "[required]"},
        "cli_try_help": {
            "zh-CN": "运行 [blue]'{{command_path}} {{help_option}}'[/] 查看帮助。",
            "en": "Try [blue]'{{command_path}} {{help_option}}'[/] for help.",
        },
        "cli_usage_missing_option": {"zh-CN": "缺少选项 {name}。{rest}", "en": "Missing option {name}. {rest}"},
        "cli_usage_missing_argument": {"zh-CN": "缺少参数 {name}。{rest}", "en": "Missing argument {name}. {rest}"},
        "cli_usage_no_option": {"zh-CN": "没有这个选项：{name} {rest}", "en": "No such option: {name} {rest}"},
        "cli_usage_no_command": {"zh-CN": "没有这个命令：{name}。{rest}", "en": "No such command {name}. {rest}"},
        "cli_usage_invalid_value": {"zh-CN": "{name} 的值无效：{rest}", "en": "Invalid value for {name}: {rest}"},
        "cli_usage_extra": {
            "zh-CN": "多余的参数：{name}。{rest}",
            "en": "Got unexpected extra arguments ({name}). {rest}",
        },
        "cli_usage_did_you_mean": {"zh-CN": "您是想输入 {name} 吗？", "en": "Did you mean {name}?"},
        "cli_help_help": {"zh-CN": "显示本帮助并退出。", "en": "Show this message and exit."},
        "cli_panel_default": {"zh-CN": "[默认：{{}}]", "en": "[default: {{}}]"},
    }
)


class _LocaleSetting(BaseSettings):
    """VISITBOT_LOCALE alone, read as :class:`Settings` reads it but not checked (other settings may be wrong)."""

    model_config = SettingsConfigDict(env_prefix="VISITBOT_", env_file=".env", extra="ignore")

    locale: str = DEFAULT_LOCALE


def configured_locale() -> str:
    """VISITBOT_LOCALE as configured (environment or ``.env``), shipped or not."""
    try:
        return _LocaleSetting().locale
    except ValidationError:
        return os.environ.get("VISITBOT_LOCALE", DEFAULT_LOCALE)


def cli_locale() -> str:
    """The user's language: VISITBOT_LOCALE when it is a shipped locale (even if other settings are wrong)."""
    value = configured_locale()
    return value if value in LOCALES else DEFAULT_LOCALE


def localize_typer(locale: str) -> None:
    """Typer's own headings of a help page (Options, Commands …) in the user's language."""
    import typer.rich_utils as panels

    for name, key in (
        ("ARGUMENTS_PANEL_TITLE", "cli_panel_arguments"),
        ("OPTIONS_PANEL_TITLE", "cli_panel_options"),
        ("COMMANDS_PANEL_TITLE", "cli_panel_commands"),
        ("ERRORS_PANEL_TITLE", "cli_panel_error"),
        ("REQUIRED_LONG_STRING", "cli_panel_required"),
        ("DEFAULT_STRING", "cli_panel_default"),
    ):
        setattr(panels, name, message(key, locale))
    _localize_help_option(message("cli_help_help", locale))
    panels.RICH_HELP = message("cli_try_help", locale)
    _localize_usage_errors()


USAGE_ERRORS = (
    (re.compile(r"Missing option (?P<name>.+?)\.(?P<rest>.*)", re.S), "cli_usage_missing_option"),
    (re.compile(r"Missing argument (?P<name>.+?)\.(?P<rest>.*)", re.S), "cli_usage_missing_argument"),
    (re.compile(r"No such option: (?P<name>\S+)(?P<rest>.*)", re.S), "cli_usage_no_option"),
    (re.compile(r"No such command (?P<name>.+?)\.(?P<rest>.*)", re.S), "cli_usage_no_command"),
    (re.compile(r"Invalid value for (?P<name>.+?): (?P<rest>.*)", re.S), "cli_usage_invalid_value"),
    (re.compile(r"Got unexpected extra argument(?:s|\(s\))? \((?P<name>.*)\)(?P<rest>.*)", re.S), "cli_usage_extra"),
)
"""Typer's own wrong-usage messages (English only) and the message each becomes in another locale."""
DID_YOU_MEAN = re.compile(r"Did you mean (?P<name>.+?)\?")


def usage_text(text: str, locale: str) -> str:
    """A typer usage error in ``locale``; an unknown one stays as typer wrote it."""
    for pattern, key in USAGE_ERRORS:
        found = pattern.fullmatch(text)
        if found:
            rest = DID_YOU_MEAN.sub(lambda m: message("cli_usage_did_you_mean", locale, name=m["name"]), found["rest"])
            try:
                return message(key, locale, name=found["name"], rest=rest.strip()).strip()
            except (KeyError, IndexError, ValueError):  # a name with braces: say it as typer did
                return text
    return text


def _localize_usage_errors() -> None:
    """Typer prints a wrong usage (a missing option …) with ``rich_utils.rich_format_error``: translate first."""
    import typer.rich_utils as panels

    show = panels.rich_format_error
    if getattr(show, "localized", False):
        return

    def rich_format_error(error: Any) -> None:
        locale = cli_locale()
        if locale != "en":
            english = error.format_message
            error.format_message = lambda: usage_text(english(), locale)
        show(error)

    rich_format_error.localized = True  # type: ignore[attr-defined]
    panels.rich_format_error = rich_format_error  # type: ignore[assignment]


def _localize_help_option(text: str) -> None:
    """``--help``'s own line (typer builds that option itself, in English) in the user's language.

    Typer makes the option with ``typer._click.decorators.help_option`` when a help page is shown;
    it is wrapped to relabel the option. Should typer move it, the English line simply stays.
    """
    try:
        from typer._click import decorators
    except ImportError:  # pragma: no cover - another typer layout
        return
    build = getattr(decorators, "help_option", None)
    if build is None or getattr(build, "localized", False):
        return

    def help_option(param_decls: list[str]) -> Callable[[Any], Any]:
        add = build(param_decls)

        def relabel(command: Any) -> Any:
            add(command)
            command.params[-1].help = text
            return command

        return relabel

    help_option.localized = True  # type: ignore[attr-defined]
    decorators.help_option = help_option
