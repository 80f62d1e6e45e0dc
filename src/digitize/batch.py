"""One batch run, start to end: find the items and the catalogue records, take the batch's lock,
intake, resume what an earlier run finished, hand the pages to a runner (digitize.runner), assemble
and store each item while the next item's pages go on, quarantine what failed, record the run in
the ledger and write the report. Needs no Prefect: flows/ runs the same engine as a Prefect flow."""

from __future__ import annotations

import logging
import os
import queue
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from digitize import ingest, ledger, marc, ocr, package, pipeline, progress, storage
from digitize.errors import BadInput, DigitizeError, StorageUnavailable, ToolError
from digitize.files import write_atomic
from digitize.models import (BatchSummary, ItemMetadata, ItemRecord, ItemResult, PageRecord, PageSource, Problem,
                             Profile, Severity, Status, StoredManifest)
from digitize.profiles import get_profile
from digitize.runner import Runner
from digitize.settings import Settings

log = logging.getLogger("digitize")
PAGE_ATTEMPTS = 3  # a page whose OCR fails with a tool error is tried again, after a pause
RETRY_PAUSE = 2.0


@dataclass(frozen=True)
class BatchRequest:
    """What to run, with every setting it needs read once, up front."""

    batch: Path
    out: Path
    profiles: Path
    default_profile: str
    library: str | None
    workers: int
    new_version: bool
    store_url: str
    multipart_mb: int
    ledger_url: str
    max_pixels: int
    ocr_timeout: int

    @classmethod
    def make(cls, batch: Path, settings: Settings, out: Path | None = None, profile: str | None = None,
             library: str | None = None, workers: int | None = None, new_version: bool = False) -> BatchRequest:
        return cls(batch=Path(batch), out=Path(out or settings.out), profiles=settings.profiles,
                   default_profile=profile or settings.default_profile, library=library,
                   workers=workers or settings.workers, new_version=new_version, store_url=settings.store_url,
                   multipart_mb=settings.multipart_mb, ledger_url=settings.ledger_url, max_pixels=settings.max_pixels,
                   ocr_timeout=settings.ocr_timeout)


# --- the work handed to the runner: plain module functions, so that any runner can ship them ---

def intake(folder: Path, batch: Path, csv_row: dict | None, profiles: Path, default_profile: str,
           max_pixels: int, defaults: dict) -> ingest.ItemPlan:
    return ingest.plan_item(folder, batch, csv_row, lambda meta: get_profile(profiles, meta.profile or default_profile),
                            max_pixels, defaults)


def page(item_id: str, source: PageSource, profile: Profile, folder: Path, ocr_timeout: int) -> PageRecord | Problem:
    """One page; a bad page is a Problem; a tool failure is tried again before it is one."""
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        try:
            return pipeline.process_page(source, profile, folder, ocr_timeout)
        except BadInput as exc:
            return Problem(item=item_id, file=source.name, reason=exc.message, path=source.path)
        except ToolError:
            if attempt == PAGE_ATTEMPTS:
                raise
            time.sleep(RETRY_PAUSE)


def assemble(plan: ingest.ItemPlan, catalogue: list, profile: Profile, records: list[PageRecord], folder: Path,
             problems: list[Problem], seconds: float, ingested: str, base: str) -> ItemRecord:
    description = pipeline.describe(plan.meta, catalogue)
    return pipeline.assemble_item(plan.meta, description, profile, plan.pages, records, folder, problems, seconds,
                                  ingested, base)


def with_problem(result: ItemResult, status: Status, reason: str, severity: Severity = Severity.error) -> ItemResult:
    problem = Problem(item=result.item_id, reason=reason, severity=severity)
    return result.model_copy(update={"status": status, "problems": [*result.problems, problem]})


def store(record: ItemRecord, folder: Path, store_url: str, multipart_mb: int,
          new_version: bool) -> tuple[ItemResult, StoredManifest | None]:
    """Push a finished item; if the store stays unreachable the item waits for the next run."""
    result = record.result
    try:
        manifest, sent = pipeline.store_item(record, folder, storage.open_store(store_url, multipart_mb << 20),
                                             new_version)
    except StorageUnavailable as exc:
        return with_problem(result, Status.waiting, f"waiting for storage: {exc.message}", Severity.warning), None
    except DigitizeError as exc:
        return with_problem(result, Status.failed, exc.message), None
    log.info("%s stored at %s (%d objects sent)", result.item_id, manifest.store, sent)
    return pipeline.mark_stored(folder, record, manifest).result, manifest


# --- the run ---

def failure_reason(exc: Exception, work: str) -> str:
    """What an operator reads for a failure: our errors say it themselves; anything else is a bug."""
    return exc.message if isinstance(exc, DigitizeError) else f"{work} failed: {exc!r}"


