"""One batch run, start to end (run_batch, then _run_pipeline, which reads top-down): take the
batch's lock, intake, resume what an earlier run finished, hand the pages to a runner
(digitize.engine.runner), assemble and store each item while the next item's pages go on,
quarantine what failed, record the run in the ledger, index it and write the report. Needs no
Prefect: flows/ runs the same engine as a Prefect flow."""

from __future__ import annotations

import logging
import os
import queue
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from digitize.core import files, progress
from digitize.search import indexing
from digitize.capture import intake, malware, ocr, pagefiles
from digitize.ledger import database as ledger, holdings
from digitize.describe import marc, package, schemas
from digitize.engine import pipeline, rescan
from digitize.review import arrival
from digitize.review import rescan as review_rescan
from digitize.store import storage
from digitize.core.errors import (BadInput, DigitizeError, LedgerUnavailable, OutputUnwritable, StorageRefused,
                             StorageUnavailable, ToolError)
from digitize.core.files import shown_name, write_atomic
from digitize.core.models import (Access, BatchSummary, ItemMetadata, ItemRecord, ItemResult, PageRecord, PageSource,
                             Problem, Profile, Severity, Status, StoredManifest)
from digitize.core.profiles import get_profile, load_libraries, load_library_defaults
from digitize.engine.runner import Runner
from digitize.core.settings import Settings

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
    dpi: int | None = None  # the scan resolution of the items that state none
    scan_setup: malware.ScanSetup = malware.ScanSetup()
    data: Path | None = None  # where the last malware scan is kept for the dashboard (none: not kept)

    @classmethod
    def make(cls, batch: Path, settings: Settings, out: Path | None = None, profile: str | None = None,
             library: str | None = None, workers: int | None = None, new_version: bool = False,
             dpi: int | None = None) -> BatchRequest:
        return cls(batch=Path(batch), out=Path(out or settings.out), profiles=settings.profiles,
                   default_profile=profile or settings.default_profile, library=library,
                   workers=workers or settings.workers, new_version=new_version, store_url=settings.store_url,
                   multipart_mb=settings.multipart_mb, ledger_url=settings.ledger_url, max_pixels=settings.max_pixels,
                   ocr_timeout=settings.ocr_timeout, dpi=dpi, data=settings.data,
                   scan_setup=malware.ScanSetup(settings.clamd_socket, settings.malware_scan,
                                             settings.signatures_max_age))


# --- the work handed to the runner: plain module functions, so that any runner can ship them ---

def intake_item(folder: Path, batch: Path, csv_row: dict | None, profiles: Path, default_profile: str,
                max_pixels: int, defaults: dict, scanner: malware.Scanner | None = None) -> intake.ItemPlan:
    return intake.plan_item(folder, batch, csv_row, lambda meta: get_profile(profiles, meta.profile or default_profile),
                            max_pixels, defaults, load_library_defaults(profiles), scanner)


def page(item_id: str, source: PageSource, profile: Profile, folder: Path, ocr_timeout: int) -> PageRecord | Problem:
    """One page; a bad page is a Problem; a tool failure is tried again before it is one."""
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        try:
            return pipeline.process_page(source, profile, folder, ocr_timeout)
        except BadInput as exc:
            return Problem(item=item_id, file=source.name, reason=exc.words, path=source.path)
        except ToolError:
            if attempt == PAGE_ATTEMPTS:
                raise
            time.sleep(RETRY_PAUSE)


def assemble(plan: intake.ItemPlan, catalogue: list, profile: Profile, records: list[PageRecord], folder: Path,
             problems: list[Problem], seconds: float, ingested: str, base: str, store_url: str = "",
             multipart_mb: int = 0) -> ItemRecord:
    """The item from its pages. Made again over a stored version (``store_url``), a page whose master
    is unchanged and that a reviewer corrected keeps its reviewed text; pages whose image changed
    send the item back to review (ItemResult.replaced_pages)."""
    description = pipeline.describe(plan.meta, catalogue)
    kept, changed = [], []
    if store_url:
        store = storage.open_store(store_url, multipart_mb << 20)
        key = pipeline.item_key(plan.meta)
        try:
            stored = pipeline.stored_pages(store, key)
        except StorageUnavailable as exc:  # the item then waits for the store, and is made again next run
            log.warning("%s: its stored version could not be read (%s)", shown(plan.meta), exc.message)
            stored = {}
        records, kept = pipeline.take_stored_pages(records, folder, store, key, stored)
        changed = pipeline.changed_pages(records, stored)
    record = pipeline.assemble_item(plan.meta, description, profile, plan.pages, records, folder, problems, seconds,
                                    ingested, base)
    return pipeline.reviewed_pages_kept(record, kept, changed)


