"""The tests never touch the data of whoever runs them: the DIGITIZE_* settings of the shell that
runs pytest (DIGITIZE_DATA, DIGITIZE_LEDGER, DIGITIZE_STORE...) reach neither the tests nor the
commands they start (conftest drops them at session start)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, cli_env

SHOW_SETTINGS = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('DIGITIZE_')}))"


def test_commands_see_no_digitize_setting_of_the_caller():
    assert not [name for name in os.environ if name.startswith("DIGITIZE_")]
    shown = subprocess.run([sys.executable, "-c", SHOW_SETTINGS], env=cli_env(None, (), {}),
                           capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout) == {}
    given = cli_env(None, ("backup",), {"data": "/x"})
    assert {k: v for k, v in given.items() if k.startswith("DIGITIZE_")} == {"DIGITIZE_DATA": "/x"}


def test_a_test_run_writes_nothing_where_the_callers_settings_point(tmp_path):
    """pytest run from a shell whose DIGITIZE_* settings point at a sentinel folder: the check above
    passes in it (neither the tests nor their commands see the settings) and nothing is written to
    the sentinel. (Before conftest dropped them, tests/test_backup.py's CLI test ran `digitize backup`
    on the ledger DIGITIZE_LEDGER named; `DIGITIZE_LEDGER=... pytest tests/test_backup.py` shows it.)"""
    sentinel = tmp_path / "callers"
    sentinel.mkdir()
    callers = {"DIGITIZE_DATA": str(sentinel / "data"), "DIGITIZE_LEDGER": f"sqlite:///{sentinel / 'ledger.sqlite'}",
               "DIGITIZE_STORE": (sentinel / "store").as_uri(), "DIGITIZE_PROFILES": str(sentinel / "profiles")}
    env = {**os.environ, **callers}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           f"--basetemp={tmp_path / 'inner'}",
                           "tests/test_isolation.py::test_commands_see_no_digitize_setting_of_the_caller"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
    assert [str(p) for p in Path(sentinel).rglob("*")] == []
