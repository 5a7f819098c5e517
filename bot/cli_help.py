"""Help texts, table headers and cell words of the ``visitbot`` command line, in every shipped locale.

Typer reads ``help=`` when a command is declared, so :func:`bot.cli_base.h` looks these up in
VISITBOT_LOCALE as the modules are imported. Keys start with ``cli_``; a sub-app of another area
registers its own keys next to its commands.
"""

from __future__ import annotations

from dialogs.i18n import register

__all__: list[str] = []

DAYS_HELP_ZH = "（YYYY-MM-DD，按部署时区 VISITBOT_TIMEZONE 的自然日）"
DAYS_HELP_EN = " (YYYY-MM-DD, a day in the deployment's zone VISITBOT_TIMEZONE)"

register(
    {
        # -- the root and its groups
        "cli_help_app": {"zh-CN": "贷后回访助手", "en": "Loan Visit Assistant (贷后回访助手)"},
        "cli_help_db": {"zh-CN": "数据库表结构。", "en": "Database schema."},
        "cli_help_demo": {"zh-CN": "演示数据。", "en": "Demo data."},
        "cli_help_borrowers": {"zh-CN": "借款人及其贷款。", "en": "Borrowers and their loans."},
        "cli_help_visits": {"zh-CN": "已记录的回访。", "en": "Recorded visits."},
        "cli_help_users": {"zh-CN": "客户经理、主管和管理员。", "en": "Officers, supervisors and admins."},
        "cli_help_scripts": {
            "zh-CN": "安全地编写话术：检查、画图、试运行。",
            "en": "Write scripts safely: check, draw, try.",
        },
        "cli_help_json": {"zh-CN": "输出机器可读的 JSON。", "en": "Machine-readable output."},
        # -- db, demo
        "cli_help_db_upgrade": {
            "zh-CN": "创建或迁移数据库表结构（Alembic）。",
            "en": "Create or migrate the database schema (Alembic).",
        },
        "cli_help_revision": {"zh-CN": "目标版本。", "en": "Target revision."},
        "cli_help_demo_load": {
            "zh-CN": "数据库还没有借款人时，载入演示用的客户经理、借款人和贷款。",
            "en": "Load demo officers, borrowers and loans if the database has no borrowers yet.",
        },
        "cli_help_demo_officer": {
            "zh-CN": "您的 Telegram id：成为演示客户经理王磊（负责 B001、B003 …）。",
            "en": "Your Telegram id: become the demo officer 王磊 (owns B001, B003, ...).",
        },
        "cli_help_demo_supervisor": {
            "zh-CN": "成为演示主管刘主管的 Telegram id。",
            "en": "A Telegram id to become the demo supervisor 刘主管.",
        },
        "cli_demo_loaded": {"zh-CN": "已载入演示数据。", "en": "Demo data loaded."},
        "cli_demo_exists": {"zh-CN": "已有借款人，未载入任何数据。", "en": "Borrowers exist already; nothing loaded."},
        "cli_demo_linked": {
            "zh-CN": "Telegram 用户 {telegram_id} 现在是演示用户 {name}。",
            "en": "Telegram user {telegram_id} is now the demo user {name}.",
        },
        # -- borrowers
        "cli_help_borrowers_list": {
            "zh-CN": "列出借款人：编号、姓名、贷款、客户经理；拒绝回访的借款人注明原因和偏好渠道。",
            "en": "Show borrowers: code, name, loan and officer; opted-out borrowers with reason and "
            "preferred channel.",
        },
        "cli_col_code": {"zh-CN": "编号", "en": "code"},
        "cli_col_name": {"zh-CN": "姓名", "en": "name"},
        "cli_col_business": {"zh-CN": "经营", "en": "business"},
        "cli_col_loan": {"zh-CN": "贷款", "en": "loan"},
        "cli_col_disbursed": {"zh-CN": "放款日", "en": "disbursed"},
        "cli_col_loan_status": {"zh-CN": "贷款状态", "en": "status"},
        "cli_col_officer": {"zh-CN": "客户经理", "en": "officer"},
        "cli_col_risk": {"zh-CN": "风险等级", "en": "risk"},
        "cli_col_zone": {"zh-CN": "时区", "en": "time zone"},
        "cli_col_contact": {"zh-CN": "回访意愿", "en": "contact"},
        "cli_loan_active": {"zh-CN": "正常", "en": "active"},
        "cli_loan_overdue": {"zh-CN": "逾期", "en": "overdue"},
        "cli_loan_closed": {"zh-CN": "已结清", "en": "closed"},
        "cli_opted_out_mark": {"zh-CN": "不想回访 *", "en": "opted out *"},
        "cli_opted_out": {
            "zh-CN": "* {code} {name} 不想回访：原因 {reason}；希望的方式 {channel}",
            "en": "* {code} {name} opted out: reason {reason}; prefers {channel}",
        },
        "cli_pick_borrower": {"zh-CN": "请选择借款人（序号或编号）：", "en": "Pick a borrower (number or code):"},
        "cli_pick_again": {"zh-CN": "没有这个借款人，请重新输入。", "en": "No such borrower, try again."},
        # -- console
        "cli_help_console": {
            "zh-CN": "在终端里进行（或继续）一次回访；也可从管道读入回答。",
            "en": "Run (or resume) a visit in the terminal; works with piped stdin.",
        },
        "cli_help_borrower_code": {"zh-CN": "借款人编号。", "en": "Borrower code."},
        "cli_help_script_id": {"zh-CN": "话术 id。", "en": "Script id."},
        "cli_help_locale": {"zh-CN": "zh-CN 或 en。", "en": "zh-CN or en."},
        "cli_bad_locale_option": {
            "zh-CN": "--locale 须是 {locales} 之一，不是“{value}”。",
            "en": "--locale must be one of {locales}, not '{value}'.",
        },
        # -- visits
        "cli_help_visits_list": {
            "zh-CN": "列出回访，最新的在前；时间按部署时区显示。",
            "en": "List visits, newest first; times in the deployment's zone.",
        },
        "cli_help_status": {"zh-CN": "open（进行中）或 finished（已结束）", "en": "open or finished"},
        "cli_help_outcome": {
            "zh-CN": "结果：completed、callback、refused、unreachable、wrong_party、opted_out",
            "en": "Outcome: completed, callback, refused, unreachable, wrong_party, opted_out",
        },
        "cli_help_since": {"zh-CN": "从这一天起" + DAYS_HELP_ZH, "en": "From this day" + DAYS_HELP_EN},
        "cli_help_until": {
            "zh-CN": "到这一天为止（含）" + DAYS_HELP_ZH,
            "en": "Up to and including this day" + DAYS_HELP_EN,
        },
        "cli_help_visits_show": {
            "zh-CN": "查看一次回访：回答（原文和解析）、风险标记和完整对话记录；时间注明时区。",
            "en": "Show one visit: answers (raw and parsed), risk flags and the full transcript; "
            "times with their zone.",
        },
        "cli_help_visit_id": {"zh-CN": "回访编号。", "en": "Visit id."},
        "cli_help_report": {
            "zh-CN": "输出这次回访的风险报告（Markdown）。",
            "en": "Print the visit's risk report (Markdown).",
        },
        "cli_col_id": {"zh-CN": "编号", "en": "id"},
        "cli_col_borrower": {"zh-CN": "借款人", "en": "borrower"},
        "cli_col_script": {"zh-CN": "话术", "en": "script"},
        "cli_col_status": {"zh-CN": "状态", "en": "status"},
        "cli_col_outcome": {"zh-CN": "结果", "en": "outcome"},
        "cli_col_flags": {"zh-CN": "风险标记", "en": "flags"},
        "cli_col_started": {"zh-CN": "开始（{zone}）", "en": "started ({zone})"},
        "cli_status_open": {"zh-CN": "进行中", "en": "open"},
        "cli_status_finished": {"zh-CN": "已结束", "en": "finished"},
        # -- users
        "cli_help_users_add": {
            "zh-CN": "添加一名员工（或更新这个 Telegram id 的员工）。",
            "en": "Add a staff member (or update the one with this Telegram id).",
        },
        "cli_help_telegram_id": {"zh-CN": "此人的 Telegram 用户 id。", "en": "The person's Telegram user id."},
        "cli_help_role": {
            "zh-CN": "officer（客户经理）、supervisor（主管）或 admin（管理员）",
            "en": "officer, supervisor or admin",
        },
        "cli_help_name": {"zh-CN": "显示的名字。", "en": "Display name."},
        "cli_help_team": {
            "zh-CN": "团队（主管可看本团队的回访）。",
            "en": "Team (supervisors see their team's visits).",
        },
        "cli_help_timezone": {
            "zh-CN": "此人看时间用的时区（IANA 名称，例如 Asia/Urumqi）；不填则用部署时区。",
            "en": "The zone this person sees times in (IANA name, e.g. Asia/Urumqi); the deployment's when unset.",
        },
        "cli_help_users_list": {"zh-CN": "列出员工及其时区。", "en": "List staff and their time zones."},
        "cli_bad_zone": {
            "zh-CN": "{option}：“{zone}”不是已知的时区，请用 IANA 名称，"
            "例如 Asia/Shanghai、Asia/Urumqi、Europe/London。",
            "en": "{option}: '{zone}' is not a known time zone; use an IANA name like Asia/Shanghai, Asia/Urumqi or "
            "Europe/London.",
        },
        "cli_user_saved": {
            "zh-CN": "员工 #{id}：{name}（{role}{team}），Telegram {telegram_id}，时区 {zone}。",
            "en": "User #{id}: {name} ({role}{team}), Telegram {telegram_id}, time zone {zone}.",
        },
        "cli_col_role": {"zh-CN": "角色", "en": "role"},
        "cli_col_team": {"zh-CN": "团队", "en": "team"},
        "cli_col_telegram": {"zh-CN": "Telegram id", "en": "telegram id"},
        "cli_col_active": {"zh-CN": "在职", "en": "active"},
        "cli_zone_default": {"zh-CN": "{zone}（部署默认）", "en": "{zone} (deployment default)"},
        "cli_yes": {"zh-CN": "是", "en": "yes"},
        "cli_no": {"zh-CN": "否", "en": "no"},
        "cli_role_officer": {"zh-CN": "客户经理", "en": "officer"},
        "cli_role_supervisor": {"zh-CN": "主管", "en": "supervisor"},
        "cli_role_admin": {"zh-CN": "管理员", "en": "admin"},
        # -- invite, export (their options are described in bot/cli_share.py)
        "cli_help_invite": {
            "zh-CN": "为借款人生成一次性自助回访链接（t.me 深度链接；令牌以散列保存）。",
            "en": "Print a one-time self-service link for a borrower (t.me deep link; the token is stored hashed).",
        },
        "cli_help_export": {
            "zh-CN": "导出回访：每次回访一行、每个问题一列（XLSX 另有风险标记表）；"
            "--since/--until 按部署时区的自然日。",
            "en": "Export visits: one row per visit, one column per question (+ a risk flag sheet in XLSX); "
            "--since/--until are days in the deployment's zone.",
        },
        # -- bot
        "cli_help_bot": {
            "zh-CN": "运行 Telegram 机器人（VISITBOT_TELEGRAM_TOKEN；"
            "其他 Bot API 服务器用 VISITBOT_TELEGRAM_API_URL）。",
            "en": "Run the Telegram bot (VISITBOT_TELEGRAM_TOKEN; "
            "VISITBOT_TELEGRAM_API_URL for another Bot API server).",
        },
        "cli_help_webhook": {"zh-CN": "以 webhook 服务代替长轮询。", "en": "Serve a webhook instead of long polling."},
        "cli_help_listen": {"zh-CN": "Webhook：监听的地址。", "en": "Webhook: address to listen on."},
        "cli_help_port": {"zh-CN": "Webhook：监听的端口。", "en": "Webhook: port to listen on."},
        "cli_help_path": {"zh-CN": "Webhook：URL 路径。", "en": "Webhook: URL path."},
        "cli_help_url": {
            "zh-CN": "Webhook：Telegram 推送到的公网 URL。",
            "en": "Webhook: public URL Telegram posts to.",
        },
        "cli_help_set_webhook": {
            "zh-CN": "Webhook：启动时向 Telegram 登记该 URL。",
            "en": "Webhook: register the URL with Telegram on start.",
        },
        # -- scripts
        "cli_help_scripts_check": {
            "zh-CN": "载入、校验并检查话术；有错误时以非零状态退出。",
            "en": "Load, validate and lint scripts; exit non-zero when any has errors.",
        },
        "cli_help_script_paths": {
            "zh-CN": "话术文件或文件夹（默认：话术文件夹）。",
            "en": "Script files or folders (default: the scripts folder).",
        },
        "cli_help_scripts_draw": {
            "zh-CN": "画出话术的流程图：步骤、带条件的分支、结果。不加 --output 时 Mermaid 和 SVG 输出到标准输出，"
            "PNG 写入 <话术 id>.png。",
            "en": "Draw a script's graph: steps, branches with their conditions, outcomes. Without --output, Mermaid "
            "and SVG go to standard output and PNG to <script id>.png.",
        },
        "cli_help_script_ref": {"zh-CN": "话术 id 或 YAML 文件。", "en": "Script id or YAML file."},
        "cli_help_format": {"zh-CN": "mermaid、svg 或 png。", "en": "mermaid, svg or png."},
        "cli_help_output": {"zh-CN": "写入的文件（默认见上）。", "en": "File to write (default below)."},
        "cli_help_label_locale": {"zh-CN": "标签的语言。", "en": "Language of the labels."},
        "cli_help_scripts_try": {
            "zh-CN": "在终端里用示例借款人试运行话术，不写入任何回访记录。",
            "en": "Run a script in the console against a sample borrower without writing any visit record.",
        },
        "cli_help_answers": {
            "zh-CN": "回答文件，每行一个，按输入原样。",
            "en": "A file of answers, one per line, as typed.",
        },
        "cli_help_try_borrower": {
            "zh-CN": "使用数据库中这位借款人的资料（及其时区）。",
            "en": "Use this borrower's data (and time zone) from the database.",
        },
        "cli_checked": {
            "zh-CN": "已检查 {files} 个文件：{errors} 个错误，{warnings} 个警告",
            "en": "{files} file(s) checked: {errors} error(s), {warnings} warning(s)",
        },
        "cli_skipped_script": {"zh-CN": "已跳过：{problem}", "en": "skipped: {problem}"},
    }
)