def assemble_again(plan: intake.ItemPlan, catalogue: list, profile: Profile, records: list[PageRecord], folder: Path,
                   ingested: str, base: str, store_url: str, multipart_mb: int) -> ItemRecord:
    """A finished item whose metadata changed and whose stored version a reviewer corrected: made
    again from its page records, the reviewed pages taken from the store, as a new version."""
    record = assemble(plan, catalogue, profile, records, folder, [], 0.0, ingested, base, store_url, multipart_mb)
    return record.model_copy(update={"new_version": True})


def assemble_rescan(job_rescan: rescan.Rescan, plan: intake.ItemPlan, catalogue: list, profile: Profile,
                    records: list[PageRecord], folder: Path, problems: list[Problem], seconds: float, ingested: str,
                    base: str, store_url: str, multipart_mb: int) -> ItemRecord:
    return rescan.assemble(job_rescan, plan, catalogue, profile, records, folder, problems, seconds, ingested, base,
                           storage.open_store(store_url, multipart_mb << 20))


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
    except StorageRefused:
        raise  # no item can be stored: the run stops
    except DigitizeError as exc:
        return with_problem(result, Status.failed, exc.message), None
    log.info("%s stored (%d objects sent)", shown(result), sent)
    return pipeline.mark_stored(folder, record, manifest).result, manifest


# --- the run, top down ---

def run_batch(request: BatchRequest, runner: Runner, run_label: str = "") -> BatchSummary:
    """Run a batch to its end with ``runner`` doing the work; ``run_label`` names this run in the
    batch's lock (e.g. its Prefect flow run). Raises BatchBusy when another run has the batch, and
    ConfigError or ToolError, before any work, for a wrong setting or missing OCR language data."""
    get_profile(request.profiles, request.default_profile)  # an unknown profile stops the run here
    load_library_defaults(request.profiles)  # so does a wrong libraries.toml
    store = storage.open_store(request.store_url, request.multipart_mb << 20)  # and a wrong store setting
    check_output(request)
    store.check_writable()
    # built before the workers start: libxml2 can fail to build the schema set ("xml:space does not
    # resolve") while other threads parse XML, which failed an item's assembly now and then
    schemas.schema()
    # ClamAV's daemon asked once; with scanning required, one that does not answer stops the run here
    scanner = malware.connect(request.scan_setup)
    key = str(request.batch.resolve())
    session = ledger.open_ledger(request.ledger_url)
    try:
        ledger.lock_batch(session, key, run_label)
        try:
            return _run_pipeline(request, runner, session, store, scanner)
        finally:
            try:
                ledger.unlock_batch(session, key, os.getpid())
            except LedgerUnavailable as exc:  # the run itself is over; the next one takes the lock over
                log.warning("the batch lock could not be released: %s", exc.message)
    finally:
        session.close()
        session.get_bind().dispose()


def _run_pipeline(request: BatchRequest, runner: Runner, session, store: storage.Store,
                  scanner: malware.Scanner | None = None) -> BatchSummary:
    """A batch, its lock taken, in the order it runs."""
    started = datetime.now(timezone.utc)
    # intake: the item folders and their metadata, the catalogue records, every file scanned for
    # malware, every page file checked
    plans, catalogue, problems, batch_checks = take_in(request, runner, scanner)
    problems += check_against_holdings(session, request, plans)
    check_languages(request, plans)
    progress.report("total", sum(len(p.pages) for p in plans if p.ok))

    items = _Items(request, runner, session, store, catalogue)
    # each item: failed at intake (quarantined), finished by an earlier run (checked, updated or
    # stored again), or its pages queued
    items.start(plans)
    # pages in parallel; when an item's last page is back it is assembled, then stored, on the
    # runner while the next item's pages go on (page_done -> pages_done -> assembled -> stored).
    # A fault of the environment stops new work: what is with the workers ends first
    items.work()
    items.release_quarantined(plans)
    finished = datetime.now(timezone.utc)

    done = [(plans[i].meta, *items.results[i]) for i in sorted(items.results) if plans[i].meta is not None]
    notes, refused = record_in_ledger(session, request, started, finished, done)
    problems += notes
    if refused is None:  # rescanned items (and items made again from other scans) are back in review
        problems += back_in_review(session, request, [result for i, (result, _) in items.results.items()
                                                      if i not in items.untouched])
    if refused is None:
        problems += put_in_review(session, request, plans, items)
        problems += index_stored(session, store, request, [meta for meta, result, _ in done
                                                           if result.status == Status.ok])
    summary = summarise(request, plans, items, started, finished, problems)
    if scanner is not None:
        summary.malware = malware.tally(scanner, [*batch_checks, *(check for plan in plans for check in plan.scans)],
                                        finished)
        if request.data is not None:
            malware.remember(request.data, summary.malware)
    if refused is not None and not summary.stopped:  # the outputs stand; the run's code says the ledger
        summary.stopped, summary.stop_code = refused.message, int(refused.exit_code)
    write_report(request, summary, started)
    for item in summary.items:
        log.info("%s: %s, %d pages, confidence %s", shown(item), item.status.value, item.pages,
                 item.mean_confidence)
    return summary