def read_catalogue(batch: Path) -> tuple[list, list[Problem]]:
    """Every MARC21 record the batch carries; a file that cannot be read is reported."""
    records, problems = [], []
    for path in ingest.catalogue_files(batch):
        try:
            records += marc.read_records(path)
        except BadInput as exc:
            problems.append(Problem(item=batch.name, file=path.name, reason=exc.message))
    return records, problems


def ingest_date(folder: Path) -> str:
    """When the item's intake first began: a run that resumes the item keeps the first run's date."""
    path = folder / pipeline.WORK / "ingested"
    if not path.exists():
        write_atomic(path, package.now())
    return path.read_text(encoding="utf-8").strip()


@dataclass
class ItemRun:
    """An item whose pages are being worked on."""

    index: int
    plan: ingest.ItemPlan
    profile: Profile
    folder: Path
    outcomes: list  # per page: its PageRecord or Problem once back, None until then
    began: float = 0.0


def run_batch(request: BatchRequest, runner: Runner, run_label: str = "") -> BatchSummary:
    """Run a batch to its end with ``runner`` doing the work; ``run_label`` names this run in the
    batch's lock (e.g. its Prefect flow run). Raises BatchBusy when another run has the batch, and
    ConfigError or ToolError, before any work, for a wrong setting or missing OCR language data."""
    get_profile(request.profiles, request.default_profile)  # an unknown profile stops the run here
    store_at = storage.open_store(request.store_url).url  # so does a wrong store setting
    key = str(request.batch.resolve())
    session = ledger.open_ledger(request.ledger_url)
    try:
        ledger.lock_batch(session, key, run_label)
        try:
            return _BatchRun(request, runner, session, store_at).run()
        finally:
            ledger.unlock_batch(session, key, os.getpid())
    finally:
        session.close()
        session.get_bind().dispose()


