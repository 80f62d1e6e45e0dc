"""Command-line mistakes are caught before any work starts, with a plain message (the usage message
for a wrong command line) and exit code."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import SAMPLES, cli_env, run_cli
from digitize.core.errors import ExitCode
from digitize.core.settings import PACKAGED_PROFILES


def test_missing_batch_folder(tmp_path):
    result = run_cli("run", str(tmp_path / "nowhere"))
    assert result.returncode == 65
    assert "batch folder not found" in result.stderr and "nowhere" in result.stderr


def test_unknown_profile_lists_the_known_ones():
    result = run_cli("run", str(SAMPLES), "--profile", "latin-medieval")
    assert result.returncode == 78
    assert "unknown material profile 'latin-medieval'" in result.stderr
    assert "quoc-ngu-modern" in result.stderr


def test_missing_tesseract_language_stops_the_run_and_names_the_package(tmp_path):
    profiles = tmp_path / "profiles"
    shutil.copytree(PACKAGED_PROFILES, profiles)
    khmer = (profiles / "materials" / "quoc-ngu-modern.toml").read_text(encoding="utf-8")
    (profiles / "materials" / "khmer.toml").write_text(
        khmer.replace('"quoc-ngu-modern"', '"khmer"').replace('["vie"]', '["khm"]'), encoding="utf-8")
    item = tmp_path / "batch" / "KH-1"
    item.mkdir(parents=True)
    shutil.copy(SAMPLES / "HD-DC-0001" / "0003.png", item / "0001.png")
    item_toml = 'id = "KH-1"\ntitle = "Sách tiếng Khmer"\nlibrary = "HD-TV"\naccess = "open"\n'
    # the profile given on the command line, then one named by the item itself
    for extra, named in ((["--profile", "khmer"], ""), ([], 'profile = "khmer"\n')):
        (item / "item.toml").write_text(item_toml + named, encoding="utf-8")
        result = run_cli("run", str(tmp_path / "batch"), *extra, "--out", str(tmp_path / "out"),
                         profiles=str(profiles))
        assert result.returncode == 70, result.stderr
        assert "Tesseract language data missing" in result.stderr and "khm" in result.stderr
        assert "apt-get install tesseract-ocr-khm" in result.stderr
        assert not list((tmp_path / "out").rglob("*.pdf")) and not list((tmp_path / "out").rglob("*.txt"))


# A wrong command line: the usual usage message and its code (2), never "this is a bug" (issue 25).
USAGE_ERRORS = {
    "no batch folder": (["run"], "Missing argument 'batch'"),
    "a misspelt command": (["runn", "batch1"], "No such command 'runn'"),
    "no workers": (["run", "--workers", "0", "batch1"], "Invalid value for '--workers'"),
    "an unknown option": (["run", "--wrokers", "2", "batch1"], "No such option: --wrokers"),
    "a dpi out of range": (["run", "--dpi", "10", "batch1"], "Invalid value for '--dpi'"),
    "an option of digitize itself": (["--verbose", "run"], "No such option: --verbose"),
    "a group command without its file": (["holdings", "import"], "Missing argument 'file'"),
    "an unknown option of quota": (["quota", "--bogus"], "No such option: --bogus"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS)
def test_a_wrong_command_line_gives_the_usage_and_its_code(case):
    args, said = USAGE_ERRORS[case]
    result = run_cli(*args)
    assert result.returncode == ExitCode.usage == 2, (result.returncode, result.stderr)
    shown = result.stdout + result.stderr
    assert "Usage: " in result.stderr and "--help' for help" in result.stderr, shown
    assert said in " ".join(result.stderr.split()), shown
    assert "this is a bug" not in shown and "unexpected failure" not in shown and "Traceback" not in shown


def test_no_command_at_all_shows_the_help_with_the_usage_code():
    result = run_cli()
    assert result.returncode == ExitCode.usage, (result.returncode, result.stderr)
    assert "Usage: " in result.stdout and "Commands" in result.stdout and "Traceback" not in result.stderr


def test_a_real_bug_is_still_called_one():
    """A fault nobody foresaw (here a command that raises KeyError) keeps its plain 'this is a bug'
    line and exit code 1, no traceback."""
    script = ("from digitize.cli.app import app\n"
              "@app.command()\n"
              "def broken() -> None:\n"
              "    raise KeyError('no such thing')\n"
              "app()\n")
    result = subprocess.run([sys.executable, "-c", script, "broken"], env=cli_env(None, (), {}), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == ExitCode.failed == 1, result.stderr
    assert "unexpected failure (KeyError" in result.stderr and "this is a bug" in result.stderr
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr
