"""The nightly flow, run directly: it takes the ready batch, skips the one still being written,
and leaves a failed item with its reason; a second night does not redo a finished batch, and a
batch another run holds is left to it. A batch copied page by page while the flow runs is stored
whole, and a page added after storing is reported. (The inbox's rules without Prefect or OCR:
test_inbox.py.)"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLES, latest_report, ledger_session, report_reasons, wait_for

pytestmark = pytest.mark.slow  # a temporary Prefect server; runs of sample items


def test_nightly_inbox_takes_ready_batches_only(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    monkeypatch.setenv("DIGITIZE_INBOX_QUIET_SECONDS", "0")  # a READY written last is enough here
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
    assert outcome == {"lo-1": "failed", "lo-2": "arriving"}
    out = tmp_path / "data" / "out"
    assert (out / "HD-TV" / "HN-TK-0002" / "HN-TK-0002.pdf").is_file()
    assert not (out / "HD-TV" / "HD-DC-0001").exists()
    report = json.loads(next((out / "_reports").glob("lo-1-*.json")).read_text(encoding="utf-8"))
    [broken] = [i for i in report["items"] if i["item_id"] == "BROKEN-1"]
    assert broken["status"] == "failed" and "empty (0 bytes)" in broken["problems"][0]["reason"]
    assert (ready / "BROKEN-1" / "0001.tif").exists()  # the failed item stays where it is

    # the next night: lo-2 has been quiet long enough (the run of lo-1 took longer than 3 s); lo-1
    # (failed) is tried again, nothing redone
    pdf = out / "HD-TV" / "HN-TK-0002" / "HN-TK-0002.pdf"
    before = pdf.stat().st_mtime_ns
    outcome = nightly_inbox(inbox=inbox, quiet_minutes=0.05)
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
    assert outcome == {"lo-1": "failed", "lo-2": "done-earlier", "lo-3": "busy"}
    assert not list(out.glob("_reports/lo-3-*.json"))


FONT = "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf"
ITEM = 'id = "{id}"\ntitle = "Sách chép dần"\nlibrary = "HD-TV"\ncategory = "dia_chi"\naccess = "{access}"\n' \
       'profile = "quoc-ngu-old"\n'


def small_page(path: Path, number: int) -> None:
    """A page of two printed lines, 300 dpi, a few square centimetres: read in a moment."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (900, 260), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 44)
    draw.text((40, 40), f"Trang {number}: Địa chí Hải Dương", font=font, fill=0)
    draw.text((40, 140), "Văn bản chép dần vào thư mục", font=font, fill=0)
    image.save(path, dpi=(300, 300), compression="tiff_lzw")


def night(prefect_server: str, inbox: Path, quiet_minutes: float) -> tuple[dict, str, str]:
    """One nightly run: what it returned, its `nightly-inbox` artifact and the flow run's id."""
    from flows.nightly import nightly_inbox

    state = nightly_inbox(inbox=inbox, quiet_minutes=quiet_minutes, return_state=True)
    run_id = str(state.state_details.flow_run_id)
    found = httpx.post(f"{prefect_server}/artifacts/filter", json={"artifacts": {
        "flow_run_id": {"any_": [run_id]}, "key": {"any_": ["nightly-inbox"]}}}).json()
    return state.result(), found[0]["data"], run_id