class _BatchRun:
    def __init__(self, request: BatchRequest, runner: Runner, session, store_at: Callable[[str], str]):
        self.request, self.runner, self.session, self.store_at = request, runner, session, store_at
        self.quarantine = request.out / "_quarantine" / request.batch.name
        self.results: dict[int, tuple[ItemResult, StoredManifest | None]] = {}
        self.events: queue.SimpleQueue = queue.SimpleQueue()  # (handler, future) of finished work
        self.pending = 0
        self.waiting: deque[tuple[ItemRun, int]] = deque()  # pages not yet handed over, in batch order
        self.first_page: datetime | None = None
        self.catalogue: list = []

    def submit(self, kind: str, label: str, fn: Callable, args: tuple, then: Callable) -> None:
        """Hand work to the runner; ``then(future)`` runs here, in the run's own thread, when it ends."""
        future = self.runner.submit(kind, label, fn, *args)
        self.pending += 1
        future.add_done_callback(lambda done: self.events.put((then, done)))

    def run(self) -> BatchSummary:
        request = self.request
        started = datetime.now(timezone.utc)
        found, problems = ingest.find_items(request.batch)
        self.catalogue, catalogue_problems = read_catalogue(request.batch)
        problems += catalogue_problems
        defaults = {"library": request.library} if request.library else {}
        intakes = [self.runner.submit("ingest-item", folder.name, intake, folder, request.batch, row,
                                      request.profiles, request.default_profile, request.max_pixels, defaults)
                   for folder, row in found]
        plans = [future.result() for future in intakes]
        for problem in problems:
            log.warning("%s: %s", problem.file or problem.item, problem.reason)
        for name in {plan.meta.profile or request.default_profile for plan in plans if plan.ok}:
            ocr.check_languages(get_profile(request.profiles, name).languages)  # missing data stops the run here

        progress.report("total", sum(len(p.pages) for p in plans if p.ok))
        for index, plan in enumerate(plans):
            self.start_item(index, plan)
        for _ in range(len(self.waiting) if self.runner.window is None else self.runner.window):
            self.hand_over()
        while self.pending:
            handler, future = self.events.get()
            self.pending -= 1
            handler(future)

        finished = datetime.now(timezone.utc)
        counted = [(plans[i].meta, *self.results[i]) for i in sorted(self.results) if plans[i].meta is not None]
        problems += self.record(started, finished, counted)
        summary = BatchSummary(batch=str(request.batch), started=started, finished=finished,
                               items=[self.results[i][0] for i in sorted(self.results)], problems=problems,
                               first_page=self.first_page)
        report = request.out / "_reports" / f"{request.batch.name}-{started:%Y%m%dT%H%M%S}.json"
        write_atomic(report, summary.model_dump_json(indent=1))
        for item in summary.items:
            log.info("%s: %s, %d pages, confidence %s", item.item_id, item.status.value, item.pages,
                     item.mean_confidence)
        return summary

    def start_item(self, index: int, plan: ingest.ItemPlan) -> None:
        if not plan.ok:
            self.results[index] = (self.failed(plan, plan.problems), None)
            return
        request = self.request
        profile = get_profile(request.profiles, plan.meta.profile or request.default_profile)
        folder = pipeline.item_dir(request.out, plan.meta)
        earlier = pipeline.finished_item(folder, plan.pages)
        if earlier is not None:
            log.info("%s already done, skipped", plan.meta.id)
            progress.report("page", len(plan.pages))
            if earlier.stored is not None:
                self.results[index] = (earlier.result, earlier.stored)
            else:
                self.submit_store(index, folder, earlier)
            return
        ingest_date(folder)
        job = ItemRun(index, plan, profile, folder, [None] * len(plan.pages))
        self.waiting.extend((job, number) for number in range(len(plan.pages)))

    def hand_over(self) -> None:
        if not self.waiting:
            return
        job, number = self.waiting.popleft()
        if number == 0:
            job.began = time.monotonic()
        if self.first_page is None:
            self.first_page = datetime.now(timezone.utc)
        source = job.plan.pages[number]
        self.submit("page", f"{job.plan.meta.id} page {source.number}", page,
                    (job.plan.meta.id, source, job.profile, job.folder, self.request.ocr_timeout),
                    lambda future: self.page_done(job, number, future))

    def page_done(self, job: ItemRun, number: int, future) -> None:
        source = job.plan.pages[number]
        try:
            job.outcomes[number] = future.result()
        except Exception as exc:  # a crash on one page must not stop the batch
            job.outcomes[number] = Problem(item=job.plan.meta.id, file=source.name, path=source.path,
                                           reason=failure_reason(exc, "processing"))
        progress.report("page")
        if self.runner.window is not None:
            self.hand_over()
        if None not in job.outcomes:
            self.pages_done(job)

    def pages_done(self, job: ItemRun) -> None:
        """All pages of an item are back: assemble it (on the runner, beside the next pages)."""
        plan = job.plan
        records = [o for o in job.outcomes if isinstance(o, PageRecord)]
        problems = list(plan.problems) + [o for o in job.outcomes if isinstance(o, Problem)]
        if any(p.severity == Severity.error for p in problems):
            self.results[job.index] = (self.failed(plan, problems), None)
            return
        base = self.store_at(pipeline.item_key(plan.meta))
        self.submit("assemble-item", f"assemble {plan.meta.id}", assemble,
                    (plan, self.catalogue, job.profile, records, job.folder, problems,
                     time.monotonic() - job.began, ingest_date(job.folder), base),
                    lambda future: self.assembled(job, problems, future))

    def assembled(self, job: ItemRun, problems: list[Problem], future) -> None:
        try:
            record = future.result()
        except Exception as exc:  # a failed assembly fails its item, not the batch
            problem = Problem(item=job.plan.meta.id, reason=failure_reason(exc, "assembly"))
            self.results[job.index] = (self.failed(job.plan, problems + [problem]), None)
            return
        self.submit_store(job.index, job.folder, record)

    def submit_store(self, index: int, folder: Path, record: ItemRecord) -> None:
        request = self.request
        self.submit("store-item", f"store {record.metadata.id}", store,
                    (record, folder, request.store_url, request.multipart_mb, request.new_version),
                    lambda future: self.stored(index, record, future))

    def stored(self, index: int, record: ItemRecord, future) -> None:
        try:
            self.results[index] = future.result()
        except Exception as exc:  # store() reports the store's own errors; this is a bug
            self.results[index] = (with_problem(record.result, Status.failed, failure_reason(exc, "storing")), None)

    def failed(self, plan: ingest.ItemPlan, problems: list[Problem]) -> ItemResult:
        """Record a failed item; copy what made it fail into the quarantine with the reason."""
        for problem in problems:
            if problem.severity == Severity.error:
                # a bad page is copied alone; an item that cannot be read at all, whole
                ingest.quarantine(self.quarantine, plan.label, problem.path or plan.folder, problem.reason)
        return ItemResult(item_id=plan.label, library=plan.meta.library if plan.meta else "", status=Status.failed,
                          pages=len(plan.pages), problems=problems)

    def record(self, started: datetime, finished: datetime,
               items: list[tuple[ItemMetadata, ItemResult, StoredManifest | None]]) -> list[Problem]:
        """Count the run in the quota ledger. A failure there is reported; the outputs stand."""
        try:
            notes = ledger.record_run(self.session, str(self.request.batch), started, finished, items)
        except Exception as exc:  # the ledger is bookkeeping: a failure there must not undo the batch
            self.session.rollback()
            return [Problem(item=self.request.batch.name, reason=f"quota ledger not updated: {exc}",
                            severity=Severity.warning)]
        return [Problem(item=self.request.batch.name, reason=note, severity=Severity.warning) for note in notes]