# --- the steps of _run_pipeline, in its order ---

def take_in(request: BatchRequest, runner: Runner,
            scanner: malware.Scanner | None = None) -> tuple[list[intake.ItemPlan], list, list[Problem], list]:
    """Every item of the batch planned (one runner task per item folder), the batch's catalogue
    records, the problems of the batch itself (logged) and the malware scan of its own files
    (items.csv, catalogues), made before any of them is read."""
    checks, problems = scan_batch_files(request.batch, scanner)
    infected = {path for path, check in checks.items() if check.outcome == malware.INFECTED}
    found, found_problems = intake.find_items(request.batch, infected)
    problems += found_problems
    progress.report("folders", len(found))
    catalogue, catalogue_problems = read_catalogue(request.batch, infected)
    problems += catalogue_problems
    defaults = {key: value for key, value in (("library", request.library), ("dpi", request.dpi)) if value}
    library_defaults = load_library_defaults(request.profiles)
    intakes = [runner.submit("ingest-item", "intake " + intake_name(number, folder, row, defaults, library_defaults),
                             intake_item, folder, request.batch, row, request.profiles, request.default_profile,
                             request.max_pixels, defaults, scanner)
               for number, (folder, row) in enumerate(found, start=1)]
    plans = []
    for future in intakes:
        plans.append(plan := future.result())
        progress.report("taken-in", name=shown(plan.meta) if plan.meta else plan.label)
    refuse_shared_ids(plans)
    for problem in problems:
        log.warning("%s: %s", problem.file or problem.item, problem.reason)
    return plans, catalogue, problems, list(checks.values())


def refuse_shared_ids(plans: list[intake.ItemPlan]) -> None:
    """Two folders of one batch with the same item id would mix their outputs: neither is run."""
    claims: dict[tuple[str, str], list[intake.ItemPlan]] = defaultdict(list)
    for plan in plans:
        if plan.meta is not None:
            claims[(plan.meta.library, plan.meta.id)].append(plan)
    for (library, item_id), group in claims.items():
        if len(group) > 1:
            folders = ", ".join(plan.folder.name for plan in group)
            for plan in group:
                plan.problem(f"{len(group)} folders of this batch have the item id {item_id} (library {library}): "
                             f"{folders}; none of them is run. Give each item its own id")


def check_against_holdings(session, request: BatchRequest, plans: list[intake.ItemPlan]) -> list[Problem]:
    """Each item's warnings for what it contradicts in the ledger (holdings.check_items: its holding
    record's category, a call number shared); a ledger that does not answer is said, and the run
    goes on."""
    try:
        found = holdings.check_items(session, [plan.meta for plan in plans])
    except DigitizeError as exc:
        return [Problem(item=request.batch.name, severity=Severity.warning, reason=(
            f"the items were not checked against the holdings register ({exc.message})"))]
    for index, warnings in found.items():
        for warning in warnings:
            plans[index].problem(warning, severity=Severity.warning)
    return []


def check_languages(request: BatchRequest, plans: list[intake.ItemPlan]) -> None:
    """Missing OCR language data for a profile the items use stops the run here, before any page."""
    for name in {plan.meta.profile or request.default_profile for plan in plans if plan.ok}:
        ocr.check_languages(get_profile(request.profiles, name).all_languages)


def record_in_ledger(session, request: BatchRequest, started: datetime, finished: datetime,
                     items: list[tuple[ItemMetadata, ItemResult, StoredManifest | None]]
                     ) -> tuple[list[Problem], LedgerUnavailable | None]:
    """Count the run in the quota ledger: its notes, and the fault if the ledger refused the record
    (the outputs stand, and the run ends with the ledger's exit code)."""
    try:
        notes = ledger.record_run(session, str(request.batch.resolve()), started, finished, items,
                                  load_libraries(request.profiles))
    except Exception as exc:  # the ledger is bookkeeping: a failure there must not undo the batch
        session.rollback()
        reason = exc.message if isinstance(exc, DigitizeError) else type(exc).__name__
        return [], LedgerUnavailable(
            f"the quota ledger refused the run's record ({reason}); the outputs stand and are stored, but they "
            "are not counted yet", None,
            "check the ledger (digitize quota answers when it works), then run the batch again: it records them")
    return [Problem(item=request.batch.name, reason=note, severity=Severity.warning) for note in notes], None


