"""`digitize run` against a real `prefect server start` on loopback: the flow run is recorded
by the server, with its page tasks, and completes."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import httpx
import pytest

from conftest import MINI, batch_flow_runs, run_cli

pytestmark = pytest.mark.slow  # starts a Prefect server (the session prefect_server fixture of conftest)


def test_cli_run_is_recorded_by_a_running_prefect_server(prefect_server, tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")  # two tiny pages
    began = datetime.now(timezone.utc)
    result = run_cli("run", str(batch), "--out", str(tmp_path / "out"), "--workers", "2", api_url=prefect_server)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = batch_flow_runs(prefect_server, batch, began)  # this run's
    assert [r["state_type"] for r in runs] == ["COMPLETED"]
    tasks = httpx.post(f"{prefect_server}/task_runs/filter",
                       json={"flow_runs": {"id": {"any_": [runs[0]["id"]]}}}).json()
    names = sorted(t["name"] for t in tasks)
    assert [n for n in names if n.startswith("HD-DC-0001 page")] == [f"HD-DC-0001 page {i}" for i in range(1, 3)]
    assert all(t["state_type"] == "COMPLETED" for t in tasks)


def test_a_fault_in_flow_mode_is_one_plain_message(prefect_server, tmp_path):
    """Issue 25: in flow mode a fault printed Prefect's tracebacks beside the plain message. Here the
    ledger refuses the run's record (after the items are made): one message, the ledger's code."""
    import sqlite3

    from conftest import MINI, sqlite_url
    from digitize.core.errors import LedgerUnavailable

    batch, data = tmp_path / "batch", tmp_path / "data"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")
    ledger = data / "ledger.sqlite"
    assert run_cli("quota", data=str(data), ledger=sqlite_url(ledger)).returncode == 0  # the ledger made
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'refused'); END")
    result = run_cli("run", str(batch), "--out", str(data / "out"), "--prefect", api_url=prefect_server)
    assert result.returncode == LedgerUnavailable.exit_code, result.stdout + result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith("error: the run stopped: the quota ledger")]
    assert "Traceback" not in result.stdout + result.stderr and "prefect" not in result.stderr.lower()


def test_a_temporary_prefect_server_too_slow_to_start_is_a_plain_fault(tmp_path):
    """A busy machine: Prefect's temporary server not up in time was 'unexpected failure ... a bug'."""
    import subprocess
    import sys

    from conftest import MINI, cli_env
    from digitize.core.errors import ToolError

    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")
    args = ("run", str(batch), "--out", str(tmp_path / "data" / "out"), "--prefect")
    env = cli_env(None, args, {}) | {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}
    result = subprocess.run([sys.executable, "-m", "digitize.cli.app", *args], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == ToolError.exit_code, result.stdout + result.stderr
    assert result.stderr.startswith("error: the temporary Prefect server did not start within 1 s")
    assert "PREFECT_API_URL" in result.stderr and "this is a bug" not in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "data" / "out").exists()
