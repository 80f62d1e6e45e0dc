"""Prefect flow `digitize-batch`: one flow run per batch (locked in the ledger), one task per item
intake, per page and per item assembly and storage; pages on threads, or on Dask with
DIGITIZE_DASK / `--dask`. The work itself lives in digitize.ingest / digitize.pipeline."""

from __future__ import annotations

import os
import queue
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner

from digitize import ingest, ledger, marc, ocr, package, pipeline, progress, quota, storage
from digitize.errors import BadInput, DigitizeError
from digitize.models import BatchSummary, ItemResult, PageRecord, PageSource, Problem, Profile
from digitize.plans import load_plans
from digitize.profiles import get_profile, load_profiles
from digitize.settings import get_settings

POOL = 32  # threads; the flow hands over `workers` pages at a time


@task(name="ingest-item", cache_policy=NO_CACHE)
def ingest_item(folder: Path, batch: Path, csv_row: dict | None, default_profile: str,
                profiles: Path, max_pixels: int, defaults: dict) -> ingest.ItemPlan:
    return ingest.plan_item(folder, batch, csv_row,
                            lambda meta: get_profile(profiles, meta.profile or default_profile), max_pixels, defaults)


def _profile_names() -> type[Enum]:
    """The material profiles, as a choice list in the Prefect UI's form."""
    try:
        names = sorted(load_profiles(get_settings().profiles))
    except DigitizeError:  # reported when a run starts; the flow must still import
        names = [get_settings().default_profile]
    return Enum("MaterialProfile", {name: name for name in names}, type=str)


MaterialProfile = _profile_names()


@task(name="page", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
      task_run_name="{item_id} page {page.number}")
def page_task(item_id: str, page: PageSource, profile: Profile, folder: Path) -> PageRecord | Problem:
    """Returns a Problem for a bad page; raises (and is retried) on tool failures."""
    try:
        return pipeline.process_page(page, profile, folder)
    except BadInput as exc:
        return Problem(item=item_id, file=page.name, reason=exc.message, path=page.path)


@task(name="assemble-item", cache_policy=NO_CACHE, task_run_name="assemble {plan.label}")
def assemble_task(plan: ingest.ItemPlan, catalogue: list, profile: Profile, records: list[PageRecord],
                  folder: Path, problems: list[Problem], seconds: float, ingested: str, base: str) -> ItemResult:
    description = pipeline.describe(plan.meta, catalogue)
    return pipeline.assemble_item(plan.meta, description, profile, plan.pages, records, folder, problems,
                                  seconds, ingested, base)


@task(name="store-item", cache_policy=NO_CACHE, task_run_name="store {meta.id}")
def store_task(meta, folder: Path, result: ItemResult, store_url: str, multipart_mb: int,
               new_version: bool) -> ItemResult:
    """Push a finished item; if the store stays unreachable the item waits for the next run."""
    store = storage.open_store(store_url, multipart_mb << 20)
    try:
        url, sent = pipeline.store_item(meta, folder, store, new_version)
    except storage.StorageUnavailable as exc:
        problem = Problem(item=meta.id, reason=f"waiting for storage: {exc.message}", severity="warning")
        return result.model_copy(update={"status": "waiting", "problems": result.problems + [problem]})
    except DigitizeError as exc:
        return result.model_copy(update={"status": "failed", "problems": result.problems + [
            Problem(item=meta.id, reason=exc.message)]})
    pipeline.mark_stored(folder, url)
    get_run_logger().info("%s stored at %s (%d objects sent)", meta.id, url, sent)
    return result.model_copy(update={"status": "ok", "stored": url})


@task(name="record-run", cache_policy=NO_CACHE)
def record_task(batch: str, started: datetime, finished: datetime, items: list) -> list[Problem]:
    """Count the run in the quota ledger and publish the quota of the libraries it touched as
    Prefect artifacts. A ledger that cannot be reached is reported; the outputs stand."""
    settings = get_settings()
    session = None
    try:
        session = ledger.open_ledger(settings.ledger_url)
        notes = ledger.record_run(session, batch, started, finished, items)
        libraries = sorted({meta.library for meta, _, _ in items})
        rows = [r for library in libraries
                for r in quota.progress(session, load_plans(settings.profiles), finished.date(), library=library)]
    except Exception as exc:  # the ledger is bookkeeping: a failure there must not undo the batch
        return [Problem(item=Path(batch).name, reason=f"quota ledger not updated: {exc}", severity="warning")]
    finally:
        if session is not None:
            session.close()
            session.get_bind().dispose()
    publish_artifacts(rows, items)
    return [Problem(item=Path(batch).name, reason=note, severity="warning") for note in notes]


