"""The command speaks Vietnamese where DIGITIZE_LANG or the locale (LANG, LC_ALL, LC_MESSAGES) asks
for it, and English otherwise: its help, its error lines, the quota's errors and the batch summary."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import MINI, MINI_PAGES, cli_env
from digitize.cli.language import chosen
from digitize.core.errors import ExitCode

VIETNAMESE = [{"LANG": "vi_VN.UTF-8"}, {"DIGITIZE_LANG": "vi"}]
ENGLISH = [{"LANG": "C"}, {}, {"LANG": "vi_VN.UTF-8", "DIGITIZE_LANG": "en"}]


def digitize(*args: str, language: dict[str, str], **settings: str) -> subprocess.CompletedProcess:
    """`digitize ARGS` with the language variables ``language`` (and no other) set."""
    env = {k: v for k, v in cli_env(None, args, settings).items() if k != "LANG"} | language
    return subprocess.run([sys.executable, "-m", "digitize.cli.app", *args], env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_the_language_is_the_setting_then_the_locale_then_english():
    assert chosen({"LANG": "vi_VN.UTF-8"}) == "vi"
    assert chosen({"LC_ALL": "vi_VN.UTF-8", "LANG": "C.UTF-8"}) == "vi"
    assert chosen({"LC_ALL": "C", "LC_MESSAGES": "vi_VN.UTF-8"}) == "en"  # LC_ALL wins, as in POSIX
    assert chosen({"LC_MESSAGES": "vi_VN", "LANG": "en_US.UTF-8"}) == "vi"
    assert chosen({"DIGITIZE_LANG": "vi", "LANG": "C"}) == "vi"
    assert chosen({"DIGITIZE_LANG": "en", "LANG": "vi_VN.UTF-8"}) == "en"
    assert chosen({"LANG": "fr_FR.UTF-8"}) == "en" and chosen({}) == "en"


@pytest.mark.parametrize("language", VIETNAMESE)
def test_help_in_vietnamese(language):
    root = digitize("--help", language=language)
    assert root.returncode == 0
    assert "Quy trình số hóa tài liệu cho các thư viện Việt Nam" in root.stdout
    assert "Số hóa lô BATCH, có hiển thị tiến độ và bảng tổng kết" in root.stdout
    assert "Digitization pipeline" not in root.stdout
    run = digitize("run", "--help", language=language)
    assert run.returncode == 0
    assert "thư mục lô: mỗi tài liệu một thư mục con" in run.stdout
    assert "[mặc định: $DIGITIZE_DATA/out]" in run.stdout  # the defaults are shown, in the words of the help
    assert "batch folder: one sub-folder per item" not in run.stdout


@pytest.mark.parametrize("language", ENGLISH)
def test_help_in_english_otherwise(language):
    run = digitize("run", "--help", language=language)
    assert run.returncode == 0
    assert "batch folder: one sub-folder per item" in run.stdout
    assert "[default: $DIGITIZE_DATA/out]" in run.stdout
    assert "thư mục lô" not in run.stdout


@pytest.mark.parametrize("language", VIETNAMESE)
def test_errors_in_vietnamese(language, tmp_path):
    missing = digitize("run", str(tmp_path / "nowhere"), language=language)
    assert missing.returncode == ExitCode.bad_input
    assert missing.stderr.startswith("lỗi: ")
    assert "nowhere: không tìm thấy thư mục lô. Hãy nhập đường dẫn của một thư mục" in missing.stderr
    # a wrong command line: Typer's own usage message (English) and the README's code, never "a bug"
    usage = digitize("run", language=language)
    assert usage.returncode == ExitCode.usage and "Missing argument" in usage.stderr
    assert "lỗi ngoài dự kiến" not in usage.stderr and "this is a bug" not in usage.stderr


@pytest.mark.parametrize("language", ENGLISH)
def test_errors_in_english_otherwise(language, tmp_path):
    missing = digitize("run", str(tmp_path / "nowhere"), language=language)
    assert missing.returncode == ExitCode.bad_input
    assert "error: " in missing.stderr and "batch folder not found. Give the path" in missing.stderr


def test_an_unknown_library_asked_of_quota_in_vietnamese(tmp_path):
    """(in English: tests/test_ledger.py)"""
    unknown = digitize("quota", "--library", "XX-YY", language={"LANG": "vi_VN.UTF-8"}, data=str(tmp_path / "data"))
    assert unknown.returncode == ExitCode.bad_input
    assert "sổ chỉ tiêu: không có thư viện 'XX-YY'; các thư viện trong sổ: chưa có thư viện nào" in unknown.stderr
    assert "unknown library" not in unknown.stderr


@pytest.mark.slow
def test_a_batch_summary_in_vietnamese(tmp_path):
    out = tmp_path / "data" / "out"
    result = digitize("run", str(MINI), "--out", str(out), "--workers", "2", language={"DIGITIZE_LANG": "vi"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # a log's form: stdout is not a terminal
    assert lines[0] == "Lô scans"
    assert lines[1].split("\t")[:4] == ["tài liệu", "thư mục", "trạng thái", "trang"]
    assert [line.split("\t")[2] for line in lines[2:4]] == ["đã lưu", "đã lưu"]
    assert f"tài liệu đã lưu 2, lỗi 0; số trang {MINI_PAGES}; độ tin cậy trung bình" in result.stdout
    assert f"báo cáo: {out / '_reports'}" in result.stdout
    assert "việc tiếp theo: không còn gì phải làm, mọi tài liệu đã được lưu" in result.stdout
    assert "items ok" not in result.stdout
