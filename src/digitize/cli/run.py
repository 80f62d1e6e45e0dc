"""Running batches: `digitize run` (the engine in this process, or the digitize-batch Prefect flow),
`digitize serve` (the Prefect deployments) and `digitize unlock` (a batch's run lock). The only
module of digitize that imports flows, and only inside the commands."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Optional

import typer

from digitize.cli.language import _, described
from digitize.cli.output import RunProgress, console, plain_output, print_summary
from digitize.core import progress
from digitize.core.errors import BadInput, ExitCode, ToolError
from digitize.core.i18n import N_
from digitize.core.models import BatchSummary


@described(_("Digitize the batch BATCH, with progress and a summary."))
def run(batch: Path = typer.Argument(..., help=_("batch folder: one sub-folder per item")),
        out: Optional[Path] = typer.Option(None, "--out", help=_("output folder [default: $DIGITIZE_DATA/out]")),
        profile: Optional[str] = typer.Option(None, "--profile",
                                              help=_("material profile for items that name none "
                                                     "[default: DIGITIZE_DEFAULT_PROFILE, else quoc-ngu-modern]")),
        library: Optional[str] = typer.Option(None, "--library", help=_("library code for items that name none")),
        workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                              help=_("pages at once [default: DIGITIZE_WORKERS, else CPU cores]")),
        new_version: bool = typer.Option(False, "--new-version",
                                         help=_("store changed items, keeping the stored copies as previous "
                                                "versions")),
        dpi: Optional[int] = typer.Option(None, "--dpi", min=50, max=4800,
                                          help=_("scan resolution of the items whose metadata states none (for files "
                                                 "that record none or a wrong one) [default: from the files]")),
        dask: Optional[str] = typer.Option(None, "--dask", help=_("run the pages on Dask: 'local' (a local cluster, "
                                           "--workers single-threaded workers) or a scheduler address "
                                           "tcp://HOST:8786 [default: DIGITIZE_DASK, else threads]")),
        prefect: bool = typer.Option(False, "--prefect", help=_("run as the digitize-batch Prefect flow, shown in "
                                     "the Prefect UI [default: when PREFECT_API_URL is set]")),
        plain: bool = typer.Option(False, "--plain", help=_("output for a log: one line per item, nothing cut or "
                                   "wrapped, no progress bar [default: when the output is not a terminal]")),
        ) -> None:
    import time

    started = time.monotonic()
    from digitize.capture import ocr
    from digitize.engine.batch import BatchRequest
    from digitize.core.profiles import get_profile
    from digitize.core.settings import get_settings

    if not batch.is_dir():  # mistakes on the command line are reported before any work
        raise BadInput(N_("batch folder not found"), str(batch),
                       N_("give the path of a folder holding one folder per item"))
    settings = get_settings()
    request = BatchRequest.make(batch, settings, out, profile, library, workers, new_version, dpi)
    ocr.check_languages(get_profile(request.profiles, request.default_profile).all_languages)
    dask = dask or settings.dask
    plain = plain_output(plain)
    shown = RunProgress(plain)
    progress.listen(shown.on_event)
    try:
        if prefect or os.environ.get("PREFECT_API_URL"):
            summary = _run_flow(request, dask, shown)
        else:
            summary = _run_engine(request, dask, shown)
    finally:
        progress.forget(shown.on_event)
    print_summary(summary, time.monotonic() - started, plain, _rerun(batch, out, profile, library, dpi))
    if summary.stopped:
        raise typer.Exit(summary.stop_code)
    if not summary.ok:
        raise typer.Exit(int(ExitCode.batch_incomplete))


def _rerun(batch: Path, out: Path | None, profile: str | None, library: str | None, dpi: int | None) -> str:
    """The command that runs the batch again as this run did (the options that decide its items)."""
    options = [("--out", out), ("--profile", profile), ("--library", library), ("--dpi", dpi)]
    return shlex.join(["digitize", "run", str(batch), *(str(x) for name, value in options if value is not None
                                                       for x in (name, value))])


def _run_engine(request, dask: str, shown: RunProgress) -> BatchSummary:
    """The engine in this process: threads, or Dask workers."""
    import gc

    from digitize.engine.batch import run_batch
    from digitize.engine.runner import ThreadRunner

    if dask:
        from flows.runners import DaskRunner

        runner = DaskRunner(dask, request.workers)
    else:
        runner = ThreadRunner(request.workers)
    # The modules imported by now live as long as the process: kept out of the garbage collector,
    # they cost nothing at each collection and less at exit.
    gc.freeze()
    try:
        with shown:
            return run_batch(request, runner)
    finally:
        runner.close()


def _run_flow(request, dask: str, shown: RunProgress) -> BatchSummary:
    """The digitize-batch flow, against PREFECT_API_URL (or a temporary Prefect server)."""
    import gc

    if not os.environ.get("PREFECT_API_URL"):
        console.print(_("No PREFECT_API_URL set: the flow runs on a temporary Prefect server (about 15 s to "
                        "start)."), style="dim", markup=False)
        # Prefect waits 20 s for it, which a busy machine needs more than
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # Prefect's console shows its warnings only; the flow's own lines go to the server (this command
    # prints the summary itself, and the progress bar stays whole).
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from flows.batch import batch_summary, digitize_batch, task_runner

    _keep_run_logs_off_the_console()
    gc.freeze()
    flow = digitize_batch.with_options(task_runner=task_runner(dask, request.workers)) if dask else digitize_batch
    with shown:
        try:
            state = flow(batch=request.batch, out=str(request.out), profile=request.default_profile,
                         library=request.library or "", workers=request.workers, new_version=request.new_version,
                         dpi=request.dpi or 0, return_state=True)
        except RuntimeError as exc:
            if "ephemeral Prefect API server" not in str(exc):
                raise
            seconds = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "20")
            raise ToolError(N_("the temporary Prefect server did not start within {seconds} s (a busy machine?)",
                               seconds=seconds), None,
                            N_("run again, or set PREFECT_API_URL to a running Prefect server (prefect server "
                               "start), or run without --prefect")) from None
    return batch_summary(state)


def _keep_run_logs_off_the_console() -> None:
    """The flow's and its tasks' log lines (an item failed, the run ended Failed) reach the Prefect
    server and not this terminal, where the summary says the same."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    def not_a_run_line(record: logging.LogRecord) -> bool:
        # a fault is said once, by this command, in plain words: Prefect's tracebacks of it and its
        # services' shutdown chatter ("Still processing items") stay with the server and the log
        return not (record.name.startswith(("prefect.flow_runs", "prefect.task_runs", "prefect._internal"))
                    or record.exc_info or record.levelno >= logging.ERROR)

    loggers = [logging.getLogger(), *(logger for logger in logging.root.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    for handler in {handler for logger in loggers for handler in logger.handlers}:
        if isinstance(handler, PrefectConsoleHandler):
            handler.addFilter(not_a_run_line)


@described(_("Serve the Prefect deployments (digitize-batch, nightly-inbox at 01:00 Asia/Ho_Chi_Minh, "
               "quota-report weekly, fixity-audit weekly, ledger-backup weekly) from this process, against "
               "PREFECT_API_URL."))
def serve() -> None:
    from prefect import serve as prefect_serve

    from flows.nightly import deployments

    prefect_serve(*deployments())


@described(_("Remove a batch's run lock left by a run that is gone on another machine (a lock left on this "
               "machine by a killed run is taken over by the next run without this)."))
def unlock(batch: Path = typer.Argument(..., help=_("batch folder whose lock to remove"))) -> None:
    from digitize.ledger import database as ledger
    from digitize.core.settings import get_settings

    session = ledger.open_ledger(get_settings().ledger_url)
    try:
        removed = ledger.unlock_batch(session, str(batch.resolve()))
    finally:
        session.close()
    console.print(_("lock on {batch} removed", batch=batch) if removed else _("{batch} was not locked", batch=batch),
                  markup=False)