def put_in_review(session, request: BatchRequest, plans: list[intake.ItemPlan], items: "_Items") -> list[Problem]:
    """Each item this run stored goes in review (review.arrival): its risk, its library's rule. A
    ledger that refuses is said; the outputs stand, and the next run puts them in review."""
    arrivals = []
    for index, (result, _) in sorted(items.results.items()):
        meta = plans[index].meta
        record = pipeline.read_record(pipeline.item_dir(request.out, meta)) if (
            result.status == Status.ok and meta is not None) else None
        if record is not None:
            arrivals.append(arrival.Arrival(meta.library, meta.id, get_profile(request.profiles, record.profile),
                                            record.pages, stored_now=index not in items.untouched
                                            and not result.replaced_pages))  # a rescan says so itself
    try:
        arrival.record_arrivals(session, arrivals, load_libraries(request.profiles))
    except DigitizeError as exc:
        session.rollback()
        return [Problem(item=request.batch.name, severity=Severity.warning, reason=(
            f"the items stored were not put in review ({exc.message}); run the batch again to do it"))]
    return []


def back_in_review(session, request: BatchRequest, results: list[ItemResult]) -> list[Problem]:
    """Each stored item with new page images over a stored version goes back in review (not
    accepted, so not counted, until a reviewer accepts it again)."""
    again = [r for r in results if r.status == Status.ok and r.replaced_pages]
    try:
        with ledger.answering(session):
            for result in again:
                review_rescan.rescanned(session, result.library, result.item_id, result.replaced_pages)
            session.commit()
    except LedgerUnavailable as exc:
        return [Problem(item=request.batch.name, severity=Severity.warning, reason=(
            f"{', '.join(r.item_id for r in again if not r.secret)} not put back in review ({exc.message}); "
            "a reviewer sees them as they were"))]
    return []


def index_stored(session, store: storage.Store, request: BatchRequest, stored: list[ItemMetadata]) -> list[Problem]:
    """Put the items stored by this run in the search index (secret ones out of it). A failure
    is reported; the outputs stand."""
    problems = []
    for number, meta in enumerate(stored):
        try:
            indexing.index_recorded(session, store, meta.library, meta.id)
        except indexing.ItemNotIndexed as exc:
            problems.append(Problem(item=meta.id, severity=Severity.warning, reason=f"search index: {exc}"))
        except DigitizeError as exc:
            session.rollback()
            left = ", ".join(m.id for m in stored[number:])
            problems.append(Problem(item=request.batch.name, severity=Severity.warning,
                                    reason=f"search index not updated for {left} ({exc.message}); the outputs "
                                           f"stand: {indexing.REBUILD_TODO}"))
            break
    return problems


def summarise(request: BatchRequest, plans: list[intake.ItemPlan], items: _Items, started: datetime,
              finished: datetime, problems: list[Problem]) -> BatchSummary:
    results = [items.results[i][0].model_copy(update={
        "folder": shown_name(plans[i].folder.name),
        "already_done": i in items.untouched and items.results[i][0].status == Status.ok})
        for i in sorted(items.results)]
    summary = BatchSummary(batch=str(request.batch), started=started, finished=finished, items=results,
                           problems=problems, first_page=items.first_page,
                           quarantine=str(items.quarantine) if any(r.quarantine for r in results) else None,
                           left_quarantine=items.released)
    if items.stopped:
        summary.stopped, summary.stop_code = items.stopped.message, int(items.stopped.exit_code)
        summary.not_done = [plan.label for i, plan in enumerate(plans) if i not in items.results]
    return summary


def write_report(request: BatchRequest, summary: BatchSummary, started: datetime) -> None:
    report = request.out / "_reports" / f"{request.batch.name}-{started:%Y%m%dT%H%M%S}.json"
    summary.report = str(report)
    try:
        write_atomic(report, summary.model_dump_json(indent=1))
    except OSError as exc:
        summary.report = None
        log.error("the run's report could not be written to %s: %s", report, exc.strerror)


# --- helpers ---

def shown(item: ItemResult | ItemMetadata, number: int | None = None) -> str:
    """How logs and the runner's task names call an item: a secret item is never named there."""
    secret = item.secret if isinstance(item, ItemResult) else item.access == Access.secret
    name = item.item_id if isinstance(item, ItemResult) else item.id
    return ("a secret item" if number is None else f"secret item {number}") if secret else name


def item_name(meta: ItemMetadata, folder: Path, number: int) -> str:
    """An item's task name: its id and folder (a secret item: its number in the batch alone)."""
    if meta.access == Access.secret:
        return shown(meta, number)
    return f"{meta.id} (folder {shown_name(folder.name)})"


