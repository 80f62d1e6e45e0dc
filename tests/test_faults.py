"""One odd file never stops a batch; a fault of the environment (full or read-only disk, read-only
store, locked or damaged ledger) stops the run cleanly with one message, releases the batch's
lock, and a rerun once it is fixed completes. The disks are small tmpfs mounts (the tests run as
root); files the service user cannot read are made so by dropping root's right to read anything."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import (MINI, SAMPLES, cli_env, invoke_cli, latest_report, ledger_session, register_library, report_reasons,
                      report_statuses, run_cli, sqlite_url, tree_hashes)
from digitize.ledger.database import BatchLock, Item

PAGE = SAMPLES / "HD-DC-0001" / "0002.jpg"
TINY_PAGE = MINI / "HD-DC-0001" / "0001.jpg"  # a strip of text: its OCR takes a fraction of a second
LONG = "trang-" + "a" * 236 + ".jpg"  # 246 bytes


def toml(item_id: str) -> str:
    return f'id = "{item_id}"\ntitle = "Sách {item_id}"\nlibrary = "TEST"\ncategory = "dia_chi"\naccess = "open"\n'


def item(batch: Path, name: str, pages: dict[str, bytes | None] | None = None, meta: str | None = None,
         page_file: Path = TINY_PAGE) -> Path:
    folder = batch / name
    folder.mkdir(parents=True)
    for page, data in (pages or {"0001.jpg": None}).items():
        shutil.copy(page_file, folder / page) if data is None else (folder / page).write_bytes(data)
    (folder / "item.toml").write_text(meta if meta is not None else toml(name), encoding="utf-8")
    return folder


def run_as_service_user(*args: str, **settings: str) -> subprocess.CompletedProcess:
    """`digitize ARGS` as root without the right to read or write files it may not (like a service
    user): files with mode 000 cannot be read."""
    return subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                           "digitize.cli", *args], env=cli_env(None, args, settings), capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def odd_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    batch, outside = root / "batch", root / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("-----BEGIN PRIVATE KEY-----\nsecret\n", encoding="utf-8")
    (outside / "page.jpg").write_bytes(PAGE.read_bytes())
    item(batch, "GOOD")
    os.mkfifo(item(batch, "PIPE-PAGE") / "0002.tif")
    fifo_meta = item(batch, "PIPE-META", meta="")
    (fifo_meta / "item.toml").unlink()
    os.mkfifo(fifo_meta / "item.toml")
    (item(batch, "UNREADABLE") / "0002.jpg").write_bytes(PAGE.read_bytes())
    (batch / "UNREADABLE" / "0002.jpg").chmod(0)
    (item(batch, "UNREADABLE-META") / "item.toml").chmod(0)
    item(batch, "LONG-NAME", {LONG: None})
    item(batch, "LONG-BAD", {"0001.jpg": None, LONG.replace(".jpg", ".tif"): b"not an image"})
    item(batch, "CONTROL", {"00\x01.jpg": None})
    (batch / "LINKED").symlink_to(outside, target_is_directory=True)
    (item(batch, "LINKED-PAGE") / "0002.jpg").symlink_to(outside / "page.jpg")
    before, outside_before = tree_hashes(batch), tree_hashes(outside)
    out = root / "out"
    result = run_as_service_user("run", str(batch), "--out", str(out))
    (batch / "UNREADABLE" / "0002.jpg").chmod(0o644)
    (batch / "UNREADABLE-META" / "item.toml").chmod(0o644)
    return root, batch, outside, out, result, before, outside_before


@pytest.mark.slow  # a batch run (OCR)
def test_odd_files_fail_alone_with_plain_reasons(odd_batch):
    root, batch, outside, out, result, *_ = odd_batch
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert report_statuses(latest_report(out)) == {"GOOD": "ok", "PIPE-PAGE": "ok", "PIPE-META": "failed", "UNREADABLE": "failed",
                        "UNREADABLE-META": "failed", "LONG-NAME": "ok", "LONG-BAD": "failed", "CONTROL": "ok",
                        "LINKED": "failed", "LINKED-PAGE": "failed"}
    found = report_reasons(latest_report(out))
    assert "not a regular file" in found["PIPE-PAGE/0002.tif"]
    assert "not a regular file" in found["PIPE-META/item.toml"]
    assert "Permission denied" in found["UNREADABLE/0002.jpg"]
    assert "Permission denied" in found["UNREADABLE-META/item.toml"]
    assert "not an image" in found[f"LONG-BAD/{LONG.replace('.jpg', '.tif')}"]
    assert "control characters" in found["CONTROL/00?.jpg"]
    assert "outside the batch" in found["LINKED/None"]
    assert "outside the batch" in found["LINKED-PAGE/0002.jpg"]
    long_master = out / "TEST" / "LONG-NAME" / "masters" / LONG
    assert long_master.read_bytes() == TINY_PAGE.read_bytes()


@pytest.mark.slow  # a batch run (OCR)
def test_nothing_outside_is_read_or_written(odd_batch):
    root, batch, outside, out, result, before, outside_before = odd_batch
    assert tree_hashes(batch) == before and tree_hashes(outside) == outside_before
    quarantined = [p for p in (out / "_quarantine").rglob("*") if p.is_file()]
    assert quarantined and not any("PRIVATE KEY" in p.read_text(encoding="utf-8", errors="replace")
                                   for p in quarantined)  # the linked folder is never copied
    assert any(p.name.endswith(".reason.txt") and len(p.name.encode()) <= 255 and "~" in p.name
               for p in (out / "_quarantine" / "batch" / "LONG-BAD").iterdir())
    assert sorted(p.name for p in root.iterdir()) == ["batch", "ledger.sqlite", "out", "outside", "store"]


def test_an_output_folder_inside_the_batch_is_refused(tmp_path):
    batch = tmp_path / "batch"
    item(batch, "GOOD")
    result = run_cli("run", str(batch), "--out", str(batch / "out"))
    assert result.returncode == 65, result.stdout + result.stderr
    assert "output folder is inside the batch folder" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in batch.iterdir()) == ["GOOD"]


# --- faults of the environment --------------------------------------------------------------------

@contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if read_only else ""), "tmpfs",
                    str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


def locks(root: Path) -> list:
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        return session.scalars(select(BatchLock.batch)).all()


def stored_items(root: Path) -> dict[str, str]:
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        return dict(session.execute(select(Item.item_id, Item.status)).all())


def clean_stop(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr  # one plain message
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture
def small_batch(tmp_path):
    batch = tmp_path / "batch"
    item(batch, "ONE")
    item(batch, "TWO")
    register_library(tmp_path, "TEST")
    return tmp_path, batch


@pytest.mark.slow  # batch runs (OCR)
def test_a_full_disk_stops_the_run_and_a_rerun_completes(tmp_path):
    root, batch = tmp_path, tmp_path / "batch"
    for name in ("ONE", "TWO"):  # full pages: their outputs do not fit on the small disk
        item(batch, name, page_file=PAGE)
    register_library(root, "TEST")
    with tmpfs(root / "out", "1m") as out:
        full = run_cli("run", str(batch), "--out", str(out))
        clean_stop(full, 73, "No space left on device", "run again")
        assert "items left for the next run" in full.stderr
        assert locks(root) == []
        remount(out, "size=200m")
        again = invoke_cli("run", str(batch), "--out", str(out))
        assert again.returncode == 0, again.stdout + again.stderr
        assert stored_items(root) == {"ONE": "ok", "TWO": "ok"}


@pytest.mark.slow  # batch runs (OCR)
def test_a_read_only_output_folder_stops_the_run_before_any_work(small_batch):
    root, batch = small_batch
    with tmpfs(root / "out", "200m", read_only=True) as out:
        refused = run_cli("run", str(batch), "--out", str(out))
        clean_stop(refused, 73, "output folder cannot be written", "Read-only file system")
        remount(out, "rw")
        again = invoke_cli("run", str(batch), "--out", str(out))
        assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.slow  # batch runs (OCR)
def test_a_read_only_store_stops_the_run(small_batch):
    root, batch = small_batch
    with tmpfs(root / "store", "200m", read_only=True) as store:
        refused = run_cli("run", str(batch), "--out", str(root / "out"))
        clean_stop(refused, 74, "store cannot be written", "Read-only file system")
        assert locks(root) == []
        remount(store, "rw")
        again = invoke_cli("run", str(batch), "--out", str(root / "out"))
        assert again.returncode == 0, again.stdout + again.stderr
        assert (store / "TEST" / "TWO" / "stored.json").is_file()


@pytest.mark.slow  # batch runs (OCR)
def test_a_locked_ledger_stops_the_run_cleanly(small_batch):
    root, batch = small_batch
    assert invoke_cli("run", str(batch), "--out", str(root / "out")).returncode == 0
    item(batch, "THREE")
    holder = sqlite3.connect(root / "ledger.sqlite")
    holder.execute("BEGIN EXCLUSIVE")
    try:  # SQLite gives up waiting for the lock after 1 s instead of 5
        locked = run_cli("run", str(batch), "--out", str(root / "out"),
                         ledger=sqlite_url(root / "ledger.sqlite") + "?timeout=1")
    finally:
        holder.rollback()
        holder.close()
    clean_stop(locked, 71, "ledger", "locked")
    again = invoke_cli("run", str(batch), "--out", str(root / "out"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert stored_items(root) == {"ONE": "ok", "TWO": "ok", "THREE": "ok"}


@pytest.mark.slow  # batch runs (OCR)
def test_a_damaged_ledger_stops_the_run_cleanly(small_batch):
    root, batch = small_batch
    ledger_file = root / "ledger.sqlite"
    ledger_file.write_bytes(b"this is not a database" * 100)
    damaged = run_cli("run", str(batch), "--out", str(root / "out"))
    clean_stop(damaged, 71, "ledger")
    assert not (root / "out" / "TEST").exists()  # stopped before any work
    ledger_file.rename(root / "ledger.damaged")  # kept for the operator: nothing is deleted
    again = invoke_cli("run", str(batch), "--out", str(root / "out"))
    assert again.returncode == 0, again.stdout + again.stderr
