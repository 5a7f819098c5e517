"""``visitbot import``: the loan book in from CSV or XLSX files, with a progress bar and every bad row named.

Exit codes: 0 when every row was imported; 1 when some rows were bad (the good ones are imported and
each bad one is listed with its row, column and reason); 2 when the file as a whole cannot be read
(format, encoding, a required column missing): then nothing is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, err, out, run, writable
from bot.desk.importing import KINDS, ImportFileError, ImportResult, import_sheet, read_sheet, template_text
from dialogs.i18n import message, register

__all__ = ["import_command"]

register(
    {
        "import_row_problem": {
            "zh-CN": "第 {row} 行，{column} 列：{reason}",
            "en": "Row {row}, column {column}: {reason}",
        },
        "import_summary": {
            "zh-CN": "{kind}：读取 {rows} 行，导入 {good} 行（新增 {new}，更新 {updated}，未变 {unchanged}），"
            "有问题 {bad} 行（其中重复 {duplicates} 行）。",
            "en": "{kind}: {rows} row(s) read, {good} imported ({new} new, {updated} updated, {unchanged} unchanged), "
            "{bad} bad ({duplicates} of them duplicates).",
        },
        "import_dry_run": {
            "zh-CN": "试运行：数据库没有任何改动。",
            "en": "Dry run: nothing was written to the database.",
        },
        "import_ignored": {
            "zh-CN": "忽略了不认识的列：{columns}",
            "en": "Columns not known, ignored: {columns}",
        },
        "import_refreshed": {
            "zh-CN": "已按还款计划更新 {loans} 笔贷款的逾期天数和逾期金额（截至 {today}）。",
            "en": "Overdue days and amount of {loans} loan(s) set from their repayments (as of {today}).",
        },
        "import_progress": {"zh-CN": "导入 {kind}", "en": "Importing {kind}"},
        "import_usage": {
            "zh-CN": "用法：visitbot import borrowers|loans|repayments 文件 [--dry-run]，"
            "或 visitbot import --template loans [--output 文件]。",
            "en": "Usage: visitbot import borrowers|loans|repayments FILE [--dry-run], "
            "or visitbot import --template loans [--output FILE].",
        },
        "import_template_written": {
            "zh-CN": "已写入 {kind} 模板：{file}（列的说明见 README“导入贷款台账”）。",
            "en": "Wrote the {kind} template to {file} (the columns are described in the README, 'Loan book in').",
        },
        "import_template_exists": {
            "zh-CN": "{file} 已存在：用 --output 指定另一个文件（或 --output - 输出到屏幕）。",
            "en": "{file} exists already: name another file with --output (or --output - to print it).",
        },
    }
)


def _kind(kind: str, locale: str) -> str:
    """``kind`` if it is one that imports, else a usage error (exit 2)."""
    if kind not in KINDS:
        raise CommandError(message("import_bad_kind", locale, kind=kind), code=2)
    return kind


def _write_template(kind: str, output: Path | None, locale: str) -> None:
    """Write the template of ``kind`` to ``output`` (``-``: standard output; default ``<kind>.csv``, not replaced)."""
    text = template_text(kind)
    if output is not None and str(output) == "-":
        sys.stdout.write(text)
        return
    target = output or Path(f"{kind}.csv")
    if output is None and target.exists():
        raise CommandError(message("import_template_exists", locale, file=target))
    # utf-8-sig: Excel opens the Chinese example row correctly
    writable(target).write_text(text, encoding="utf-8-sig")
    out.print(message("import_template_written", locale, kind=kind, file=target), style="green", markup=False)


def _report(result: ImportResult, locale: str) -> None:
    """Every problem, one line each, then the counts."""
    for problem in result.problems:
        reason = message(problem.key, locale, **problem.params)
        line = message("import_row_problem", locale, row=problem.row, column=problem.column, reason=reason)
        out.print(line, style="red", markup=False, soft_wrap=True)
    if result.ignored_columns:
        columns = ", ".join(result.ignored_columns)
        out.print(message("import_ignored", locale, columns=columns), style="yellow", markup=False)
    written = result.written
    summary = message(
        "import_summary",
        locale,
        kind=result.kind,
        rows=result.rows,
        good=result.good,
        new=written.new,
        updated=written.updated,
        unchanged=written.unchanged,
        bad=result.bad_rows,
        duplicates=result.duplicates,
    )
    out.print(summary, style="green" if not result.bad_rows else "yellow", markup=False, soft_wrap=True)
    if result.loans_refreshed:
        out.print(message("import_refreshed", locale, loans=result.loans_refreshed, today=result.today), markup=False)
    if result.dry_run:
        out.print(message("import_dry_run", locale), style="cyan", markup=False)


def import_command(
    kind: Annotated[str | None, typer.Argument(help="borrowers, loans or repayments.", show_default=False)] = None,
    file: Annotated[
        Path | None, typer.Argument(help="A .csv (UTF-8) or .xlsx file; the README lists its columns.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")] = False,
    template: Annotated[
        str | None, typer.Option("--template", help="Write the CSV template of borrowers, loans or repayments.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where --template writes (default KIND.csv; - prints).")
    ] = None,
) -> None:
    """Import borrowers, loans or repayments from CSV or XLSX (upsert on their ids; re-importing changes nothing).

    Exit code 1 when some rows are bad (the good ones are imported), 2 when the file cannot be read.
    """
    locale = cli_locale()
    if template is not None:
        _write_template(_kind(template, locale), output, locale)
        return
    if kind is None or file is None:
        raise CommandError(message("import_usage", locale), code=2)
    _kind(kind, locale)
    try:
        sheet = read_sheet(file)
    except ImportFileError as exc:
        raise CommandError(message(exc.key, locale, **exc.params), code=2) from exc

    decided: list[str] = []

    async def job(svc: Services) -> ImportResult:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task(message("import_progress", locale, kind=kind), total=sheet.total or None)
            result = await import_sheet(
                svc.sessions,
                kind,
                sheet,
                clock=svc.clock,
                timezone=svc.settings.timezone,
                dry_run=dry_run,
                progress=lambda done: bar.update(task, completed=done),
            )
        if kind == "repayments" and not dry_run:  # the repayments decide promises to pay (bot.desk.promises)
            from bot.cli_promises import checked_lines
            from bot.desk.promises import check_promises

            checked = await check_promises(svc.sessions, svc.settings, clock=svc.clock)
            decided.append(checked_lines(checked, locale))
        return result

    try:
        result = run(job)
    except ImportFileError as exc:
        raise CommandError(message(exc.key, locale, **exc.params), code=2) from exc
    _report(result, locale)
    for line in decided:
        out.print(line, markup=False)
    if result.bad_rows:
        raise typer.Exit(1)
