"""The inbox's decisions, without Prefect or OCR: a batch is taken only when READY came after its
last file and nothing has changed for the quiet time (arrival times, not the modification times a
copy may keep); a batch that changes during its run is not done; a done batch that changes is
looked at again; what is published names no secret item. The nightly flow with real runs is in
test_nightly.py."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from digitize.access import inbox_report
from digitize.core.models import BatchSummary, InboxOutcome, ItemResult, Status
from digitize.engine import inbox
from digitize.engine.inbox import Inbox

QUIET, LONG_QUIET = 60.0, 1800.0


def make_batch(root: Path, name: str = "lo-1", ready: bool = True) -> Path:
    batch = root / "inbox" / name
    (batch / "SACH-1").mkdir(parents=True)
    for number in (1, 2):
        (batch / "SACH-1" / f"000{number}.tif").write_bytes(b"page" * number)
    if ready:
        (batch / "READY").touch()
    return batch


def summary(*items: ItemResult) -> BatchSummary:
    now = datetime.now(timezone.utc)
    return BatchSummary(batch="lo-1", started=now, finished=now, items=list(items), problems=[])


def stored(item_id: str = "SACH-1", secret: bool = False, status: Status = Status.ok) -> ItemResult:
    return ItemResult(item_id=item_id, library="HD-TV", status=status, secret=secret, pages=2)


def later(seconds: float) -> float:
    return time.time() + seconds


def test_a_batch_is_taken_only_when_ready_came_last_and_nothing_changed_for_the_quiet_time(tmp_path):
    batch = make_batch(tmp_path)
    box = Inbox(tmp_path / "inbox", tmp_path / "data", QUIET, LONG_QUIET)
    entry, taken = box.consider(batch)
    assert taken is None and entry.outcome == InboxOutcome.arriving and entry.ready == "fresh"
    assert entry.quiet_needed == QUIET and entry.files == 3
    _, taken = box.consider(batch, now=later(QUIET + 1))
    assert taken is not None

    # READY written first, the pages after it (the copy of issue 24): READY says nothing of them,
    # the batch waits for the long quiet of a batch without READY
    time.sleep(0.05)  # beyond the clock's tick: the page is seen after READY
    (batch / "SACH-1" / "0003.tif").write_bytes(b"late page")
    entry, taken = box.consider(batch, now=later(QUIET + 1))
    assert taken is None and entry.ready == "stale" and entry.quiet_needed == LONG_QUIET
    assert box.consider(batch, now=later(LONG_QUIET + 1))[1] is not None
    (batch / "READY").touch()  # written again once the copy is over
    assert box.consider(batch, now=later(QUIET + 1))[1] is not None

    bare = make_batch(tmp_path, "lo-2", ready=False)
    entry, taken = box.consider(bare, now=later(QUIET + 1))
    assert taken is None and entry.ready == "absent" and entry.quiet_needed == LONG_QUIET
    empty = tmp_path / "inbox" / "lo-3"
    empty.mkdir()
    entry, taken = box.consider(empty, now=later(LONG_QUIET + 1))
    assert taken is None and entry.files == 0
    assert [b.name for b in inbox.batches(tmp_path / "inbox")] == ["lo-1", "lo-2", "lo-3"]


def test_a_copy_that_keeps_old_modification_times_is_still_seen_arriving(tmp_path):
    batch = make_batch(tmp_path)
    old = time.time() - 86400
    for path in batch.rglob("*"):  # as cp -p or rsync -a leave them: the scanner's times
        os.utime(path, (old, old))
    entry, taken = Inbox(tmp_path / "inbox", tmp_path / "data", QUIET, LONG_QUIET).consider(batch)
    assert taken is None and entry.outcome == InboxOutcome.arriving
    assert (datetime.now(timezone.utc) - entry.last_change).total_seconds() < 60


def test_a_batch_whose_files_change_during_its_run_is_not_done_and_is_taken_again(tmp_path):
    batch = make_batch(tmp_path)
    box = Inbox(tmp_path / "inbox", tmp_path / "data", QUIET, LONG_QUIET)
    entry, taken = box.consider(batch, now=later(QUIET + 1))

    def run_while_a_page_arrives(folder: Path) -> BatchSummary:
        (folder / "SACH-1" / "0003.tif").write_bytes(b"arrived during the run")
        return summary(stored())

    entry = box.take(batch, taken, entry, run_while_a_page_arrives)
    assert entry.outcome == InboxOutcome.changed and entry.stored == 1
    state = json.loads((tmp_path / "data" / inbox.STATE).read_text(encoding="utf-8"))
    assert state["lo-1"]["outcome"] == "changed" and "changed during the run" in state["lo-1"]["why"]
    assert "looked at again the next night" in inbox_report.line(entry, "en")
    assert "thay đổi trong lúc xử lý" in inbox_report.line(entry, "vi")

    # the next night it is considered again, and done once a run leaves it as it found it
    box = Inbox(tmp_path / "inbox", tmp_path / "data", QUIET, LONG_QUIET)
    entry, taken = box.consider(batch, now=later(LONG_QUIET + 1))
    assert taken is not None
    assert box.take(batch, taken, entry, lambda folder: summary(stored())).outcome == InboxOutcome.done
    entry, taken = box.consider(batch, now=later(LONG_QUIET + 1))
    assert taken is None and entry.outcome == InboxOutcome.done_earlier

    # a page added after it was done: looked at again, and said so
    (batch / "SACH-1" / "0004.tif").write_bytes(b"added after storing")
    entry, taken = box.consider(batch, now=later(LONG_QUIET + 1))
    assert taken is not None and entry.done_before is not None
    assert "changed since it was done" in inbox_report.line(entry, "en")


def test_an_old_state_file_keeps_its_done_batches(tmp_path):
    batch = make_batch(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / inbox.STATE).write_text('{"lo-1": "done", "lo-2": "failed"}', encoding="utf-8")
    box = Inbox(tmp_path / "inbox", tmp_path / "data", QUIET, LONG_QUIET)
    entry, taken = box.consider(batch, now=later(LONG_QUIET + 1))
    assert taken is None and entry.outcome == InboxOutcome.done_earlier
    (batch / "SACH-1" / "0003.tif").write_bytes(b"new")  # from now on its changes are seen
    assert box.consider(batch, now=later(LONG_QUIET + 1))[1] is not None


def test_busy_skipped_and_failed_batches_are_said_in_both_languages_without_secret_ids(tmp_path):
    from digitize.core.errors import BatchBusy, ConfigError

    box = Inbox(tmp_path / "inbox", tmp_path / "data", 0, 0)
    batches = [make_batch(tmp_path, name) for name in ("lo-1", "lo-2", "lo-3", "lo-4")]

    def run(folder: Path) -> BatchSummary:
        if folder.name == "lo-1":
            raise BatchBusy("the batch is being processed by another run (flow run 42)", str(folder), "wait")
        if folder.name == "lo-2":
            raise ConfigError("unknown material profile 'quoc-ngu-nw'", None, "choose one of ...")
        if folder.name == "lo-3":
            return summary(stored(), stored("MAT-SECRET-7", secret=True, status=Status.failed))
        raise ZeroDivisionError("MAT-SECRET-7")  # a bug whose text names an item

    entries = list(box.night(run))
    assert [e.outcome for e in entries] == [InboxOutcome.busy, InboxOutcome.skipped, InboxOutcome.failed,
                                            InboxOutcome.failed]
    assert entries[2].not_stored == [] and entries[2].secret_not_stored == 1 and entries[2].stored == 1
    published = inbox_report.markdown(entries, str(tmp_path / "inbox")) + "\n".join(
        inbox_report.log_line(e) for e in entries)
    assert "MAT-SECRET-7" not in published
    assert "flow run 42" in published and "quoc-ngu-nw" in published and "ZeroDivisionError" in published
    lo3 = inbox_report.log_line(entries[2])
    assert "1 of 2 items stored, not stored: 1 secret item." in lo3
    assert "đã lưu 1/2 tài liệu, chưa lưu: 1 tài liệu mật." in lo3
    assert "## Thư mục nhận lô" in published and "## Inbox" in published
    state = json.loads((tmp_path / "data" / inbox.STATE).read_text(encoding="utf-8"))
    assert set(state) == {"lo-3", "lo-4"}  # busy and skipped batches were not run: nothing to record
    assert all(b.is_dir() for b in batches)
