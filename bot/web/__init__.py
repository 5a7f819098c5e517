"""The supervisors' web desk (``visitbot web``): a Starlette front-end over the core, like the others.

Pages translate requests into calls of :mod:`bot.desk` and its results into HTML; no rule lives here.
"""

from bot.web.app import build_app, make_app

__all__ = ["build_app", "make_app"]