def intake_name(number: int, folder: Path, row: dict | None, defaults: dict, library_defaults: dict) -> str:
    """The intake task's name, from a first look at the item's metadata (its task reads it again):
    the id and folder; a secret item its number alone; an item whose metadata cannot be read its
    folder, unless its metadata or a library's defaults say "secret" anywhere."""
    try:
        return item_name(intake.read_item_metadata(folder, row, defaults, library_defaults), folder, number)
    except (DigitizeError, OSError):  # the intake task says what is wrong; its name must not stop the run
        pass
    said = [repr(row), *(str(values.get("access", "")) for values in library_defaults.values())]
    toml = folder / intake.ITEM_FILE
    try:
        if toml.is_file() and not toml.is_symlink():  # never a pipe, which would block
            said.append(toml.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        pass
    if any(Access.secret.value in words.lower() for words in said):
        return f"item folder {number}"
    return f"folder {shown_name(folder.name)}"


def failed_work(outcome: object) -> bool:
    """Whether the outcome of a piece of work handed to the runner fails its item: a bad page, an
    item refused at intake, an item the store refused (a runner may show that work as failed)."""
    if isinstance(outcome, Problem):
        return outcome.severity == Severity.error
    if isinstance(outcome, intake.ItemPlan):
        return not outcome.ok
    if isinstance(outcome, tuple) and outcome and isinstance(outcome[0], ItemResult):
        return outcome[0].status == Status.failed
    return False


def failure_reason(exc: Exception, work: str) -> str:
    """What an operator reads for a failure: our errors say it themselves; anything else is a bug."""
    return exc.message if isinstance(exc, DigitizeError) else f"{work} failed: {exc!r}"


def environment_fault(exc: BaseException) -> DigitizeError | None:
    """The fault of the environment behind ``exc`` (the run stops), or None (the item's own fault)."""
    if isinstance(exc, (StorageRefused, OutputUnwritable, LedgerUnavailable)):
        return exc
    if isinstance(exc, OSError) and exc.errno in files.UNWRITABLE:
        return OutputUnwritable(f"cannot write {exc.filename or 'the output'}: {exc.strerror}", None,
                                "free space or make the output folder writable for the service user, then run "
                                "again: what is finished is kept and not done again")
    return None


def check_output(request: BatchRequest) -> None:
    """Stop before any work when the output folder cannot hold the run's work."""
    out, batch = request.out.resolve(), request.batch.resolve()
    if out.is_relative_to(batch):
        raise BadInput("the output folder is inside the batch folder", str(request.out),
                       "choose an output folder outside the batch (--out or DIGITIZE_DATA): the next run "
                       "would read its own outputs as items")
    try:
        files.probe_writable(out)
    except OSError as exc:
        raise OutputUnwritable(f"the output folder cannot be written ({exc.strerror})", str(request.out),
                               "free space or make it writable for the service user, then run again") from None


def scan_batch_files(batch: Path, scanner: malware.Scanner | None) -> tuple[dict, list[Problem]]:
    """The batch's items.csv and catalogue files scanned for malware, before any is read."""
    if scanner is None or not batch.is_dir():
        return {}, []
    table = batch / intake.BATCH_CSV
    return malware.scan_batch_files(scanner, [*([table] if table.exists() else []), *intake.catalogue_files(batch)],
                                    batch)


def read_catalogue(batch: Path, infected: set[Path] = frozenset()) -> tuple[list, list[Problem]]:
    """Every MARC21 record the batch carries (an ``infected`` file is never read); a file that cannot
    be read is reported, an XML file that is no catalogue at all (not MARCXML) noticed in a warning."""
    records, problems = [], []
    for path in (p for p in intake.catalogue_files(batch) if p not in infected):
        try:
            records += marc.read_records(path)
        except marc.NotACatalogue as exc:  # notes beside the items: said, and the run is not failed for it
            problems.append(Problem(item=batch.name, file=path.name, reason=exc.message, severity=Severity.warning))
        except BadInput as exc:
            problems.append(Problem(item=batch.name, file=path.name, reason=exc.message))
    return records, problems


def ingest_date(folder: Path) -> str:
    """When the item's intake first began: a run that resumes the item keeps the first run's date."""
    path = folder / pipeline.WORK / "ingested"
    if not path.exists():
        write_atomic(path, package.now())
    return path.read_text(encoding="utf-8").strip()


# --- the items through the runner: small steps, each run in the run's own thread when the work
# before it ends ---

@dataclass
class ItemRun:
    """An item whose pages are being worked on."""

    index: int
    plan: intake.ItemPlan
    profile: Profile
    folder: Path
    outcomes: list  # per page: its PageRecord or Problem once back, None until then
    began: float = 0.0
    rescan: rescan.Rescan | None = None  # new scans of some pages of a stored item


class _Items:
    """The items of a run on the runner. Pages are handed over in batch order (``runner.window`` at
    a time), so an item's pages go on while the item before is assembled and stored; ``results``
    holds each item's outcome by its index in the batch."""

    def __init__(self, request: BatchRequest, runner: Runner, session, store: storage.Store, catalogue: list):
        self.request, self.runner, self.session, self.store = request, runner, session, store
        self.catalogue = catalogue
        self.plans: list[intake.ItemPlan] = []
        self.quarantine = request.out / "_quarantine" / request.batch.name
        self.results: dict[int, tuple[ItemResult, StoredManifest | None]] = {}
        self.events: queue.SimpleQueue = queue.SimpleQueue()  # (handler, future) of finished work
        self.pending = 0
        self.waiting: deque[tuple[ItemRun, int]] = deque()  # pages not yet handed over, in batch order
        self.first_page: datetime | None = None
        self.untouched: set[int] = set()  # items an earlier run finished, their metadata unchanged
        self.stopped: DigitizeError | None = None  # a fault of the environment: no new work is started
        self.released: dict[str, str] = {}  # item id: where its quarantine entry went (release_quarantined)

    # the two phases _run_pipeline calls

    def start(self, plans: list[intake.ItemPlan]) -> None:
        """Start every item, in batch order, until a fault stops the run."""
        self.plans = plans
        for index, plan in enumerate(plans):
            if self.stopped:
                break
            self.guarded(self.start_item, index, plan)

    def work(self) -> None:
        """Hand the first pages over, then run each step as the work before it ends, until none is left."""
        for _ in range(len(self.waiting) if self.runner.window is None else self.runner.window):
            self.hand_over()
        while self.pending:
            handler, future = self.events.get()
            self.pending -= 1
            self.guarded(handler, future)

    # plumbing

    def submit(self, kind: str, label: str, fn: Callable, args: tuple, then: Callable) -> None:
        """Hand work to the runner; ``then(future)`` runs here, in the run's own thread, when it ends."""
        future = self.runner.submit(kind, label, fn, *args)
        self.pending += 1
        future.add_done_callback(lambda done: self.events.put((then, done)))

    def guarded(self, handler: Callable, *args) -> None:
        """Run a step of the run's own thread; a fault of the environment there stops the run."""
        try:
            handler(*args)
        except Exception as exc:
            fault = environment_fault(exc)
            if fault is None:
                raise
            self.stop(fault)

    def release_quarantined(self, plans: list[intake.ItemPlan]) -> None:
        """Items no longer refused leave the quarantine: each entry goes to its .resolved history."""
        for index, (result, _) in self.results.items():
            if result.status == Status.failed:
                continue
            try:
                history = pagefiles.release(self.quarantine, plans[index].folder)
            except OSError as exc:
                log.warning("%s: its quarantine entry could not be moved away (%s)", shown(result), exc.strerror)
                continue
            if history is not None:
                self.released[result.item_id] = str(history)

    def stop(self, fault: DigitizeError) -> None:
        """Start no new work; what is with the workers ends, then the run does its accounts."""
        if self.stopped is None:
            log.error("run stopped: %s", fault.message)
            self.stopped = fault
        self.waiting.clear()

    # an item's steps, in their order

    def start_item(self, index: int, plan: intake.ItemPlan) -> None:
        """Fail the item, resume it from an earlier run, or queue its pages."""
        if not plan.ok:
            self.results[index] = (self.failed(plan, plan.problems), None)
            return
        request = self.request
        profile = get_profile(request.profiles, plan.meta.profile or request.default_profile)
        folder = pipeline.item_dir(request.out, plan.meta)
        if plan.replaces is not None:
            return self.start_rescan(index, plan, profile, folder)
        earlier = pipeline.finished_item(folder, plan.pages)
        claimed = None if request.new_version else self.claimed_elsewhere(plan, folder, earlier)
        if claimed:
            plan.problem(claimed)
            self.results[index] = (self.failed(plan, plan.problems), None)
            return
        for left in files.remove_temporaries(folder):  # half a file a killed run was writing
            log.info("%s: removed %s, left by an interrupted run", shown(plan.meta), left.relative_to(folder))
        if earlier is not None:
            self.resume(index, plan, folder, earlier)
            return
        ingest_date(folder)
        job = ItemRun(index, plan, profile, folder, [None] * len(plan.pages))
        self.waiting.extend((job, number) for number in range(len(plan.pages)))

    def start_rescan(self, index: int, plan: intake.ItemPlan, profile: Profile, folder: Path) -> None:
        """New scans of some pages of a stored item: checked against it, then only those pages queued
        (a rescan an earlier run already stored is not done again)."""
        earlier = rescan.already_done(folder, plan)
        if earlier is not None:
            log.info("%s: rescan already done, skipped", shown(plan.meta))
            self.untouched.add(index)
            return self.check_stored(index, plan, folder, earlier)
        try:
            job_rescan = rescan.prepare(self.session, self.store, plan, folder)
        except BadInput as exc:
            plan.problem(exc.words.without_where(), file=exc.where)
            self.results[index] = (self.failed(plan, plan.problems), None)
            return
        for left in files.remove_temporaries(folder):
            log.info("%s: removed %s, left by an interrupted run", shown(plan.meta), left.relative_to(folder))
        log.info("%s: rescan of page %s", shown(plan.meta), ", ".join(map(str, plan.replaces)))
        plan.pages = rescan.numbered(plan)
        ingest_date(folder)
        job = ItemRun(index, plan, profile, folder, [None] * len(plan.pages), rescan=job_rescan)
        self.waiting.extend((job, number) for number in range(len(plan.pages)))

    def claimed_elsewhere(self, plan: intake.ItemPlan, folder: Path, earlier: ItemRecord | None) -> str | None:
        """Why this item may not take its id: the library already has an item stored under it from
        other page images or from another batch (replacing one needs --new-version)."""
        meta = plan.meta
        other_batch = ledger.stored_from(self.session, meta.library, meta.id)
        moved = other_batch is not None and Path(other_batch).resolve() != self.request.batch.resolve()
        differs = pipeline.stored_from_other_pages(folder, plan.pages)
        if not differs and not (moved and earlier is None):
            return None
        if differs and not moved:  # its own folder gained, lost or changed pages since it was stored
            stored = pipeline.read_record(folder)
            return (f"{meta.id} was stored with {len(stored.pages)} pages; its folder {plan.folder} now has "
                    f"{len(plan.pages)} ({pipeline.page_changes(stored, plan.pages)}). The stored copy is left "
                    "as it is and nothing of this folder is stored: if the folder is right, run the batch "
                    "again with --new-version (the stored copy is kept as a previous version); if not, "
                    "put the pages back as they were")
        return (f"the id {meta.id} is already used by an item stored for library {meta.library}, from "
                f"{'the batch ' + other_batch if other_batch else 'an earlier run'} with other page images; "
                f"this item ({plan.folder}) is not stored under it. Give this item its own id; or, if it "
                "replaces the stored one, run again with --new-version (the stored copies are kept as a "
                "previous version)")

    def resume(self, index: int, plan: intake.ItemPlan, folder: Path, earlier: ItemRecord) -> None:
        """An item an earlier run finished: described anew if its metadata changed, else skipped (its
        stored copy checked, or stored now if it was not)."""
        progress.report("page", len(plan.pages))
        description = pipeline.describe(plan.meta, self.catalogue)
        changed = pipeline.metadata_changes(earlier, plan.meta, description)
        if changed and self.reviewed_when_stored(plan):
            log.info("%s: metadata changed (%s), made again from its pages keeping what reviewers corrected, "
                     "stored as a new version", shown(plan.meta), ", ".join(changed))
            request = self.request
            profile = get_profile(request.profiles, plan.meta.profile or request.default_profile)
            self.submit("assemble-item", f"assemble {item_name(plan.meta, plan.folder, index + 1)}", assemble_again,
                        (plan, self.catalogue, profile, earlier.pages, folder, ingest_date(folder),
                         self.store.url(pipeline.item_key(plan.meta)), request.store_url, request.multipart_mb),
                        lambda future: self.assembled(index, plan, folder, [], future))
            return
        if changed:
            log.info("%s: metadata changed (%s), stored again as a new version", shown(plan.meta),
                     ", ".join(changed))
            self.submit("update-item", f"update {item_name(plan.meta, plan.folder, index + 1)}",
                        pipeline.redescribe_item,
                        (earlier, plan.meta, description, folder, changed),
                        lambda future: self.assembled(index, plan, folder, [], future))
            return
        log.info("%s already done, skipped", shown(plan.meta))
        self.untouched.add(index)
        if earlier.stored is not None:
            self.check_stored(index, plan, folder, earlier)
        else:
            self.submit_store(index, folder, earlier)

    def reviewed_when_stored(self, plan: intake.ItemPlan) -> bool:
        """Whether the item's stored version has a page a reviewer corrected (its metadata changing
        then makes it again from its pages, so the correction stays: describing it anew would store
        the output folder's uncorrected text)."""
        key = pipeline.item_key(plan.meta)
        try:
            return any(pipeline.corrected(self.store.read_bytes(f"{key}/{page.files['alto'][0]}"))
                       for page in pipeline.stored_pages(self.store, key).values() if "alto" in page.files)
        except DigitizeError:  # the store does not answer: described anew, as before
            return False

    def check_stored(self, index: int, plan: intake.ItemPlan, folder: Path, earlier: ItemRecord) -> None:
        """An item stored by an earlier run: the store may have lost objects since (one HEAD each),
        which are sent again from the local copies."""
        result, lost = earlier.result, []
        try:
            lost = storage.missing(self.store, pipeline.item_key(plan.meta), earlier.stored.objects)
        except DigitizeError as exc:  # the stored copy stands; the next run checks it again
            result = with_problem(result, Status.ok, f"the store could not be checked: {exc.message}",
                                  Severity.warning)
        gone = [name for name in lost if not (folder / name).is_file()]
        if gone:
            self.results[index] = (with_problem(result, Status.failed, (
                f"{len(gone)} objects missing from the store are gone from the output folder too "
                f"({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}); restore {folder} from a "
                "backup and run again, or move it aside and run again with --new-version to make the "
                "item anew")), None)
        elif lost:
            self.submit_store(index, folder, earlier)
        else:
            self.results[index] = (result, earlier.stored)

    def hand_over(self) -> None:
        """The next waiting page to the runner."""
        if not self.waiting:
            return
        job, number = self.waiting.popleft()
        if number == 0:
            job.began = time.monotonic()
            progress.report("item", name=shown(job.plan.meta))
        if self.first_page is None:
            self.first_page = datetime.now(timezone.utc)
        source = job.plan.pages[number]
        self.submit("page", f"{shown(job.plan.meta, job.index + 1)} page {source.number}", page,
                    (job.plan.meta.id, source, job.profile, job.folder, self.request.ocr_timeout),
                    lambda future: self.page_done(job, number, future))

    def page_done(self, job: ItemRun, number: int, future) -> None:
        """A page is back: hand the next one over; the item's last page starts its assembly."""
        source = job.plan.pages[number]
        try:
            job.outcomes[number] = future.result()
        except Exception as exc:  # a crash on one page must not stop the batch
            fault = environment_fault(exc)
            if fault is not None:
                return self.stop(fault)  # the item is left for the next run, not failed
            job.outcomes[number] = Problem(item=job.plan.meta.id, file=source.name, path=source.path,
                                           reason=failure_reason(exc, "processing"))
        progress.report("page")
        if self.runner.window is not None:
            self.hand_over()
        if None not in job.outcomes and not self.stopped:
            self.pages_done(job)

    def pages_done(self, job: ItemRun) -> None:
        """All pages of an item are back: assemble it (on the runner, beside the next pages)."""
        plan = job.plan
        records = [o for o in job.outcomes if isinstance(o, PageRecord)]
        problems = list(plan.problems) + [o for o in job.outcomes if isinstance(o, Problem)]
        if any(p.severity == Severity.error for p in problems):
            self.results[job.index] = (self.failed(plan, problems), None)
            return
        base, request = self.store.url(pipeline.item_key(plan.meta)), self.request
        work, first = (assemble_rescan, (job.rescan, plan)) if job.rescan else (assemble, (plan,))
        self.submit("assemble-item", f"assemble {item_name(plan.meta, plan.folder, job.index + 1)}", work,
                    (*first, self.catalogue, job.profile, records, job.folder, problems,
                     time.monotonic() - job.began, ingest_date(job.folder), base, request.store_url,
                     request.multipart_mb),
                    lambda future: self.assembled(job.index, plan, job.folder, problems, future))

    def assembled(self, index: int, plan: intake.ItemPlan, folder: Path, problems: list[Problem], future) -> None:
        """An item is assembled (or described anew): store it."""
        try:
            record = future.result()
        except Exception as exc:  # a failed assembly fails its item, not the batch
            fault = environment_fault(exc)
            if fault is not None:
                return self.stop(fault)
            problem = Problem(item=plan.meta.id, reason=failure_reason(exc, "assembly"))
            self.results[index] = (self.failed(plan, problems + [problem]), None)
            return
        if not self.stopped:
            self.submit_store(index, folder, record)

    def submit_store(self, index: int, folder: Path, record: ItemRecord) -> None:
        request = self.request
        self.submit("store-item", f"store {item_name(record.metadata, self.plans[index].folder, index + 1)}", store,
                    (record, folder, request.store_url, request.multipart_mb,
                     request.new_version or record.new_version),
                    lambda future: self.stored(index, record, future))

    def stored(self, index: int, record: ItemRecord, future) -> None:
        """An item is stored (or waits for the store): its result."""
        try:
            self.results[index] = future.result()
        except Exception as exc:  # store() reports the store's own errors; this is a bug
            fault = environment_fault(exc)
            if fault is not None:
                return self.stop(fault)
            self.results[index] = (with_problem(record.result, Status.failed, failure_reason(exc, "storing")), None)

    def failed(self, plan: intake.ItemPlan, problems: list[Problem]) -> ItemResult:
        """Record a failed item; its quarantine entry says why, with a copy of each bad file."""
        quarantined = None
        if any(problem.severity == Severity.error for problem in problems):
            quarantined = pagefiles.quarantine_item(self.quarantine, plan.folder, plan.label, problems)
        meta = plan.meta
        return ItemResult(item_id=plan.label, library=meta.library if meta else "", status=Status.failed,
                          secret=meta is not None and meta.access == Access.secret, pages=len(plan.pages),
                          problems=problems, quarantine=quarantined and str(quarantined))