def publish_quota(rows: list, description: str) -> None:
    """Quota progress per library and category as the Prefect table artifact `quota-progress`."""
    from prefect.artifacts import create_table_artifact

    table = [{"library": r.library, "category": r.category, "holdings": r.holdings, "digitized": r.digitized,
              "percent": r.percent, "target": r.target, "met": r.met, "pace_per_month": r.pace,
              "projected": str(r.projected or "not at this pace")} for r in rows]
    create_table_artifact(table=table, key="quota-progress", description=description)


def publish_artifacts(rows: list, items: list) -> None:
    """A table of quota progress and a markdown summary of the run (no titles: secret items are
    never named in anything public)."""
    from prefect.artifacts import create_markdown_artifact

    publish_quota(rows, "Quota progress after this run")
    lines = ["| item | status | pages |", "|---|---|---|"] + [
        f"| {meta.id} | {result.status} | {result.pages} |" for meta, result, _ in items]
    create_markdown_artifact(markdown="\n".join(["# Batch run", *lines]), key="batch-summary",
                             description="Items of this run")


def read_catalogue(batch: Path) -> tuple[list, list[Problem]]:
    """Every MARC21 record the batch carries; a file that cannot be read is reported."""
    records, problems = [], []
    for path in ingest.catalogue_files(batch):
        try:
            records += marc.read_records(path)
        except BadInput as exc:
            problems.append(Problem(item=batch.name, file=path.name, reason=exc.message))
    return records, problems


def _failed(plan: ingest.ItemPlan, problems: list[Problem], quarantine: Path) -> ItemResult:
    """Record a failed item; copy what made it fail into the quarantine with the reason."""
    for problem in problems:
        if problem.severity == "error":
            # a bad page is copied alone; an item that cannot be read at all, whole
            ingest.quarantine(quarantine, plan.label, problem.path or plan.folder, problem.reason)
    return ItemResult(item_id=plan.label, library=plan.meta.library if plan.meta else "", status="failed",
                      pages=len(plan.pages), problems=problems)


def task_runner(dask: str = "", workers: int | None = None):
    """Threads in this process by default; with ``dask``, a local Dask cluster ("local") or the
    scheduler at that address (the workers must see the batch and output folders at the same paths)."""
    if not dask:
        return ThreadPoolTaskRunner(max_workers=POOL)
    from prefect_dask import DaskTaskRunner

    if dask == "local":
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers or get_settings().workers,
                                              "threads_per_worker": 1, "processes": True})
    return DaskTaskRunner(address=dask)


@dataclass
class ItemRun:
    """An item whose pages are being worked on."""

    index: int
    plan: ingest.ItemPlan
    profile: Profile
    folder: Path
    futures: list
    began: float
    left: int


def _ingest_date(folder: Path) -> str:
    """When the item's intake first began: a run that resumes the item keeps the first run's date."""
    path = folder / pipeline.WORK / "ingested"
    if not path.exists():
        pipeline.write_atomic(path, package.now())
    return path.read_text(encoding="utf-8").strip()


def _finish_item(job: ItemRun, catalogue: list, store, quarantine: Path, new_version: bool) -> ItemResult:
    """Collect an item's pages, then assemble and store it."""
    settings, plan = get_settings(), job.plan
    records, problems = [], list(plan.problems)
    for page, future in zip(plan.pages, job.futures):
        try:
            outcome = future.result()
        except DigitizeError as exc:
            outcome = Problem(item=plan.meta.id, file=page.name, reason=exc.message, path=page.path)
        except Exception as exc:  # a crash on one page must not stop the batch
            outcome = Problem(item=plan.meta.id, file=page.name, reason=f"processing failed: {exc!r}", path=page.path)
        (problems if isinstance(outcome, Problem) else records).append(outcome)
    if any(p.severity == "error" for p in problems):
        return _failed(plan, problems, quarantine)
    try:
        base = store.url(pipeline.item_key(plan.meta))
        done = assemble_task(plan, catalogue, job.profile, records, job.folder, problems,
                             time.monotonic() - job.began, _ingest_date(job.folder), base)
        return store_task(plan.meta, job.folder, done, settings.store_url, settings.multipart_mb, new_version)
    except DigitizeError as exc:
        problems.append(Problem(item=plan.meta.id, reason=exc.message))
        return _failed(plan, problems, quarantine)


