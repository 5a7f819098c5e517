"""What an import tells its user, in zh-CN and en: file problems, and the reason a cell is bad."""

from __future__ import annotations

__all__ = ["MESSAGES"]

MESSAGES: dict[str, dict[str, str]] = {
    "import_bad_kind": {
        "zh-CN": "不认识“{kind}”：可导入 borrowers（借款人）、loans（贷款）或 repayments（还款计划）。",
        "en": "Unknown kind '{kind}': import borrowers, loans or repayments.",
    },
    "import_bad_format": {
        "zh-CN": "{file}：只能导入 .csv（UTF-8）或 .xlsx 文件。",
        "en": "{file}: only .csv (UTF-8) and .xlsx files can be imported.",
    },
    "import_bad_xlsx": {
        "zh-CN": "{file} 不是可读的 Excel（.xlsx）文件。",
        "en": "{file} is not a readable Excel (.xlsx) file.",
    },
    "import_not_utf8": {
        "zh-CN": "{file} 不是 UTF-8 编码（第 {row} 行；也许是 GBK）：请用 UTF-8 另存后再试。没有导入任何数据。",
        "en": "{file} is not UTF-8 (row {row}; GBK perhaps?): save it as UTF-8 and try again. Nothing was imported.",
    },
    "import_missing_columns": {
        "zh-CN": "{kind} 文件缺少必需的列：{columns}（模板：visitbot import --template {kind}）。",
        "en": "The {kind} file lacks the required column(s) {columns} (template: visitbot import --template {kind}).",
    },
    "import_missing": {"zh-CN": "必填，不能为空", "en": "required, but empty"},
    "import_too_long": {"zh-CN": "太长（最多 {max} 个字符）", "en": "too long (at most {max} characters)"},
    "import_bad_date": {
        "zh-CN": "“{value}”不是日期（例如 2026-11-01 或 2026/11/01）",
        "en": "'{value}' is not a date (like 2026-11-01 or 2026/11/01)",
    },
    "import_bad_money": {
        "zh-CN": "“{value}”不是金额（例如 50000、50,000 或 5万）",
        "en": "'{value}' is not an amount (like 50000, 50,000 or 5万)",
    },
    "import_money_cents": {
        "zh-CN": "“{value}”超过两位小数（金额精确到分）",
        "en": "'{value}' has more than two decimals (amounts go down to the fen)",
    },
    "import_money_large": {
        "zh-CN": "“{value}”太大（最多 {max}）",
        "en": "'{value}' is too large (at most {max})",
    },
    "import_money_zero": {"zh-CN": "“{value}”须大于 0", "en": "'{value}' must be more than 0"},
    "import_bad_phone": {
        "zh-CN": "不是有效的电话号码（11 位手机号或带区号的座机）",
        "en": "not a valid phone number (an 11-digit mobile or a landline with its area code)",
    },
    "import_bad_tier": {
        "zh-CN": "“{value}”不是风险等级：填 low、medium 或 high（低、中、高）",
        "en": "'{value}' is not a risk tier: use low, medium or high",
    },
    "import_bad_timezone": {
        "zh-CN": "“{value}”不是时区（例如 Asia/Shanghai）",
        "en": "'{value}' is not a time zone (like Asia/Shanghai)",
    },
    "import_bad_locale": {
        "zh-CN": "“{value}”不是支持的语言：填 zh-CN 或 en",
        "en": "'{value}' is not a supported language: use zh-CN or en",
    },
    "import_bad_latitude": {
        "zh-CN": "“{value}”不是纬度（-90 到 90 之间的小数度数，例如 31.2304）",
        "en": "'{value}' is not a latitude (decimal degrees from -90 to 90, like 31.2304)",
    },
    "import_bad_longitude": {
        "zh-CN": "“{value}”不是经度（-180 到 180 之间的小数度数，例如 121.4737）",
        "en": "'{value}' is not a longitude (decimal degrees from -180 to 180, like 121.4737)",
    },
    "import_coordinates_pair": {
        "zh-CN": "纬度和经度要么都填，要么都不填",
        "en": "give both the latitude and the longitude, or neither",
    },
    "import_bad_status": {
        "zh-CN": "“{value}”不是贷款状态：填 active、overdue、closed 或 written_off（正常、逾期、结清、核销）",
        "en": "'{value}' is not a loan status: use active, overdue, closed or written_off",
    },
    "import_due_before_disbursed": {
        "zh-CN": "到期日早于放款日",
        "en": "the due date is before the disbursement date",
    },
    "import_unknown_officer": {
        "zh-CN": "没有 Telegram 账号或姓名为“{value}”的员工（先用 visitbot users add 添加）",
        "en": "no staff member has the Telegram id or name '{value}' (add them with visitbot users add)",
    },
    "import_officer_ambiguous": {
        "zh-CN": "有多位员工叫“{value}”：请填 Telegram 账号",
        "en": "several staff members are called '{value}': give the Telegram id instead",
    },
    "import_unknown_borrower": {
        "zh-CN": "没有编号为“{value}”的借款人（先导入 borrowers 文件）",
        "en": "no borrower has the code '{value}' (import the borrowers file first)",
    },
    "import_unknown_loan": {
        "zh-CN": "没有合同号为“{value}”的贷款（先导入 loans 文件）",
        "en": "no loan has the contract number '{value}' (import the loans file first)",
    },
    "import_duplicate": {
        "zh-CN": "“{value}”与第 {first} 行重复（只导入第一行）",
        "en": "'{value}' repeats row {first} (only the first is imported)",
    },
}
"""Every message key of :mod:`bot.desk.importing` (registered there)."""
