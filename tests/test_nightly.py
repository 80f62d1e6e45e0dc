"""The nightly flow, run directly: it takes the ready batch, skips the one still being written,
and leaves a failed item with its reason; a second night does not redo a finished batch, and a
batch another run holds is left to it."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from conftest import SAMPLES, ledger_session

pytestmark = pytest.mark.slow  # a temporary Prefect server; runs of sample items


def test_nightly_inbox_takes_ready_batches_only(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    from flows.nightly import nightly_inbox

    inbox = tmp_path / "inbox"
    ready = inbox / "lo-1"
    shutil.copytree(SAMPLES / "HN-TK-0002", ready / "HN-TK-0002")
    (ready / "BROKEN-1").mkdir()
    (ready / "BROKEN-1" / "item.toml").write_text('id = "BROKEN-1"\ntitle = "x"\nlibrary = "HD-TV"\naccess = "open"\n',
                                                  encoding="utf-8")
    (ready / "BROKEN-1" / "0001.tif").write_bytes(b"")
    (ready / "READY").touch()
    copying = inbox / "lo-2"
    shutil.copytree(SAMPLES / "HD-DC-0001", copying / "HD-DC-0001")
    for path in copying.rglob("*"):  # still being copied: files changed just now, no READY marker
        path.touch()

    outcome = nightly_inbox(inbox=inbox, quiet_minutes=30)
    assert outcome == {"lo-1": "failed", "lo-2": "incomplete"}
    out = tmp_path / "data" / "out"
    assert (out / "HD-TV" / "HN-TK-0002" / "HN-TK-0002.pdf").is_file()
    assert not (out / "HD-TV" / "HD-DC-0001").exists()
    report = json.loads(next((out / "_reports").glob("lo-1-*.json")).read_text(encoding="utf-8"))
    [broken] = [i for i in report["items"] if i["item_id"] == "BROKEN-1"]
    assert broken["status"] == "failed" and "empty (0 bytes)" in broken["problems"][0]["reason"]
    assert (ready / "BROKEN-1" / "0001.tif").exists()  # the failed item stays where it is

    # the next night: lo-2 has been quiet long enough; lo-1 (failed) is tried again, nothing redone
    old = time.time() - 3600
    for path in copying.rglob("*"):
        os.utime(path, (old, old))
    pdf = out / "HD-TV" / "HN-TK-0002" / "HN-TK-0002.pdf"
    before = pdf.stat().st_mtime_ns
    outcome = nightly_inbox(inbox=inbox, quiet_minutes=30)
    assert outcome == {"lo-1": "failed", "lo-2": "done"}
    assert (out / "HD-TV" / "HD-DC-0001" / "HD-DC-0001.pdf").is_file()
    assert pdf.stat().st_mtime_ns == before

    # a batch another run is processing at this moment is left to that run
    from digitize.ledger import database as ledger
    from digitize.core.settings import get_settings

    busy = inbox / "lo-3"
    shutil.copytree(SAMPLES / "HD-DC-0001", busy / "HD-DC-0001")
    (busy / "READY").touch()
    with ledger_session(get_settings().ledger_url) as session:
        ledger.lock_batch(session, str(busy.resolve()), "an operator's run")
    outcome = nightly_inbox(inbox=inbox, quiet_minutes=30)
    assert outcome == {"lo-1": "failed", "lo-3": "busy"}
    assert not list(out.glob("_reports/lo-3-*.json"))


def test_quota_report_writes_the_files_and_publishes_the_artifacts(prefect_server, tmp_path, monkeypatch):
    import httpx

    from digitize.ledger import holdings, database as ledger
    from digitize.core.settings import get_settings

    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    from flows.nightly import quota_report

    settings = get_settings()
    with ledger_session(settings.ledger_url) as session:
        library = ledger.Library(code="HD-TV", name="Thư viện tỉnh Hải Dương", province="hai-duong",
                                 tier="provincial")
        session.add(library)
        session.commit()
        holdings.import_file(session, SAMPLES / "_holdings" / "HD-TV.csv", library, settings.profiles)

    state = quota_report(period="2026-H2", return_state=True)
    paths = state.result()
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["bao-cao-so-hoa-all-2026-H2.csv",
                                                     "bao-cao-so-hoa-all-2026-H2.xlsx"]
    assert "Thư viện tỉnh Hải Dương" in (tmp_path / "data" / "reports" / "bao-cao-so-hoa-all-2026-H2.csv").read_text(
        encoding="utf-8-sig")
    found = httpx.post(f"{prefect_server}/artifacts/filter", json={"artifacts": {
        "flow_run_id": {"any_": [str(state.state_details.flow_run_id)]}}}).json()
    by_key = {a["key"]: a for a in found}
    assert "bao-cao-so-hoa-all-2026-H2.xlsx" in by_key["quota-report"]["data"]
    progress_table = repr(by_key["quota-progress"]["data"])
    assert "HD-TV" in progress_table and "dia_chi" in progress_table
