"""The web desk's corrections: old → new on a visit page's answers, and POST ``/visits/{id}/correct``.

A translator only: who may correct, the parsing, the history, the flags and the audit entry are
:mod:`bot.desk.corrections`'s; the history shown is the record's (:mod:`bot.desk.correction_record`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk.corrections import CorrectionDesk, CorrectionRefused, correctable_answers, may_correct_visit
from bot.desk.timefmt import shown
from bot.web.http import Page, csrf_ok, desk_of, page, refuse, with_flash
from dialogs.i18n import register

__all__ = ["correct", "correction_view"]

register(
    {
        "web_corrected": {"zh-CN": "已更正", "en": "Corrected"},
        "web_corrected_line": {
            "zh-CN": "原为“{old}”→ 现为“{new}”；{who}，{at}；原因：{reason}",
            "en": "was '{old}' → now '{new}'; {who}, {at}; why: {reason}",
        },
        "web_version": {"zh-CN": "记录版本：第 {version} 版", "en": "Record version {version}"},
        "web_corrections_title": {"zh-CN": "更正记录", "en": "Corrections"},
        "web_correction_entry": {
            "zh-CN": "第 {version} 版 · {question}：“{old}”→“{new}” · {who} · {at} · 原因：{reason}",
            "en": "Version {version} · {question}: '{old}' → '{new}' · {who} · {at} · why: {reason}",
        },
        "web_correct_form": {"zh-CN": "更正一个回答", "en": "Correct an answer"},
        "web_correct_step": {"zh-CN": "问题", "en": "Question"},
        "web_correct_value": {
            "zh-CN": "新的回答（按回访时的写法：选项文字或序号、5万、2026-12-01 …）",
            "en": "New answer (as typed during a visit: an option's label or number, 5万, 2026-12-01, …)",
        },
        "web_correct_reason": {"zh-CN": "更正原因（必填）", "en": "Reason (required)"},
        "web_correct_submit": {"zh-CN": "更正", "en": "Correct"},
    }
)


def _said(side: dict[str, Any]) -> str:
    return str(side.get("display") or side.get("raw") or "-")


async def correction_view(p: Page, record: dict[str, Any]) -> dict[str, Any]:
    """What visit_answers.html shows of corrections: one entry per answer row (None: as given), the
    history, the record's version, and the questions the reader may correct (empty: no form)."""
    rows: list[dict[str, Any] | None] = []
    for a in record.get("answers", []):
        c = a.get("corrected")
        rows.append(
            None
            if not c
            else {"old": _said(c["original"]), "new": a["display"] or a["raw"], "who": c["by"], "reason": c["reason"],
                  "at": shown(c["at"], p.zone, named=False), "times": c["times"], "version": c["version"]}
        )  # fmt: skip
    questions = {a["step"]: a["question"] for a in record.get("answers", [])}
    history = [
        {"version": c["version"], "step": c["step"], "question": questions.get(c["step"], c["step"]),
         "old": _said(c["old"]), "new": _said(c["new"]), "reason": c["reason"],
         "who": c["by"]["name"] if c.get("by") else c.get("actor", ""), "at": shown(c["at"], p.zone, named=False)}
        for c in record.get("corrections", [])
    ]  # fmt: skip
    steps: list[tuple[str, str]] = []
    if p.visitor is not None and await may_correct_visit(desk_of(p.request).services.sessions, p.visitor.user,
                                                         int(record["id"])):  # fmt: skip
        answers = {a["step"]: a for a in correctable_answers(record)}  # a loop's step once, with its newest
        steps = [(step, f"{step} · {a['question'][:50]}") for step, a in answers.items()]
    return {"rows": rows, "history": history, "version": record.get("version", 1), "steps": steps}


async def correct(request: Request) -> Response:
    """POST ``/visits/{id}/correct``: correct one answer through the core, then back to the page with what happened."""
    p = await page(request)
    raw = str(request.path_params.get("visit_id", ""))
    form = await request.form()
    if p.visitor is None or not csrf_ok(p, form):
        return refuse(p, 403, "web_forbidden")
    if not raw.isdigit() or len(raw) >= 12:
        return refuse(p, 404, "web_not_found")
    visit_id = int(raw)
    desk = desk_of(request)
    try:
        done = await CorrectionDesk(desk.services.desk).correct(
            visit_id, str(form.get("step", "")), str(form.get("value", "")), reason=str(form.get("reason", "")),
            user=p.visitor.user, locale=p.locale,
        )  # fmt: skip
        text = " ".join(done.lines(p.locale))
    except CorrectionRefused as refusal:
        if refusal.reason == "not_found":
            return refuse(p, 404, "web_not_found")
        text = refusal.text
    back = RedirectResponse(f"/visits/{visit_id}#transcript", status_code=303, headers={"Cache-Control": "no-store"})
    return with_flash(back, text)
