"""The web desk's month pages: ``/overview`` (plan vs done, weeks drawn as bars, overdue loans nobody
called, opt-outs) and the briefing (``/briefing``, printable; ``/briefing.xlsx``). The figures are the
core's (:mod:`bot.desk.overview`, :mod:`bot.desk.briefing`); here they only become pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from bot.desk.briefing import Briefing, briefing_scope, make_briefing, team_choices
from bot.desk.briefing_scope import BriefingScope
from bot.desk.briefing_xlsx import SHEETS, briefing_xlsx, scope_label, sheet_rows
from bot.desk.errors import NotFound
from bot.desk.labels import channel_label, label, outcome_label, reason_label, severity_label
from bot.desk.overview import Overview, WeekFigures, make_overview
from bot.desk.planning import PLAN_REASONS, PlanInputError, ProgressRow, parse_month
from bot.desk.timefmt import shown
from bot.web.http import SECURITY_HEADERS, Page, desk_of, page, refuse, render
from dialogs.i18n import message

__all__ = ["briefing", "briefing_download", "overview"]

CHART_HEIGHT = 120
BAR_WIDTH = 36
BAR_GAP = 18
SEVERITIES = ("high", "medium", "low")
OUTCOME_ORDER = ("completed", "callback", "refused", "unreachable", "wrong_party", "opted_out")


async def _scope(p: Page) -> BriefingScope | Response:
    """The month and team asked for, as the reader may see them; an error page otherwise."""
    assert p.visitor is not None
    desk = desk_of(p.request)
    settings = desk.services.settings
    params = p.request.query_params
    team = params.get("team", "")
    try:
        month = parse_month(params["month"]) if params.get("month") else _this_month(p)
        if team and not team.isdigit():
            raise NotFound(message("web_bad_filter", p.locale, field="team"))
        return await briefing_scope(
            desk.services.sessions, month, zone=settings.timezone, viewer=p.visitor.user,
            team_of=int(team) if team else None, locale=p.locale,
        )  # fmt: skip
    except PlanInputError as exc:
        return refuse(p, 400, "web_bad_filter", field=exc.text(p.locale))
    except NotFound:
        return refuse(p, 404, "web_not_found")


def _this_month(p: Page) -> str:
    """The month it is now in the deployment's zone."""
    services = desk_of(p.request).services
    return services.clock.now().astimezone(ZoneInfo(services.settings.timezone)).strftime("%Y-%m")


def _percent(planned: int, done: int) -> str:
    return f"{round(100 * done / planned)}%" if planned else "-"


def _plan_rows(rows: Sequence[ProgressRow], locale: str) -> list[dict[str, Any]]:
    """Per officer one row a reason, then the officer's total; the grand total last."""
    order = {code: n for n, code in enumerate((*PLAN_REASONS, "total"))}
    total = message("web_total", locale)
    grand = [r for r in rows if r.officer_id is None and r.reason == "total"]
    groups: dict[int | None, list[ProgressRow]] = {}
    for row in rows:
        if row not in grand:
            groups.setdefault(row.officer_id, []).append(row)
    shaped = []
    for group in sorted(groups.values(), key=lambda g: (g[0].officer_name, g[0].officer_id or 0)):
        for n, row in enumerate(sorted(group, key=lambda r: order.get(r.reason, len(order)))):
            shaped.append({
                "officer": row.officer_name if n == 0 else "", "officer_id": row.officer_id,
                "reason": total if row.reason == "total" else label("plan_reason", row.reason, locale),
                "planned": row.planned, "done": row.done, "percent": _percent(row.planned, row.done),
                "total": row.reason == "total",
            })  # fmt: skip
    for row in grand:
        shaped.append({"officer": total, "officer_id": None, "reason": "", "planned": row.planned, "done": row.done,
                       "percent": _percent(row.planned, row.done), "total": True})  # fmt: skip
    return shaped


