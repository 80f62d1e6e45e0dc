"""What an operator sees in the Prefect UI, against a real `prefect server start` and `digitize
serve`: a batch with a truncated TIFF started from the deployment as the run form does ends
Failed, each item's tasks named by its id and folder (the bad page's task Failed), the failed
item's full reason in the run's logs and, in Vietnamese and English, in its batch-summary
artifact; `digitize run` against the server still prints its summary and exits 4, the flow's
lines going to the server only; the run form shows plain titles, descriptions and defaults in
both languages and no "None" toggle (a screenshot of it in Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from PIL import Image

from conftest import ARTIFACTS, SAMPLES, batch_flow_runs, run_cli, wait_for

pytestmark = pytest.mark.slow  # a Prefect server, `digitize serve`, a batch run, Chromium

TRUNCATED = ("the image data is damaged or truncated", "Copy it again from the scanner or rescan the page")
SECRET_ID, SECRET_FOLDER = "MAT-0009", "mat-0009"
TRUNCATED_VI = ("dữ liệu ảnh bị hỏng hoặc bị cắt cụt", "Chép lại tệp từ máy quét hoặc quét lại trang")


def make_batch(batch: Path) -> None:
    """Items of one small page each: GOOD-1 (in folder good); BAD-2, whose TIFF is cut short; a
    secret item (SECRET_ID in SECRET_FOLDER) whose TIFF is cut short too."""
    page = Image.open(SAMPLES / "HD-DC-0001" / "0002.jpg").convert("L")
    page = page.crop((0, 0, page.width, page.height // 2))  # half a page: quicker to read
    for folder, item_id, access in (("good", "GOOD-1", "open"), ("BAD-2", "BAD-2", "open"),
                                    (SECRET_FOLDER, SECRET_ID, "secret")):
        (batch / folder).mkdir(parents=True)
        (batch / folder / "item.toml").write_text(
            f'id = "{item_id}"\ntitle = "Sách thử"\nlibrary = "HD-TV"\ncategory = "dia_chi"\naccess = "{access}"\n',
            encoding="utf-8")
        page.save(batch / folder / f"{item_id}_0001.tif" if access == "secret" else batch / folder / "0001.tif",
                  dpi=(300, 300))
    for tiff in (batch / "BAD-2" / "0001.tif", batch / SECRET_FOLDER / f"{SECRET_ID}_0001.tif"):
        tiff.write_bytes(tiff.read_bytes()[:tiff.stat().st_size // 2])


def deployment(api: str, name: str, since: datetime | None = None) -> dict | None:
    """The deployment ``name``; with ``since``, only once it was made or updated since then (the
    session's Prefect server may hold one of that name that another test's `digitize serve` made)."""
    found = httpx.post(f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}).json()
    if found and since is not None and datetime.fromisoformat(found[0]["updated"]) < since:
        return None
    return found[0] if found else None


def finished(api: str, run_id: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        run = httpx.get(f"{api}/flow_runs/{run_id}").json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        assert time.monotonic() < deadline, f"the flow run is still {run['state']['type']}"
        time.sleep(1)


def logs_of(api: str, run_id: str, line: str, seconds: float = 30) -> list[dict]:
    """The flow run's log records once one starts with ``line`` (a run ships its logs in batches,
    which may reach the server after its final state)."""
    found: list[dict] = []

    def arrived() -> bool:
        found[:] = httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}}).json()
        return any(entry["message"].startswith(line) for entry in found)
    wait_for(arrived, seconds, f"the log line {line!r}", interval=1)
    return found


def settled_logs(api: str, run_id: str) -> list[dict]:
    """The flow run's log records once no more arrive (two looks, two seconds apart)."""
    def look() -> list[dict]:
        return httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}}).json()

    before, now = None, look()
    while before is None or len(now) != len(before):
        time.sleep(2)
        before, now = now, look()
    return now


