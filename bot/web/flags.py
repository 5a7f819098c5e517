"""The web desk's flags: each flag of a visit page with its evidence, and POST ``/visits/{id}/flags/{flag}/explain``.

A translator only: who may explain, the reason's rules, the audit entry and the review rank are
:mod:`bot.desk.flag_review`'s.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk.flag_review import FLAG_KINDS, FlagRefused, ReviewedFlag, evidence_text, explain_flag, kind_label
from bot.desk.flag_review import linked_visits as linked
from bot.desk.labels import flag_label, severity_label
from bot.desk.timefmt import shown
from bot.web.http import Page, csrf_ok, desk_of, page, refuse, with_flash
from dialogs.i18n import message, register

__all__ = ["explain", "flag_rows", "quality_badge"]

register(
    {
        "web_flag_evidence": {"zh-CN": "依据", "en": "Evidence"},
        "web_flag_see_visits": {"zh-CN": "相关回访：", "en": "Other visits: "},
        "web_flag_explain": {"zh-CN": "说明此预警", "en": "Explain this flag"},
        "web_flag_reason_placeholder": {
            "zh-CN": "原因（例如：已电话核实，借款人确在店内）",
            "en": "Reason (e.g. called back: the borrower was in the shop)",
        },
        "web_flag_open": {"zh-CN": "未说明", "en": "not explained"},
        "web_filter_quality": {"zh-CN": "只看有未说明形式化预警的", "en": "Only with unexplained quality flags"},
        "web_quality_badge": {"zh-CN": "形式化 {count}：{codes}", "en": "quality {count}: {codes}"},
    }
)


def flag_rows(p: Page, flags: list[ReviewedFlag]) -> list[dict[str, Any]]:
    """A visit page's flags for its template: 形式化 first, then cross-visit, promise, answer flags."""
    order = {kind: n for n, kind in enumerate(FLAG_KINDS)}
    rows = []
    for f in sorted(flags, key=lambda f: (order.get(f.kind, len(order)), f.id)):
        explained = None
        if f.explained_at is not None:
            at = shown(f.explained_at, p.zone, named=False)
            explained = message("flag_explained_line", p.locale, name=f.explained_by, at=at, reason=f.explanation)
        rows.append(
            {
                "id": f.id,
                "kind": f.kind,
                "kind_label": kind_label(f.kind, p.locale),
                "rule": flag_label(f.code, p.locale),
                "code": f.code,
                "severity": f.severity,
                "severity_label": severity_label(f.severity, p.locale),
                "note": f.note,
                "step": f.step or "",
                "evidence": evidence_text(f.kind, f.code, f.evidence, p.locale),
                "visits": [
                    (v, message("flag_evidence_visit", p.locale, id=v)) for v in linked(f.evidence, own=f.visit_id)
                ],
                "explained": explained,
                "may_explain": f.may_explain,
            }
        )
    return rows


def quality_badge(codes: list[str], locale: str) -> str:
    """A queue row's quality flags in words (用时过短、全选第一项), empty without any."""
    return ("、" if locale.startswith("zh") else ", ").join(flag_label(code, locale) for code in codes)


def _number(request: Request, name: str) -> int | None:
    raw = str(request.path_params.get(name, ""))
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


async def explain(request: Request) -> Response:
    """POST ``/visits/{visit_id}/flags/{flag_id}/explain``: the reason given, back to the visit with what happened."""
    p = await page(request)
    form = await request.form()
    if p.visitor is None or not csrf_ok(p, form):
        return refuse(p, 403, "web_forbidden")
    visit_id, flag_id = _number(request, "visit_id"), _number(request, "flag_id")
    if visit_id is None or flag_id is None:
        return refuse(p, 404, "web_not_found")
    desk = desk_of(request)
    services = desk.services
    try:
        done = await explain_flag(
            services.sessions, p.visitor.user, flag_id, str(form.get("reason", "")), now=services.clock.now(),
            locale=p.locale, zone=p.zone, visit_id=visit_id,
        )  # fmt: skip
        text = message("flag_explained_done", p.locale, id=done.id, rule=flag_label(done.code, p.locale))
    except FlagRefused as refusal:
        if refusal.reason == "not_found":
            return refuse(p, 404, "web_not_found")
        text = refusal.text
    response = RedirectResponse(f"/visits/{visit_id}#flag-{flag_id}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return with_flash(response, text)