def test_a_batch_copied_page_by_page_is_stored_whole_and_a_page_added_later_is_reported(prefect_server, tmp_path,
                                                                                         monkeypatch):
    """Issue 24: READY copied first, then the pages one by one while the nightly run starts."""
    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    monkeypatch.setenv("DIGITIZE_INBOX_QUIET_SECONDS", "2")
    import flows.nightly  # noqa: F401  imported before the copy starts: the first night then starts at once
    quiet_minutes = 0.05  # 3 s for a batch without a READY written after its last page
    batch = tmp_path / "inbox" / "lo-chep-dan"
    book, secret = batch / "SACH-1", batch / "TAI-LIEU-MAT"
    out, store = tmp_path / "data" / "out" / "HD-TV", tmp_path / "data" / "store" / "HD-TV"
    for folder in (book, secret):
        folder.mkdir(parents=True)
    (batch / "READY").touch()
    (secret / "item.toml").write_text(ITEM.format(id="MAT-77", access="secret"), encoding="utf-8")
    small_page(secret / "0001.tif", 1)
    (book / "item.toml").write_text(ITEM.format(id="SACH-1", access="open"), encoding="utf-8")
    first_page, night_over, copied = threading.Event(), threading.Event(), []

    def copy_pages():  # a page every 1.5 s (less than the quiet time) until after the first night's run
        while True:
            copied.append(f"{len(copied) + 1:04}.tif")
            small_page(book / copied[-1], len(copied))
            first_page.set()
            if night_over.is_set():
                return
            time.sleep(1.5)

    copier = threading.Thread(target=copy_pages)
    copier.start()
    try:
        first_page.wait(30)
        outcome, artifact, _ = night(prefect_server, batch.parent, quiet_minutes)
    finally:
        night_over.set()
        copier.join()
    last_page = time.time()
    assert outcome == {"lo-chep-dan": "arriving"}
    assert "still arriving" in artifact and "đang được chép vào" in artifact
    assert not (out / "SACH-1").exists() and not store.exists()  # nothing of it taken
    pages = len(copied)

    # the copy complete and quiet for 3 s (its READY came first: it says nothing of the pages)
    time.sleep(max(0.0, last_page + quiet_minutes * 60 + 0.2 - time.time()))
    outcome, artifact, _ = night(prefect_server, batch.parent, quiet_minutes)
    assert outcome == {"lo-chep-dan": "done"}
    assert "every item stored (2 of 2)" in artifact and "đã lưu đủ mọi tài liệu (2/2)" in artifact
    with ledger_session(f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite'}") as session:
        from digitize.ledger.database import Item

        assert {item.item_id: (item.status, item.pages) for item in session.query(Item)} == {
            "SACH-1": ("ok", pages), "MAT-77": ("ok", 1)}
    stored = json.loads((store / "SACH-1" / "stored.json").read_text(encoding="utf-8"))
    assert sorted(name for name in stored["objects"] if name.startswith("masters/")) == [
        f"masters/{name}" for name in copied]
    before = (store / "SACH-1" / "stored.json").read_bytes()

    # a page added to each item after storing: the done batch is looked at again (READY written
    # again: the copy is over), and each item reported, the secret one unnamed
    small_page(book / "added.tif", 99)
    small_page(secret / "0002.tif", 2)
    (batch / "READY").touch()
    time.sleep(2.2)
    outcome, artifact, run_id = night(prefect_server, batch.parent, quiet_minutes)
    assert outcome == {"lo-chep-dan": "failed"}
    reasons = report_reasons(latest_report(tmp_path / "data" / "out"))
    [gained] = [reason for key, reason in reasons.items() if key.startswith("SACH-1/")]
    assert f"SACH-1 was stored with {pages} pages; its folder" in gained
    assert f"now has {pages + 1} (added: added.tif)" in gained
    assert "--new-version" in gained
    assert "0 of 2 items stored, not stored: SACH-1, 1 secret item" in artifact
    assert "chưa lưu: SACH-1, 1 tài liệu mật" in artifact and "changed since it was done" in artifact
    assert (store / "SACH-1" / "stored.json").read_bytes() == before  # the stored copy left as it is

    def logged() -> str:
        return "\n".join(entry["message"] for entry in httpx.post(f"{prefect_server}/logs/filter", json={
            "logs": {"flow_run_id": {"any_": [run_id]}}}).json())

    wait_for(lambda: "lo-chep-dan: taken" in logged(), 20, "the nightly run's line in the flow run's logs")
    assert "lo-chep-dan: đã nhận xử lý" in logged()
    assert "MAT-77" not in artifact + logged() and "TAI-LIEU-MAT" not in artifact + logged()

    # pages lost: reported the same way
    for name in ("added.tif", copied[-1]):
        (book / name).unlink()
    (batch / "READY").touch()
    time.sleep(2.2)
    outcome, artifact, _ = night(prefect_server, batch.parent, quiet_minutes)
    assert outcome == {"lo-chep-dan": "failed"}
    [lost] = [reason for key, reason in report_reasons(latest_report(tmp_path / "data" / "out")).items()
              if key.startswith("SACH-1/")]
    assert f"SACH-1 was stored with {pages} pages; its folder" in lost
    assert f"now has {pages - 1} (gone: {copied[-1]})" in lost

    # what the reason says to do: the batch again with --new-version stores the folder as it is now
    from flows.batch import digitize_batch

    assert digitize_batch(batch=batch, new_version=True).ok
    stored = json.loads((store / "SACH-1" / "stored.json").read_text(encoding="utf-8"))
    assert sorted(name for name in stored["objects"] if name.startswith("masters/")) == [
        f"masters/{name}" for name in copied[:-1]]
    [previous] = (tmp_path / "data" / "store" / "_versions").rglob("HD-TV/SACH-1/stored.json")
    assert previous.read_bytes() == before  # the copy stored first is kept as a previous version


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
