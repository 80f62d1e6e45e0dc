"""Operations: one run per batch, and restart safety. A run killed with SIGKILL in the middle and
started again does only the pages not yet done, and ends with outputs byte-identical to an
uninterrupted run, with no duplicate items, outputs or stored objects."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import EPOCH, MINI, SAMPLES, invoke_cli, ledger_session, output_hashes, run_cli, sqlite_url, start_cli, wait_for
from digitize.ledger import database as ledger
from digitize.core.errors import BatchBusy

LIBRARY = ("--library", "HD-TV", "--name", "Thư viện tỉnh Hải Dương", "--province", "hai-duong",
           "--tier", "provincial")


def import_holdings(data: Path) -> None:
    result = invoke_cli("holdings", "import", str(SAMPLES / "_holdings" / "HD-TV.csv"), *LIBRARY,
                        data=str(data))
    assert result.returncode == 0, result.stdout + result.stderr


def ledger_rows(data: Path) -> dict[str, list]:
    with sqlite3.connect(data / "ledger.sqlite") as db:
        return {"items": db.execute("SELECT library, item_id, status, pages, stored FROM items "
                                    "ORDER BY item_id").fetchall(),
                "outputs": db.execute("SELECT i.item_id, o.path, o.size, o.sha256 FROM outputs o JOIN items i "
                                      "ON o.item = i.id ORDER BY 1, 2").fetchall(),
                "locks": db.execute("SELECT batch FROM batch_locks").fetchall()}


@pytest.mark.slow  # three runs of the sample items, one of them killed
def test_killed_run_resumes_to_the_same_outputs_and_a_second_run_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    batch = tmp_path / "batch"
    # the first item's two tiny pages are done in a moment; the kill then comes while the second
    # item's full pages (seconds each) are read: a run killed in the middle of the batch
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")
    shutil.copytree(SAMPLES / "HN-TK-0002", batch / "HN-TK-0002")
    data, out = tmp_path / "data", tmp_path / "data" / "out"
    args = ("run", str(batch), "--out", str(out), "--workers", "1")

    # the uninterrupted run, kept aside; the other run then works in the same place (same paths)
    import_holdings(data)
    clean = invoke_cli(*args)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    data.rename(tmp_path / "clean")
    clean_data = tmp_path / "clean"

    import_holdings(data)
    first = start_cli(tmp_path / "first.log", *args)
    try:
        wait_for(lambda: (data / "ledger.sqlite").exists() and ledger_rows(data)["locks"], 120, "the batch lock")
        # the same batch while the first run holds it (in this process: no start-up time in which the
        # first run could finish)
        second = invoke_cli(*args)
        records = lambda: sorted(out.glob("HD-TV/*/pages/*.json"))  # noqa: E731
        wait_for(lambda: len(records()) >= 2, 120, "two finished pages")
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its Tesseract children, as a power cut would
        first.wait()
    assert second.returncode == BatchBusy.exit_code, second.stdout + second.stderr
    assert "being processed by another run" in second.stderr + second.stdout

    done = {p: p.stat().st_mtime_ns for p in records()}
    total = len(list((clean_data / "out").glob("HD-TV/*/pages/*.json")))
    assert total == 5 and 2 <= len(done) < total, "the kill must come in the middle of the batch"
    assert ledger_rows(data)["locks"], "a killed run leaves its lock behind"

    again = invoke_cli(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    after = {p: p.stat().st_mtime_ns for p in records()}
    assert all(after[p] == mtime for p, mtime in done.items()), "pages done before the kill were redone"
    assert len(after) == total and sum(p not in done for p in after) == total - len(done)

    resumed, uninterrupted = output_hashes(data), output_hashes(clean_data)
    assert set(resumed) == set(uninterrupted)
    assert resumed == uninterrupted  # text, ALTO, PDF/A, DC, METS, masters, manifests: byte for byte
    assert any(k.endswith("mets.xml") for k in resumed) and any(k.endswith(".pdf") for k in resumed)
    assert not any("/_versions/" in k or Path(k).name.startswith(".") for k in resumed)
    rows = ledger_rows(data)
    assert rows["items"] == ledger_rows(clean_data)["items"] and len(rows["items"]) == 2
    assert rows["outputs"] == ledger_rows(clean_data)["outputs"]
    assert rows["locks"] == []


def test_lock_refuses_a_live_holder_and_takes_over_from_a_dead_one(tmp_path):
    with ledger_session(sqlite_url(tmp_path / "ledger.sqlite")) as session:
        holder = subprocess.Popen(["sleep", "60"])
        try:
            session.add(ledger.BatchLock(batch="/inbox/b1", host=socket.gethostname(), pid=holder.pid, run="r1"))
            session.commit()
            with pytest.raises(BatchBusy, match=f"process {holder.pid}"):
                ledger.lock_batch(session, "/inbox/b1")
        finally:
            holder.kill()
            holder.wait()
        ledger.lock_batch(session, "/inbox/b1", "r2")  # the holder is gone: its lock is taken over
        holder_now = ledger.select(ledger.BatchLock.pid).where(ledger.BatchLock.batch == "/inbox/b1")
        assert session.scalars(holder_now).one() == os.getpid()
        ledger.lock_batch(session, "/inbox/b2")  # other batches are free
        assert ledger.unlock_batch(session, "/inbox/b1", os.getpid())


def test_a_lock_held_on_another_machine_needs_the_operator(tmp_path):
    data = tmp_path / "data"
    batch = tmp_path / "b1"
    batch.mkdir()
    with ledger_session(sqlite_url(data / "ledger.sqlite")) as session:
        session.add(ledger.BatchLock(batch=str(batch.resolve()), host="scan-server-2", pid=1, run="r1"))
        session.commit()
        refused = run_cli("run", str(batch), data=str(data))
        assert refused.returncode == BatchBusy.exit_code and "scan-server-2" in refused.stderr + refused.stdout
        unlocked = invoke_cli("unlock", str(batch), data=str(data))
        assert unlocked.returncode == 0 and "removed" in unlocked.stdout
        assert session.scalars(ledger.select(ledger.BatchLock)).all() == []


@pytest.mark.slow  # two runs of the sample items (tiny pages)
def test_page_that_killed_the_run_twice_is_set_aside_and_the_rest_finishes(tmp_path):
    """Tesseract runs in the worker process: a page that crashes it kills the run. The markers an
    OCR start leaves when its process dies are what a real crash leaves (two for one page, one for
    another: an operator's kill -9, say); the next run sets the first page aside and retries the other."""
    batch, out = tmp_path / "batch", tmp_path / "data" / "out"
    shutil.copytree(MINI, batch)
    work = {item: out / "HD-TV" / item / ".work" for item in ("HD-DC-0001", "HN-TK-0002")}
    for folder in work.values():
        folder.mkdir(parents=True)
    (work["HD-DC-0001"] / "0002.ocr-started").write_text("2", encoding="ascii")
    (work["HN-TK-0002"] / "0001.ocr-started").write_text("1", encoding="ascii")

    result = run_cli("run", str(batch), "--out", str(out), "--workers", "1")
    assert result.returncode == 4, result.stdout + result.stderr  # some items failed
    assert "HD-DC-0001" in result.stdout and "died 2 times while Tesseract read this page" in result.stdout
    assert (out / "HD-TV" / "HN-TK-0002" / "HN-TK-0002.pdf").is_file()
    assert not (work["HN-TK-0002"] / "0001.ocr-started").exists()
    quarantined = out / "_quarantine" / "batch" / "HD-DC-0001"
    assert (quarantined / "0002.tif").is_file() and "Tesseract" in (quarantined / "0002.tif.reason.txt").read_text(
        encoding="utf-8")
    assert not (out / "HD-TV" / "HD-DC-0001" / "HD-DC-0001.pdf").exists()

    (work["HD-DC-0001"] / "0002.ocr-started").unlink()  # as the message says: rescanned, try again
    again = invoke_cli("run", str(batch), "--out", str(out), "--workers", "1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (out / "HD-TV" / "HD-DC-0001" / "HD-DC-0001.pdf").is_file()


KILLED_MID_WRITE = """
import os, sys
from pathlib import Path
from digitize.core import files
with files.atomic_writer(Path(sys.argv[1])) as writer:
    writer.write(b"\\0" * (1 << 20))
    writer.flush()
    os.kill(os.getpid(), 9)  # killed with the temporary half written, as a power cut would
"""


@pytest.mark.slow  # two runs of a sample item (tiny pages)
def test_a_rerun_removes_the_temporary_a_killed_write_left(tmp_path):
    """Issue 25: a kill at the wrong moment left a 1 MB hidden temporary in masters/ after the rerun."""
    import sys

    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")
    data, out = tmp_path / "data", tmp_path / "data" / "out"
    args = ("run", str(batch), "--out", str(out), "--workers", "1")
    assert invoke_cli(*args).returncode == 0
    masters = out / "HD-TV" / "HD-DC-0001" / "masters"
    before = output_hashes(data)
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(masters / "0001.jpg")])
    assert killed.returncode == -signal.SIGKILL
    [left] = [p for p in masters.iterdir() if p.name.startswith(".")]
    assert left.name.startswith(".0001.jpg.") and left.stat().st_size == 1 << 20
    mine = out / "HD-TV" / "HD-DC-0001" / ".notes.txt"  # a hidden file not of our making stays
    mine.write_text("ghi chú", encoding="utf-8")

    again = invoke_cli(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not left.exists() and [p.name for p in masters.iterdir() if p.name.startswith(".")] == []
    assert mine.read_text(encoding="utf-8") == "ghi chú"
    after = {key: digest for key, digest in output_hashes(data).items() if not key.endswith(".notes.txt")}
    assert after == before  # the master and every other output as they were
    assert (batch / "HD-DC-0001" / "0001.jpg").read_bytes() == (MINI / "HD-DC-0001" / "0001.jpg").read_bytes()