@flow(name="digitize-batch", task_runner=task_runner(get_settings().dask), log_prints=True)
def digitize_batch(batch: Path, profile: MaterialProfile | None = None, library: str | None = None,
                   workers: int | None = None, out: Path | None = None, new_version: bool = False) -> BatchSummary:
    """Turn a batch of scanned items into searchable PDF/A with Vietnamese text.

    Args:
        batch: Folder holding one sub-folder per item (page images and item.toml, or a batch
            items.csv), e.g. a batch in the inbox.
        profile: Material profile for the items that name none (default: quoc-ngu-modern).
        library: Library code for the items that name none, e.g. HD-TV.
        workers: Pages worked on at once (default: DIGITIZE_WORKERS, the number of CPU cores).
        out: Output folder (default: $DIGITIZE_DATA/out).
        new_version: Store changed items over their stored copies, keeping those as previous versions.
    """
    settings = get_settings()
    batch, out = Path(batch), Path(out or settings.out)
    default_profile = profile.value if isinstance(profile, Enum) else profile or settings.default_profile
    get_profile(settings.profiles, default_profile)  # an unknown profile stops the run before any work
    store = storage.open_store(settings.store_url)  # so does a wrong store setting
    key = str(batch.resolve())
    session = ledger.open_ledger(settings.ledger_url)
    try:
        ledger.lock_batch(session, key, str(runtime.flow_run.id or ""))
        defaults = {"library": library} if library else {}
        return _process(batch, out, default_profile, defaults, store, workers or settings.workers, new_version)
    finally:
        ledger.unlock_batch(session, key, os.getpid())
        session.close()
        session.get_bind().dispose()


def _process(batch: Path, out: Path, default_profile: str, defaults: dict, store, workers: int,
             new_version: bool) -> BatchSummary:
    settings, logger = get_settings(), get_run_logger()
    started = datetime.now(timezone.utc)
    quarantine = out / "_quarantine" / batch.name
    found, batch_problems = ingest.find_items(batch)
    catalogue, catalogue_problems = read_catalogue(batch)
    batch_problems += catalogue_problems
    plans = [f.result() for f in [ingest_item.submit(folder, batch, row, default_profile, settings.profiles,
                                                     settings.max_pixels, defaults) for folder, row in found]]
    for problem in batch_problems:
        logger.warning("%s: %s", problem.file or problem.item, problem.reason)
    for name in {plan.meta.profile or default_profile for plan in plans if plan.ok}:
        ocr.check_languages(get_profile(settings.profiles, name).languages)  # missing data stops the run here

    results: dict[int, ItemResult] = {}
    waiting: deque[tuple[ItemRun, int]] = deque()  # pages not yet handed to the task runner, in batch order
    progress.report("total", sum(len(p.pages) for p in plans if p.ok))
    for index, plan in enumerate(plans):
        if not plan.ok:
            results[index] = _failed(plan, plan.problems, quarantine)
            continue
        item_profile = get_profile(settings.profiles, plan.meta.profile or default_profile)
        folder = pipeline.item_dir(out, plan.meta)
        earlier = pipeline.finished_item(folder, plan.pages)
        if earlier is not None:
            logger.info("%s already done, skipped", plan.meta.id)
            progress.report("page", len(plan.pages))
            results[index] = earlier if earlier.stored else store_task(
                plan.meta, folder, earlier, settings.store_url, settings.multipart_mb, new_version)
            continue
        _ingest_date(folder)
        job = ItemRun(index, plan, item_profile, folder, [None] * len(plan.pages), time.monotonic(), len(plan.pages))
        waiting.extend((job, number) for number in range(len(plan.pages)))

    # Threads: only `workers` pages are handed over at a time, so the Prefect UI shows as running
    # exactly the pages being worked on. Dask gets them all and spreads them over its workers.
    finished_pages: queue.SimpleQueue = queue.SimpleQueue()
    owners: dict = {}

    def hand_over() -> None:
        job, number = waiting.popleft()
        if number == 0:
            job.began = time.monotonic()
        future = page_task.submit(job.plan.meta.id, job.plan.pages[number], job.profile, job.folder)
        job.futures[number], owners[future] = future, job
        future.add_done_callback(finished_pages.put)

    on_threads = isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner)
    pages = len(waiting)
    for _ in range(min(workers, pages) if on_threads else pages):
        hand_over()
    for _ in range(pages):  # an item is assembled as soon as its last page is done
        job = owners[finished_pages.get()]
        if waiting:
            hand_over()
        progress.report("page")
        job.left -= 1
        if job.left == 0:
            results[job.index] = _finish_item(job, catalogue, store, quarantine, new_version)

    finished = datetime.now(timezone.utc)
    counted = [(plans[i].meta, results[i], pipeline.item_dir(out, plans[i].meta))
               for i in sorted(results) if plans[i].meta is not None]
    batch_problems += record_task(str(batch), started, finished, counted)
    summary = BatchSummary(batch=str(batch), started=started, finished=finished,
                           items=[results[i] for i in sorted(results)], problems=batch_problems)
    report = out / "_reports" / f"{batch.name}-{started:%Y%m%dT%H%M%S}.json"
    pipeline.write_atomic(report, summary.model_dump_json(indent=1))
    for item in summary.items:
        logger.info("%s: %s, %d pages, confidence %s", item.item_id, item.status, item.pages, item.mean_confidence)
    return summary
