"""Prefect flow `digitize-batch`: the library's batch engine (digitize.engine.batch) with every intake, page,
assembly and storage as a Prefect task, on threads or on Dask (DIGITIZE_DASK / `--dask`). Its run
form speaks to operators in Vietnamese and English, with this server's defaults; a run with items
not stored ends Failed; each item's outcome and reasons go to the run's logs and, in Vietnamese
and English, to the `batch-summary` artifact (digitize.engine.public_summary); the quota progress
is a table artifact."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger, runtime
from prefect.client.schemas.objects import State
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from digitize.core.i18n import N_, Text, bilingual
from digitize.engine import public_summary
from digitize.ledger import database as ledger, quota
from digitize.engine.batch import BatchRequest, run_batch
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
    """A table of quota progress and the run's items with their reasons in Vietnamese and English
    (no titles, and secret items without their ids: they are never named in anything public)."""
    from prefect.artifacts import create_markdown_artifact

    publish_quota(rows, "Quota progress after this run")
    create_markdown_artifact(markdown=public_summary.markdown(summary), key="batch-summary",
                             description=bilingual(N_("Items of this run, with the reasons of those not stored")))


class ItemsNotStored(Exception):
    """The data of a run that ended Failed for its items: its message the state's (counts and
    reasons, secret items unnamed: Prefect logs it), ``summary`` the run's summary."""

    def __init__(self, message: str, summary: BatchSummary | None = None):
        super().__init__(message)
        self.summary = summary

    def __reduce__(self):
        return type(self), (str(self), self.summary)


def batch_summary(state: State) -> BatchSummary:
    """The summary of a digitize-batch run from its final state, Completed or Failed for its items;
    the error that ended a run before its summary (another run has the batch, a wrong setting) is
    raised again."""
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, ItemsNotStored) and outcome.summary is not None:
        return outcome.summary
    if isinstance(outcome, BatchSummary):
        return outcome
    return state.result()


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


def field(title: Text, description: Text, *default, **constraints):
    """A parameter of the run form: its title and description in Vietnamese and English."""
    return Field(*default, description=bilingual(description),
                 json_schema_extra={"title": bilingual(title)}, **constraints)


SETTINGS = get_settings()  # the defaults the form shows: this server's settings

DESCRIPTION = N_(
    "Turns a batch of scanned items into searchable PDF/A with Vietnamese text, stores them and counts "
    "them in the quota ledger. Give the batch folder; the other fields hold this server's defaults. A "
    "run with items that could not be stored ends as Failed: the Logs tab and the batch-summary "
    "artifact (Artifacts tab) say which items and why, and the bad files are copied to the quarantine "
    "({quarantine}) with their reasons. Run the same batch again once they are fixed: what is done is "
    "not done again.", quarantine=str(SETTINGS.out / "_quarantine"))


@flow(name="digitize-batch", task_runner=task_runner(SETTINGS.dask), log_prints=True,
      description=bilingual(DESCRIPTION, "\n\n"))
def digitize_batch(
        batch: Path = field(N_("Batch folder"), N_(
            "The folder holding one sub-folder per item (its page images and item.toml, or a row of the "
            "batch's items.csv), for example a batch in the inbox: {example}",
            example=str(SETTINGS.data / "inbox" / "lo-2026-03"))),
        profile: MaterialProfile = field(N_("Material profile"), N_(
            "How the pages of the items whose metadata names no profile are cleaned and read (script, "
            "period, layout)."), SETTINGS.default_profile),
        library: str = field(N_("Library code"), N_(
            "Library code for the items whose metadata names none, for example HD-TV. Left empty: each "
            "item's own."), ""),
        workers: Annotated[int, Field(ge=1)] = field(N_("Pages at once"), N_(
            "Pages worked on at the same time (this server's DIGITIZE_WORKERS, else its number of CPU "
            "cores)."), SETTINGS.workers),
        out: str = field(N_("Output folder"), N_(
            "Where the outputs, the reports and the quarantine go. Left empty: {default}",
            default=str(SETTINGS.out)), ""),
        new_version: bool = field(N_("Store changed items as new versions"), N_(
            "Store an item whose pages or metadata changed over its stored copy, keeping that as a previous "
            "version. Off: such an item is refused with its reason."), False),
        dpi: Annotated[int, Field(ge=0, le=4800)] = field(N_("Scan resolution (dpi)"), N_(
            "For the items whose metadata states none, when the page files record none or a wrong one. 0: "
            "from the files, else estimated from the pages."), 0),
) -> BatchSummary:
    """The library's batch engine as this flow (its form: the parameters' fields; the operators'
    description: DESCRIPTION). Ends Failed when an item was not stored (batch_summary reads it)."""
    settings = get_settings()
    chosen = profile.value if isinstance(profile, Enum) else profile
    request = BatchRequest.make(Path(batch), settings, Path(out) if out else None, chosen, library or None,
                                workers, new_version, dpi or None)
    summary = run_batch(request, PrefectRunner(request.workers), str(runtime.flow_run.id or ""))
    logger = get_run_logger()
    for level, line in public_summary.log_lines(summary):
        logger.log(level, "%s", line)
    try:
        publish_artifacts(quota_rows(request, summary), summary)
    except Exception as exc:  # artifacts are for watching: the batch's outputs stand without them
        logger.warning("artifacts not published: %s", exc)
    failure = public_summary.failure_message(summary)
    return summary if failure is None else Failed(message=failure, data=ItemsNotStored(failure, summary))
