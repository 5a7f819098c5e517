"""The web desk's hardship requests (展期 / 分期): ``/relief`` and a visit's requests, approve / decline.

A translator only: who may see and decide which request, once, with a reason, and whom to tell are
:mod:`bot.desk.relief`'s; this module turns requests into its calls and its answers into pages.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk.labels import label
from bot.desk.relief import ReliefDesk, ReliefRefused, ReliefView
from bot.desk.timefmt import shown
from bot.web.http import Page, csrf_ok, desk_of, page, refuse, render, with_flash
from dialogs.i18n import message, register

__all__ = ["decide", "relief_page", "visit_relief"]

register(
    {
        "web_nav_relief": {"zh-CN": "展期/分期", "en": "Hardship requests"},
        "web_relief_title": {"zh-CN": "展期/分期申请", "en": "Hardship requests"},
        "web_relief_pending": {"zh-CN": "待审批（等得最久的在前）", "en": "Waiting (longest waiting first)"},
        "web_relief_decided": {"zh-CN": "已处理（最近的在前）", "en": "Decided (latest first)"},
        "web_relief_none_pending": {"zh-CN": "没有待审批的申请。", "en": "No requests are waiting."},
        "web_relief_none_decided": {"zh-CN": "还没有处理过的申请。", "en": "No request has been decided yet."},
        "web_relief_section": {"zh-CN": "展期/分期申请", "en": "Hardship request"},
        "web_relief_request": {"zh-CN": "申请 #{id}", "en": "Request #{id}"},
        "web_relief_asked": {
            "zh-CN": "客户 {borrower} 申请{kind}{terms} · 信贷员 {officer} · {at}",
            "en": "{borrower} asks for a {kind}{terms} · officer {officer} · {at}",
        },
        "web_relief_state": {"zh-CN": "状态：{status}", "en": "Status: {status}"},
        "web_relief_decision": {
            "zh-CN": "{name} 于 {at} {status}。理由：{reason}",
            "en": "{status} by {name} at {at}. Reason: {reason}",
        },
        "web_relief_reason": {"zh-CN": "审批理由（必填）", "en": "Reason (required)"},
        "web_relief_approve": {"zh-CN": "批准", "en": "Approve"},
        "web_relief_decline": {"zh-CN": "不批准", "en": "Decline"},
        "web_relief_open_visit": {"zh-CN": "回访 #{id}", "en": "Visit #{id}"},
        "web_relief_done_approved": {
            "zh-CN": "申请 #{id} 已批准，信贷员和客户会收到通知。",
            "en": "Request #{id} approved; the officer and the borrower are told.",
        },
        "web_relief_done_declined": {
            "zh-CN": "申请 #{id} 未批准，信贷员和客户会收到通知。",
            "en": "Request #{id} declined; the officer and the borrower are told.",
        },
    }
)


def _relief(request: Request) -> ReliefDesk:
    svc = desk_of(request).services
    return ReliefDesk(svc.sessions, svc.settings, svc.clock)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def _row(p: Page, view: ReliefView) -> dict[str, Any]:
    """One request as the templates show it."""
    locale = p.locale
    terms = message("relief_terms_of", locale, terms=view.terms) if view.terms else ""
    status = message(f"relief_status_{view.status}", locale)
    decision = ""
    if view.status != "pending":
        decision = message(
            "web_relief_decision", locale, name=view.decided_by or "-", at=shown(view.decided_at, p.zone, named=False),
            status=status, reason=view.reason or "-",
        )  # fmt: skip
    asked = message(
        "web_relief_asked", locale, borrower=f"{view.borrower_code} {view.borrower_name}",
        kind=label("relief_kind", view.kind, locale), terms=terms, officer=view.officer_name,
        at=shown(view.requested_at, p.zone, named=False),
    )  # fmt: skip
    return {
        "id": view.id, "status": view.status, "status_label": status, "asked": asked, "decision": decision,
        "visit_id": view.visit_id, "can_decide": view.can_decide,
    }  # fmt: skip


async def relief_page(request: Request) -> Response:
    """``/relief``: the requests the reader may see, pending first, then decided; forms for those they may decide."""
    p = await page(request)
    if p.visitor is None:
        return refuse(p, 401, "web_sign_in_needed")
    views = await _relief(request).visible(p.visitor.user)
    rows = [_row(p, view) for view in views]
    return render(
        p, "relief.html", pending=[r for r in rows if r["status"] == "pending"],
        decided=[r for r in rows if r["status"] != "pending"], here="/relief", back="/relief",
    )  # fmt: skip


async def visit_relief(p: Page, visit_id: int) -> list[dict[str, Any]]:
    """The requests of one visit as the visit page shows them (its partial ``visit_relief.html``)."""
    assert p.visitor is not None
    return [_row(p, view) for view in await _relief(p.request).of_visit(p.visitor.user, visit_id)]


async def decide(request: Request) -> Response:
    """POST ``/relief/{id}/decide`` (``decision`` approve | decline, ``reason``): through the core, then back."""
    p = await page(request)
    form = await request.form()
    if p.visitor is None or not csrf_ok(p, form):
        return refuse(p, 403, "web_forbidden")
    raw = str(request.path_params.get("request_id", ""))
    if not raw.isdigit() or len(raw) >= 12:
        return refuse(p, 404, "web_not_found")
    request_id = int(raw)
    back = str(form.get("back", "") or "/relief")
    if not back.startswith("/") or back.startswith("//"):
        back = "/relief"
    try:
        done = await _relief(request).decide(
            p.visitor.user, request_id, str(form.get("decision", "")), str(form.get("reason", "")), locale=p.locale
        )
    except ReliefRefused as refusal:
        if refusal.reason == "not_found":
            return refuse(p, 404, "web_not_found")
        return with_flash(_redirect(back), refusal.text)
    return with_flash(_redirect(back), message(f"web_relief_done_{done.status}", p.locale, id=request_id))
