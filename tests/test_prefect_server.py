"""`digitize run` against a real `prefect server start` on loopback: the flow run is recorded
by the server, with its page tasks, and completes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLES, run_cli

PREFECT = Path(sys.executable).parent / "prefect"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": ""}
    log = (home / "server.log").open("w")
    server = subprocess.Popen([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prefect server did not start:\n" + (home / "server.log").read_text())
            time.sleep(0.5)
        yield api
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_cli_run_is_recorded_by_a_running_prefect_server(prefect_api, tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(SAMPLES / "HD-DC-0001", batch / "HD-DC-0001")
    result = run_cli(prefect_api, "run", str(batch), "--out", str(tmp_path / "out"), "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = httpx.post(f"{prefect_api}/flow_runs/filter",
                      json={"flows": {"name": {"any_": ["digitize-batch"]}}}).json()
    assert [r["state_type"] for r in runs] == ["COMPLETED"]
    tasks = httpx.post(f"{prefect_api}/task_runs/filter",
                       json={"flow_runs": {"id": {"any_": [runs[0]["id"]]}}}).json()
    names = sorted(t["name"] for t in tasks)
    assert [n for n in names if n.startswith("HD-DC-0001 page")] == [f"HD-DC-0001 page {i}" for i in range(1, 5)]
    assert all(t["state_type"] == "COMPLETED" for t in tasks)