@pytest.fixture(scope="module")
def served(prefect_server, tmp_path_factory):
    """`digitize serve` against the session's Prefect server; yields (API URL, data folder)."""
    data = tmp_path_factory.mktemp("ui") / "data"
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "DIGITIZE_DATA": str(data)}
    began = datetime.now(timezone.utc)
    process = subprocess.Popen([sys.executable, "-m", "digitize.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: deployment(prefect_server, "digitize-batch", since=began), 90, "the deployment to appear",
                 interval=1)
        yield prefect_server, data
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_the_run_form_has_titles_descriptions_and_defaults_and_no_optional_types(served):
    api, data = served
    found = deployment(api, "digitize-batch")
    form = found["parameter_openapi_schema"]
    assert form["required"] == ["batch"]
    for name, field in form["properties"].items():
        assert "anyOf" not in field and field.get("type") != "null", (name, field)  # no "str | None" toggle
        assert " · " in field["title"] and field["title"] != name, (name, field["title"])  # Vietnamese · English
        assert " · " in field["description"], (name, field["description"])  # Vietnamese, then English
        assert name == "batch" or "default" in field, name
    assert form["properties"]["batch"]["title"] == "Thư mục lô · Batch folder"
    assert form["properties"]["profile"]["default"] == "quoc-ngu-modern"
    assert form["properties"]["out"]["default"] == "" and str(data / "out") in form["properties"]["out"]["description"]
    description = found["description"]
    assert not description.lstrip().startswith(("Args", "Turn a batch")) and "Args:" not in description
    assert "Failed" in description and "batch-summary" in description and "lô" in description


def test_a_truncated_tiff_fails_the_run_with_its_reason_in_the_logs_and_in_both_languages(served, browser):
    api, data = served
    batch = data / "inbox" / "lo-ui"
    make_batch(batch)
    found = deployment(api, "digitize-batch")
    form = found["parameter_openapi_schema"]["properties"]
    parameters = {name: field["default"] for name, field in form.items() if "default" in field}
    parameters |= {"batch": str(batch), "workers": 2}  # what the run form sends
    for _ in range(30):  # just after `digitize serve` made it, the server may still be settling the deployment
        created = httpx.post(f"{api}/deployments/{found['id']}/create_flow_run", json={"parameters": parameters})
        if created.status_code < 300:
            break
        time.sleep(1)
    assert created.status_code < 300, (created.status_code, created.text)
    run = finished(api, created.json()["id"])

    assert run["state"]["type"] == "FAILED", run["state"]
    assert "2 failed" in run["state"]["message"] and "2 lỗi" in run["state"]["message"]
    assert "BAD-2" in run["state"]["message"] and TRUNCATED[0] in run["state"]["message"]

    logs = logs_of(api, run["id"], "BAD-2: failed")
    [failed] = [entry for entry in logs if entry["message"].startswith("BAD-2: failed")]
    assert failed["level"] >= 40 and all(words in failed["message"] for words in TRUNCATED)
    assert str(data / "out" / "_quarantine" / "lo-ui" / "BAD-2") in failed["message"]
    assert any(entry["message"].startswith("GOOD-1 (folder good): ok") for entry in logs)

    artifacts = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    artifact = next(a for a in artifacts if a["key"] == "batch-summary")
    summary = artifact["data"]
    assert "| BAD-2 | BAD-2 | lỗi · failed | 1 |" in summary and "| GOOD-1 | good | đã lưu · stored | 1 |" in summary
    reasons = summary[summary.index("### BAD-2 ·"):]
    reasons = reasons[:reasons.index("\n### ")]
    assert all(words in reasons for words in TRUNCATED + TRUNCATED_VI), reasons
    assert f"`{data / 'out' / '_quarantine' / 'lo-ui' / 'BAD-2'}`" in reasons

    tasks = httpx.post(f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [run["id"]]}}}).json()
    names = {task["name"]: task["state_type"] for task in tasks}
    assert {"intake GOOD-1 (folder good)", "intake BAD-2 (folder BAD-2)", "GOOD-1 page 1", "BAD-2 page 1",
            "assemble GOOD-1 (folder good)", "store GOOD-1 (folder good)"} <= set(names), sorted(names)
    assert not any(name.startswith("item folder") for name in names)
    # the bad pages' tasks are the ones red in the run's graph
    failed_tasks = {name: state for name, state in names.items() if state != "COMPLETED"}
    assert failed_tasks.pop("BAD-2 page 1") == "FAILED"
    [(secret_page, state)] = failed_tasks.items()
    assert re.fullmatch(r"secret item \d page 1", secret_page) and state == "FAILED"

    page = browser.new_page(viewport={"width": 1400, "height": 1200})  # the run's page, its Logs tab open
    page.goto(f"{api.removesuffix('/api')}/runs/flow-run/{run['id']}?tab=Logs")
    page.get_by_text("BAD-2: failed").first.wait_for(timeout=30000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "prefect-failed-run-logs.png"), full_page=True)
    assert "Failed" in page.inner_text("body")
    page.goto(f"{api.removesuffix('/api')}/artifacts/artifact/{artifact['id']}")
    page.get_by_text("dữ liệu ảnh bị hỏng hoặc bị cắt cụt").first.wait_for(timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "prefect-batch-summary.png"), full_page=True)

    # a secret item is named nowhere in Prefect, not even in a failed task's state or the lines
    # Prefect logs as a run ends
    logs = settled_logs(api, run["id"])
    for what, seen in {"the run": run, "its logs": logs, "its artifacts": artifacts, "its tasks": tasks}.items():
        assert SECRET_ID not in repr(seen) and SECRET_FOLDER not in repr(seen), what


def test_digitize_run_on_the_server_prints_its_summary_and_exits_4_for_a_failed_item(prefect_server, tmp_path):
    make_batch(tmp_path / "lo-cli")
    began = datetime.now(timezone.utc)
    result = run_cli("run", str(tmp_path / "lo-cli"), "--out", str(tmp_path / "data" / "out"), "--workers", "2",
                     api_url=prefect_server)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "BAD-2" in result.stdout and "GOOD-1" in result.stdout and TRUNCATED[0] in result.stdout
    # the flow's own lines (the item failed, the run Failed) go to the server, not to the terminal
    assert "Finished in state" not in result.stdout + result.stderr and "ERROR" not in result.stderr
    [run] = batch_flow_runs(prefect_server, tmp_path / "lo-cli", began)
    assert run["state_type"] == "FAILED"
    assert logs_of(prefect_server, run["id"], "BAD-2: failed")


def test_the_run_form_in_the_ui_shows_every_field_with_its_words_and_no_none_toggle(served, browser):
    api, _ = served
    found = deployment(api, "digitize-batch")
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(f"{api.removesuffix('/api')}/deployments/deployment/{found['id']}/run")
    page.get_by_text("Thư mục lô · Batch folder").first.wait_for(timeout=30000)
    page.wait_for_timeout(1000)  # the form's fields settle
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "prefect-run-form.png"), full_page=True)
    text = page.inner_text("body")
    for field in found["parameter_openapi_schema"]["properties"].values():
        assert field["title"] in text, field["title"]
        assert field["description"] in text, field["description"]
    assert "None" not in text and "| None" not in text and "Property is type" not in text
    assert page.locator("input").evaluate_all("inputs => inputs.map(i => i.value)") is not None
