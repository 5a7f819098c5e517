"""The console front-end driven as a subprocess with piped input, as scripts and officers use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

VISITBOT = [sys.executable, "-m", "bot"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(
        VISITBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        VISITBOT_LOCALE="zh-CN",
        PYTHONUNBUFFERED="1",
        # the contact window is off (start == end): these scenarios run at whatever hour the suite does
        VISITBOT_CONTACT_WINDOW_START="00:00",
        VISITBOT_CONTACT_WINDOW_END="00:00",
    )
    run(["demo", "load"], environ)
    return environ


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*VISITBOT, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


def show(env: dict[str, str], visit_id: int) -> dict[str, object]:
    data = json.loads(run(["visits", "show", str(visit_id), "--json"], env).stdout)
    assert isinstance(data, dict)
    return data


COMPLETE = ["1", "1", "好", "没有", "否", "按约定用途使用", "/skip", "希望利率低一点", "是", "否", "是", "是"]


def test_piped_visit_completes_and_is_recorded(env: dict[str, str]) -> None:
    out = run(["console", "--borrower", "B001"], env, "\n".join(COMPLETE) + "\n").stdout
    assert "请问您是" in out and "祝您生意兴隆" in out and "免费贷款咨询" in out
    assert "回访结束：已完成" in out
    listed = json.loads(run(["visits", "list", "--json"], env).stdout)
    assert listed[0]["outcome"] == "completed" and listed[0]["borrower"]["code"] == "B001"
    record = show(env, listed[0]["id"])
    answers = {a["step"]: a for a in record["answers"]}  # type: ignore[union-attr]
    assert answers["needs"]["raw"] == "希望利率低一点"
    assert answers["products"]["skipped"] is True
    assert record["script"] == {"id": "officer_phone_visit", "version": 2}
    assert record["flags"] == []


def test_wrong_party_discloses_nothing(env: dict[str, str]) -> None:
    out = run(["console", "--borrower", "B002"], env, "2\n").stdout
    assert "回访结束：非本人" in out
    visit_lines = out.split("请问您是", 1)[1]
    for secret in ("示例农商银行", "贷款", "万元", "150000"):
        assert secret not in visit_lines
    record = show(env, 1)
    assert record["outcome"] == "wrong_party"
    said = " ".join(m["text"] for m in record["transcript"])  # type: ignore[union-attr,index]
    assert "万元" not in said and "示例农商银行" not in said


def test_bad_input_is_reasked_and_nothing_is_lost(env: dict[str, str]) -> None:
    out = run(["console", "--borrower", "B003"], env, "1\n1\n好\n有\n很多\n5万\n").stdout
    assert "没看懂" in out or "金额" in out
    record = show(env, 1)
    amount = [a for a in record["answers"] if a["step"] == "other_borrowing_amount"]  # type: ignore[union-attr,index]
    assert amount[0]["value"] == "50000"
    assert record["status"] == "open"


def test_english_visit(env: dict[str, str]) -> None:
    out = run(["console", "--borrower", "B004", "--locale", "en"], env, "3\ntomorrow 3pm\n").stdout
    assert "Am I speaking with" in out and "call you again" in out
    record = show(env, 1)
    assert record["outcome"] == "callback" and record["callback_at"]


def test_kill_minus_nine_mid_visit_then_resume(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*VISITBOT, "console", "--borrower", "B005"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for line in ("1", "1", "差", "2"):
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
    deadline = time.monotonic() + 30
    seen = ""
    while "压力大不大" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert "压力大不大" in seen, seen
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    out = run(["console", "--borrower", "B005"], env, "压力很大\n/quit\n").stdout
    assert "继续上次未完成的回访" in out
    assert out.index("压力大不大") < out.index("最近有没有另外筹借资金")
    record = show(env, 1)
    steps = [a["step"] for a in record["answers"]]  # type: ignore[union-attr,index]
    assert steps == ["identity", "introduction", "business_status", "worse_reason", "repayment_pressure"]
    assert record["status"] == "open"
    assert {f["code"] for f in record["flags"]} == {"business_worse", "repayment_pressure_high"}  # type: ignore[union-attr,index]


def test_borrowers_list(env: dict[str, str]) -> None:
    out = run(["borrowers", "list"], env).stdout
    assert "B001" in out and "B008" in out
    data = json.loads(run(["borrowers", "list", "--json"], env).stdout)
    assert data[0]["code"] == "B001" and data[0]["loan"]["amount"]


def test_ctrl_c_stops_at_once_says_what_is_saved_and_a_rerun_resumes(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*VISITBOT, "console", "--borrower", "B006"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for line in ("1", "1", "差"):
        proc.stdin.write(line + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    seen = ""
    while "什么原因" not in seen and "变差" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    asked = seen.rstrip().splitlines()[-1]
    time.sleep(0.3)  # the console now waits for the next line
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)  # stdin stays open: it must not wait for another line
    assert time.monotonic() - started < 5
    assert proc.stderr is not None
    rest, errors = proc.stdout.read(), proc.stderr.read()
    proc.stdin.close()
    assert proc.returncode == 130, errors
    assert "已中断，回答都已保存。继续：visitbot console --borrower B006" in rest
    assert "Traceback" not in errors and "Aborted" not in errors
    out = run(["console", "--borrower", "B006"], env, "/quit\n").stdout
    assert "继续上次未完成的回访" in out and asked in out
    steps = [a["step"] for a in show(env, 1)["answers"]]  # type: ignore[union-attr,index]
    assert steps == ["identity", "introduction", "business_status"]
