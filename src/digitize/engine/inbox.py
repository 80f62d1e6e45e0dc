"""The nightly inbox: which of its batch folders are complete, and what each batch's runs left.

A batch is taken once every file of it has arrived: with a READY file written after the last of
them, when nothing in it has changed for DIGITIZE_INBOX_QUIET_SECONDS; without such a READY (none,
or one older than a file of the batch: written before the copy ended), when nothing has changed
for the longer quiet the caller gives. A file's change is the later of its modification and
status-change times: a copy that keeps the scanner's modification times (cp -p, rsync -a) still
sets the status-change time of what it writes.

A batch's files are fingerprinted (paths, sizes, modification times) when it is taken and when its
run ends: one that changed meanwhile is never marked done and is looked at again. A batch done on
an earlier night is looked at again once its fingerprint changes (a page added after storing); the
run then reports the stored item whose folder no longer holds its pages (engine.batch)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from digitize.core.errors import BatchBusy, DigitizeError
from digitize.core.files import write_atomic
from digitize.core.models import BatchSummary, InboxEntry, InboxOutcome, Status

READY = "READY"
STATE = "inbox-state.json"  # in DIGITIZE_DATA: what the last run of each batch left


@dataclass(frozen=True)
class Look:
    """A batch folder as it is now."""

    files: int
    last_change: float | None  # epoch seconds; None for an empty folder
    ready: str  # absent | stale | fresh
    fingerprint: str


def look(batch: Path) -> Look:
    """Every file and folder under ``batch``: when the last change was, whether READY came after
    all of them, and the fingerprint of the files."""
    changes: dict[str, float] = {}
    listed = []
    for root, folders, names in os.walk(batch):
        for name in folders + names:
            path = Path(root, name)
            relative = path.relative_to(batch).as_posix()
            try:
                status = path.lstat()
            except FileNotFoundError:  # renamed or removed while we look (a copy tool's temporary file)
                changes[relative] = time.time()
                continue
            changes[relative] = max(status.st_mtime, status.st_ctime)
            if name in names:
                listed.append(f"{relative}\0{status.st_size}\0{status.st_mtime_ns}")
    fingerprint = hashlib.sha256("\n".join(sorted(listed)).encode("utf-8", "surrogateescape")).hexdigest()
    others = [when for name, when in changes.items() if name != READY]
    if READY not in changes:
        ready = "absent"
    else:
        ready = "fresh" if changes[READY] >= max(others, default=0.0) else "stale"
    return Look(len(listed), max(changes.values(), default=None), ready, fingerprint)


def batches(inbox: Path) -> list[Path]:
    """The batch folders of the inbox (folders starting with '.' or '_' are not batches)."""
    return sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def read_state(data: Path) -> dict[str, dict]:
    """The state file; a batch's entry in the old form ("done") is read as {"outcome": "done"}."""
    path = data / STATE
    if not path.exists():
        return {}
    state = json.loads(path.read_text(encoding="utf-8"))
    return {batch: entry if isinstance(entry, dict) else {"outcome": entry} for batch, entry in state.items()}


def write_state(data: Path, state: dict[str, dict]) -> None:
    write_atomic(data / STATE, json.dumps(state, indent=1, ensure_ascii=False))


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


class Inbox:
    """The inbox folder with its state file. ``quiet``: seconds without change for a batch with a
    READY written after its last file; ``unsignalled_quiet``: for one without (never less than ``quiet``)."""

    def __init__(self, folder: Path, data: Path, quiet: float, unsignalled_quiet: float):
        self.folder, self.data = Path(folder), Path(data)
        self.quiet, self.unsignalled_quiet = quiet, max(quiet, unsignalled_quiet)
        self.state = read_state(self.data)

    def night(self, run: Callable[[Path], BatchSummary]) -> Iterator[InboxEntry]:
        """Each batch of the inbox in name order: left (done earlier, still arriving) or taken with
        ``run``; the state file is written after each batch taken."""
        for batch in batches(self.folder):
            entry, taken = self.consider(batch)
            if taken is not None:
                entry = self.take(batch, taken, entry, run)
            yield entry

    def consider(self, batch: Path, now: float | None = None) -> tuple[InboxEntry, Look | None]:
        """The batch's entry if it is left as it is, and the look to take it with if it is complete."""
        seen = look(batch)
        earlier = self.state.get(batch.name, {})
        done_before = None
        if earlier.get("outcome") == InboxOutcome.done.value:
            done_before = datetime.fromisoformat(earlier["at"]) if earlier.get("at") else None
            if "fingerprint" not in earlier:  # marked done by an older version: its files as they are now
                earlier["fingerprint"] = seen.fingerprint
                write_state(self.data, self.state)
            if earlier["fingerprint"] == seen.fingerprint:
                return InboxEntry(batch=batch.name, outcome=InboxOutcome.done_earlier, files=seen.files,
                                  done_before=done_before), None
        needed = self.quiet if seen.ready == "fresh" else self.unsignalled_quiet
        entry = InboxEntry(batch=batch.name, outcome=InboxOutcome.arriving, files=seen.files,
                           last_change=_when(seen.last_change), quiet_needed=needed, ready=seen.ready,
                           done_before=done_before)
        if seen.last_change is None or (now or time.time()) - seen.last_change < needed:
            return entry, None
        return entry, seen

    def take(self, batch: Path, before: Look, entry: InboxEntry, run: Callable[[Path], BatchSummary]) -> InboxEntry:
        """Run the batch; it is done only if every item is stored and its files are as they were."""
        try:
            summary = run(batch)
        except BatchBusy as exc:
            return entry.model_copy(update={"outcome": InboxOutcome.busy, "why": exc.message})
        except DigitizeError as exc:  # a setting, the output folder, the store: nothing was done
            return entry.model_copy(update={"outcome": InboxOutcome.skipped, "why": exc.message})
        except Exception as exc:  # a bug: the other batches are still taken; its text may name an item
            why = (f"unexpected failure ({type(exc).__name__}), a bug: the log of its digitize-batch run says "
                   "more; please report it")
            self.record(batch, InboxOutcome.failed, "", why)
            return entry.model_copy(update={"outcome": InboxOutcome.failed, "why": why})
        after = look(batch)
        items = len(summary.items)
        not_stored = [item for item in summary.items if item.status != Status.ok]
        if after.fingerprint != before.fingerprint:
            outcome = InboxOutcome.changed
            why = (f"its files changed during the run ({before.files} files when it was taken, {after.files} "
                   "at its end): not done, looked at again the next night")
        elif summary.stopped:
            outcome, why = InboxOutcome.stopped, summary.stopped
        else:
            outcome, why = (InboxOutcome.done, "") if summary.ok else (InboxOutcome.failed, "")
        self.record(batch, outcome, before.fingerprint, why)
        # the stop's reason may name a file of a secret item: it stays in the state file and the report
        return entry.model_copy(update={"outcome": outcome, "items": items, "stored": items - len(not_stored),
                                        "not_stored": [item.item_id for item in not_stored if not item.secret],
                                        "secret_not_stored": sum(item.secret for item in not_stored),
                                        "files": after.files,
                                        "why": "" if outcome == InboxOutcome.stopped else why})

    def record(self, batch: Path, outcome: InboxOutcome, fingerprint: str, why: str) -> None:
        """What the batch's run left, in the state file: only "done" keeps the batch from the next night."""
        self.state[batch.name] = {"outcome": outcome.value,
                                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "fingerprint": fingerprint, **({"why": why} if why else {})}
        write_state(self.data, self.state)
