"""`digitize serve` against a real `prefect server start`: the deployments exist with their
schedules, and a digitize-batch run triggered through the API completes with its outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest

from conftest import MINI, wait_for

pytestmark = pytest.mark.slow  # starts a Prefect server (the session prefect_server fixture of conftest)


def deployment(api: str, name: str, since: datetime | None = None) -> dict | None:
    """The deployment ``name``; with ``since``, only once it was made or updated since then (the
    session's Prefect server may hold one of that name that another test's `digitize serve` made)."""
    found = httpx.post(f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}).json()
    if found and since is not None and datetime.fromisoformat(found[0]["updated"]) < since:
        return None
    return found[0] if found else None


def test_serve_creates_deployments_and_runs_a_batch(prefect_server, tmp_path):
    batch = tmp_path / "inbox" / "lo-1"
    shutil.copytree(MINI / "HN-TK-0002", batch / "HN-TK-0002")  # tiny pages: the run, not the OCR, is tested
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "DIGITIZE_DATA": str(tmp_path / "data")}
    began = datetime.now(timezone.utc)
    served = subprocess.Popen([sys.executable, "-m", "digitize.cli", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: deployment(prefect_server, "digitize-batch", began) and deployment(prefect_server, "ledger-backup",
                                                                                         began), 90,
                 "the deployments to appear", interval=1)
        nightly = deployment(prefect_server, "nightly-inbox")
        [schedule] = nightly["schedules"]
        assert schedule["schedule"]["cron"] == "0 1 * * *"
        assert schedule["schedule"]["timezone"] == "Asia/Ho_Chi_Minh"
        assert deployment(prefect_server, "quota-report")["schedules"]
        assert deployment(prefect_server, "fixity-audit")["schedules"]
        [weekly] = deployment(prefect_server, "ledger-backup")["schedules"]
        assert (weekly["schedule"]["cron"], weekly["schedule"]["timezone"]) == ("30 2 * * 0", "Asia/Ho_Chi_Minh")

        batch_deployment = deployment(prefect_server, "digitize-batch")
        form = batch_deployment["parameter_openapi_schema"]  # what the UI's run form shows
        assert form["required"] == ["batch"] and "inbox" in form["properties"]["batch"]["description"]
        assert form["definitions"]["MaterialProfile"]["enum"] == ["french-colonial", "han-horizontal", "han-nom",
                                                                  "quoc-ngu-modern",
                                                                  "quoc-ngu-old"]
        assert "Library code" in form["properties"]["library"]["description"]
        toml = batch / "HN-TK-0002" / "item.toml"  # an item that names no library: the form's value is used
        toml.write_text("".join(line for line in toml.read_text(encoding="utf-8").splitlines(keepends=True)
                                if not line.startswith("library")), encoding="utf-8")
        for _ in range(30):  # just after `digitize serve` made them, the server may still be settling its deployments
            created = httpx.post(f"{prefect_server}/deployments/{batch_deployment['id']}/create_flow_run",
                                 json={"parameters": {"batch": str(batch), "workers": 2, "profile": "quoc-ngu-old",
                                                      "library": "LC-TV"}})
            if created.status_code < 300:
                break
            time.sleep(1)
            batch_deployment = deployment(prefect_server, "digitize-batch")
        assert created.status_code < 300, (created.status_code, created.text)
        run = created.json()
        deadline = time.monotonic() + 240
        while True:
            state = httpx.get(f"{prefect_server}/flow_runs/{run['id']}").json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            assert time.monotonic() < deadline, f"the flow run is still {state}"
            time.sleep(2)
        assert state == "COMPLETED"
        assert (tmp_path / "data" / "out" / "LC-TV" / "HN-TK-0002" / "HN-TK-0002.pdf").is_file()
    finally:
        os.killpg(served.pid, 15)
        served.wait(timeout=30)
