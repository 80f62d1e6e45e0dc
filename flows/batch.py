"""Prefect flow `digitize-batch`: the library's batch engine (digitize.engine.batch) with every intake, page,
assembly and storage as a Prefect task, on threads or on Dask (DIGITIZE_DASK / `--dask`); the
run's summary and the quota progress as artifacts."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from prefect import flow, get_run_logger, runtime
from prefect.task_runners import ThreadPoolTaskRunner

from digitize.ledger import database as ledger, quota
from digitize.engine.batch import BatchRequest, run_batch, shown
from digitize.core.errors import DigitizeError
from digitize.core.models import BatchSummary
from digitize.ledger.plans import load_plans
from digitize.core.profiles import load_profiles
from digitize.core.settings import get_settings
from flows.runners import PrefectRunner

POOL = 32  # threads; the engine hands over `workers` pages at a time


def _profile_names() -> type[Enum]:
    """The material profiles, as a choice list in the Prefect UI's form."""
    try:
        names = sorted(load_profiles(get_settings().profiles))
    except DigitizeError:  # reported when a run starts; the flow must still import
        names = [get_settings().default_profile]
    return Enum("MaterialProfile", {name: name for name in names}, type=str)


MaterialProfile = _profile_names()


def publish_quota(rows: list, description: str) -> None:
    """Quota progress per library and category as the Prefect table artifact `quota-progress`."""
    from prefect.artifacts import create_table_artifact

    table = [{"library": r.library, "category": r.category, "holdings": r.holdings, "digitized": r.digitized,
              "percent": r.percent, "target": r.target, "met": r.met, "pace_per_month": r.pace,
              "projected": str(r.projected or "not at this pace")} for r in rows]
    create_table_artifact(table=table, key="quota-progress", description=description)


def quota_rows(request: BatchRequest, summary: BatchSummary) -> list:
    """Quota progress of the libraries the run touched."""
    libraries = sorted({item.library for item in summary.items if item.library})
    session = ledger.open_ledger(request.ledger_url)
    try:
        plans = load_plans(request.profiles)
        return [r for library in libraries for r in quota.progress(session, plans, summary.finished.date(),
                                                                   library=library)]
    finally:
        session.close()
        session.get_bind().dispose()


def publish_artifacts(rows: list, summary: BatchSummary) -> None:
    """A table of quota progress and a markdown summary of the run (no titles, and secret items
    without their ids: they are never named in anything public)."""
    from prefect.artifacts import create_markdown_artifact

    publish_quota(rows, "Quota progress after this run")
    lines = ["| item | status | pages |", "|---|---|---|"] + [
        f"| {shown(item)} | {item.status.value} | {item.pages} |" for item in summary.items]
    create_markdown_artifact(markdown="\n".join(["# Batch run", *lines]), key="batch-summary",
                             description="Items of this run")


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


@flow(name="digitize-batch", task_runner=task_runner(get_settings().dask), log_prints=True)
def digitize_batch(batch: Path, profile: MaterialProfile | None = None, library: str | None = None,
                   workers: int | None = None, out: Path | None = None, new_version: bool = False,
                   dpi: int | None = None) -> BatchSummary:
    """Turn a batch of scanned items into searchable PDF/A with Vietnamese text.

    Args:
        batch: Folder holding one sub-folder per item (page images and item.toml, or a batch
            items.csv), e.g. a batch in the inbox.
        profile: Material profile for the items that name none (default: quoc-ngu-modern).
        library: Library code for the items that name none, e.g. HD-TV.
        workers: Pages worked on at once (default: DIGITIZE_WORKERS, the number of CPU cores).
        out: Output folder (default: $DIGITIZE_DATA/out).
        new_version: Store changed items over their stored copies, keeping those as previous versions.
        dpi: Scan resolution of the items whose metadata states none (for page files that record
            none or a wrong one; default: from the files, else estimated from the pages).
    """
    settings = get_settings()
    chosen = profile.value if isinstance(profile, Enum) else profile
    request = BatchRequest.make(Path(batch), settings, out, chosen, library, workers, new_version, dpi)
    summary = run_batch(request, PrefectRunner(request.workers), str(runtime.flow_run.id or ""))
    logger = get_run_logger()
    for item in summary.items:
        logger.info("%s: %s, %d pages, confidence %s", shown(item), item.status.value, item.pages,
                    item.mean_confidence)
    try:
        publish_artifacts(quota_rows(request, summary), summary)
    except Exception as exc:  # artifacts are for watching: the batch's outputs stand without them
        logger.warning("artifacts not published: %s", exc)
    return summary