def _bars(weeks: Sequence[WeekFigures], counts: list[dict[str, int]], order: Sequence[str], key: str,
          words: Any) -> dict[str, Any]:  # fmt: skip
    """Stacked bars, one per week, as SVG geometry: the template only draws what is computed here."""
    top = max([sum(c.values()) for c in counts] + [1])
    bars = []
    for n, (week, count) in enumerate(zip(weeks, counts, strict=True)):
        x = BAR_GAP + n * (BAR_WIDTH + BAR_GAP)
        y = CHART_HEIGHT
        parts = []
        for code in order:
            value = count.get(code, 0)
            if not value:
                continue
            height = max(1, round(value / top * (CHART_HEIGHT - 10)))
            y -= height
            parts.append({"cls": f"{key}-{code}", "code": code, "y": y, "height": height,
                          "title": words(week.week, code, value)})  # fmt: skip
        bars.append({"x": x, "label": week.week.split("-")[1], "total": sum(count.values()), "parts": parts,
                     "label_x": x + BAR_WIDTH // 2, "total_y": y - 3})  # fmt: skip
    width = BAR_GAP + len(bars) * (BAR_WIDTH + BAR_GAP)
    return {"bars": bars, "width": width, "height": CHART_HEIGHT + 20, "bar_width": BAR_WIDTH, "base": CHART_HEIGHT}


def _overview_page(p: Page, ov: Overview) -> dict[str, Any]:
    locale = p.locale
    outcomes = [*OUTCOME_ORDER, *sorted({c for w in ov.weeks for c in w.outcomes} - set(OUTCOME_ORDER))]

    def outcome_words(week: str, code: str, value: int) -> str:
        return f"{week} · {outcome_label(code, locale)}: {value}"

    def flag_words(week: str, code: str, value: int) -> str:
        return message("web_chart_flags", locale, week=week, severity=severity_label(code, locale), count=value)

    return {
        "plan": _plan_rows(ov.progress, locale),
        "outcome_chart": _bars(ov.weeks, [dict(w.outcomes) for w in ov.weeks], outcomes, "outcome", outcome_words),
        "flag_chart": _bars(ov.weeks, [dict(w.flags) for w in ov.weeks], SEVERITIES, "severity", flag_words),
        "outcome_keys": [(c, outcome_label(c, locale)) for c in outcomes if any(w.outcomes.get(c) for w in ov.weeks)],
        "severity_keys": [(s, severity_label(s, locale)) for s in SEVERITIES],
        "weeks": [
            {
                "week": w.week,
                "first": w.first.isoformat(),
                "last": w.last.isoformat(),
                "visits": w.visits,
                "outcomes": ", ".join(f"{outcome_label(c, locale)} {n}" for c, n in w.outcomes.items()) or "-",
                "flags": w.flags,
            }
            for w in ov.weeks
        ],
        "overdue": [
            {
                "contract": o.contract_no,
                "borrower": f"{o.borrower_code} {o.borrower_name}",
                "officer": o.officer_name,
                "days": o.overdue_days,
                "amount": f"{o.overdue_amount:,.2f}",
                "since": o.overdue_since.isoformat(),
                "last": shown(o.last_visit_at, p.zone, named=False),
            }
            for o in ov.overdue_uncalled
        ],
        "opt_outs": [
            {
                "borrower": f"{o.borrower_code} {o.borrower_name}",
                "officer": o.officer_name,
                "at": shown(o.opted_out_at, p.zone, named=False),
                "reason": reason_label(o.reason, locale),
                "channel": channel_label(o.preferred_channel, locale),
                "tier": severity_label(o.risk_tier, locale),
                "in_month": o.in_month,
            }
            for o in ov.opt_outs
        ],
        "opted_out_this_month": ov.opted_out_this_month,
    }


async def _month_form(p: Page, scope: BriefingScope) -> dict[str, Any]:
    assert p.visitor is not None
    teams = await team_choices(desk_of(p.request).services.sessions, p.visitor.user)
    return {
        "month": scope.month,
        "team": str(scope.supervisor_id or ""),
        "teams": [(str(uid), f"{team} · {name}") for uid, name, team in teams],
        "scope_label": scope_label(scope, p.locale),
        "query": f"month={scope.month}" + (f"&team={scope.supervisor_id}" if scope.supervisor_id else ""),
    }


async def overview(request: Request) -> Response:
    """``/overview?month=YYYY-MM[&team=ID]``: the month at a glance for what the reader may see."""
    p = await page(request)
    if p.visitor is None:
        return refuse(p, 401, "web_sign_in_needed")
    scope = await _scope(p)
    if isinstance(scope, Response):
        return scope
    desk = desk_of(request)
    ov = await make_overview(desk.services.sessions, scope, desk.services.clock)
    form = await _month_form(p, scope)
    return render(p, "overview.html", here=f"/overview?{form['query']}", **form, **_overview_page(p, ov))


async def _briefing_of(request: Request) -> tuple[Page, BriefingScope, Briefing] | Response:
    """The reader's page, the month and team asked for, and its briefing; or the refusal to show."""
    p = await page(request)
    if p.visitor is None:
        return refuse(p, 401, "web_sign_in_needed")
    scope = await _scope(p)
    if isinstance(scope, Response):
        return scope
    return p, scope, await make_briefing(desk_of(request).services.sessions, scope)


async def briefing(request: Request) -> Response:
    """``/briefing?month=YYYY-MM[&team=ID]``: the monthly briefing as a printable page."""
    found = await _briefing_of(request)
    if isinstance(found, Response):
        return found
    p, scope, made = found
    sheets = sheet_rows(made, p.locale)
    tables = [
        {"name": name, "title": message(f"briefing_sheet_{name}", p.locale), "head": sheets[name][0],
         "rows": [[_cell(v, p.zone) for v in row] for row in sheets[name][1:]]}
        for name in SHEETS if name in sheets
    ]  # fmt: skip
    form = await _month_form(p, scope)
    return render(p, "briefing.html", here=f"/briefing?{form['query']}", tables=tables, **form)


def _cell(value: Any, zone: str) -> str:
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        return shown(value, zone, named=False)
    return str(value)


async def briefing_download(request: Request) -> Response:
    """``/briefing.xlsx?month=YYYY-MM[&team=ID]``: the same briefing as a workbook."""
    found = await _briefing_of(request)
    if isinstance(found, Response):
        return found
    p, scope, made = found
    data = briefing_xlsx(made, p.locale)
    name = f"briefing-{scope.month}" + (f"-team{scope.supervisor_id}" if scope.supervisor_id else "") + ".xlsx"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, media_type=media, headers=headers)
