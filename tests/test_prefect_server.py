"""`digitize run` against a real `prefect server start` on loopback: the flow run is recorded
by the server, with its page tasks, and completes."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import httpx
import pytest

from conftest import MINI, run_cli

pytestmark = pytest.mark.slow  # starts a Prefect server (the session prefect_server fixture of conftest)


def test_cli_run_is_recorded_by_a_running_prefect_server(prefect_server, tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")  # two tiny pages
    began = datetime.now(timezone.utc)
    result = run_cli("run", str(batch), "--out", str(tmp_path / "out"), "--workers", "2", api_url=prefect_server)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = httpx.post(f"{prefect_server}/flow_runs/filter",
                      json={"flows": {"name": {"any_": ["digitize-batch"]}},
                            "flow_runs": {"start_time": {"after_": began.isoformat()}}}).json()  # this run's
    assert [r["state_type"] for r in runs] == ["COMPLETED"]
    tasks = httpx.post(f"{prefect_server}/task_runs/filter",
                       json={"flow_runs": {"id": {"any_": [runs[0]["id"]]}}}).json()
    names = sorted(t["name"] for t in tasks)
    assert [n for n in names if n.startswith("HD-DC-0001 page")] == [f"HD-DC-0001 page {i}" for i in range(1, 3)]
    assert all(t["state_type"] == "COMPLETED" for t in tasks)
