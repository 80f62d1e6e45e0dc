"""Command line: `digitize run BATCH` runs the batch engine (as the digitize-batch Prefect flow when
PREFECT_API_URL is set, or with --prefect) with a progress bar and ends with a summary table; the
exit code is not zero if anything failed. Every command's errors go through one handler, which
prints the message and exits with the error's code (digitize.core.errors.ExitCode)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

# Prefect's own console logging would break the progress bar; its logs still reach the Prefect UI.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import click  # noqa: E402
import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from digitize.core import progress  # noqa: E402
from digitize.core.errors import BadInput, DigitizeError, ExitCode  # noqa: E402
from digitize.core.models import BatchSummary, Severity, Status  # noqa: E402

console = Console()
errors = Console(stderr=True)


class _Commands(TyperGroup):
    """Every command's DigitizeError becomes its message on stderr and the error's exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DigitizeError as exc:
            errors.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(int(exc.exit_code)) from None
        except OSError as exc:  # the disk or the system, not a bug: its own words, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            errors.print(f"[red]error:[/] {escape(where + (exc.strerror or str(exc)))}", highlight=False)
            raise typer.Exit(int(ExitCode.cannot_write)) from None
        except (typer.Exit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get("DIGITIZE_DEBUG"):
                raise
            errors.print(f"[red]error:[/] unexpected failure ({escape(type(exc).__name__)}: {escape(str(exc))[:300]}); "
                         "this is a bug: run again with DIGITIZE_DEBUG=1 for the details and report them",
                         highlight=False)
            raise typer.Exit(int(ExitCode.failed)) from None


app = typer.Typer(cls=_Commands, help="Digitization pipeline for Vietnamese libraries.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def main() -> None:
    """Scanner batches to searchable PDF/A with Vietnamese OCR."""


def progress_bar(noun: str, transient: bool) -> Progress:
    return Progress(TextColumn(f"[bold]{noun}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=transient)


def summary_table(summary: BatchSummary) -> Table:
    table = Table(title=escape(f"Batch {Path(summary.batch).name}"))
    for column in ("item", "status", "pages", "confidence", "not syllables", "to review", "seconds",
                   "output or reason"):
        table.add_column(column, overflow="fold")
    for item in summary.items:
        shown = [p for p in item.problems if p.severity == Severity.error or item.status == Status.waiting]
        detail = item.pdf if item.status == Status.ok else "; ".join(
            f"{p.file + ': ' if p.file else ''}{p.reason}" for p in shown)
        status = {Status.ok: "[green]ok", Status.waiting: "[yellow]waiting for storage"}.get(item.status, "[red]failed")
        table.add_row(escape(item.item_id), status, str(item.pages),
                      f"{item.mean_confidence:.1f}" if item.mean_confidence is not None else "-",
                      f"{item.not_syllables:.1%}" if item.not_syllables is not None else "-",
                      str(sum(p.reason.startswith("to review") for p in item.problems)),
                      f"{item.seconds:.1f}", escape(detail or ""))
    return table


def print_summary(summary: BatchSummary, seconds: float) -> None:
    console.print(summary_table(summary))
    warnings = [p for i in summary.items for p in i.problems
                if p.severity == Severity.warning and i.status != Status.waiting]
    for problem in summary.problems + warnings:
        where = " / ".join(x for x in (problem.item, problem.file) if x)
        console.print(f"[yellow]{problem.severity.value}[/] {escape(where)}: {escape(problem.reason)}",
                      highlight=False)
    ok = [i for i in summary.items if i.status == Status.ok]
    pages = sum(i.pages for i in ok)
    confidences = [i.mean_confidence for i in ok if i.mean_confidence is not None]
    mean = f"{sum(confidences) / len(confidences):.1f}" if confidences else "-"
    waiting = sum(i.status == Status.waiting for i in summary.items)
    console.print(f"items ok {len(ok)}, failed {len(summary.items) - len(ok) - waiting}"
                  + (f", waiting for storage {waiting}" if waiting else "") + f"; pages {pages}; "
                  f"mean confidence {mean}; time {seconds:.1f} s")
    if summary.stopped:
        left = f" {len(summary.not_done)} items left for the next run." if summary.not_done else ""
        errors.print(f"[red]error:[/] the run stopped: {escape(summary.stopped)}.{left}", highlight=False)


@app.command()
def run(batch: Path = typer.Argument(..., help="batch folder: one sub-folder per item"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder [default: $DIGITIZE_DATA/out]"),
        profile: Optional[str] = typer.Option(None, "--profile", help="material profile for items that name none"),
        library: Optional[str] = typer.Option(None, "--library", help="library code for items that name none"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="pages at once [default: CPU cores]"),
        new_version: bool = typer.Option(False, "--new-version",
                                         help="store changed items, keeping the stored copies as previous versions"),
        dpi: Optional[int] = typer.Option(None, "--dpi", min=50, max=4800,
                                          help="scan resolution of the items whose metadata states none (for files "
                                               "that record none or a wrong one) [default: from the files]"),
        dask: Optional[str] = typer.Option(None, "--dask", help="run the pages on Dask: 'local' (a local cluster, "
                                           "--workers single-threaded workers) or a scheduler address "
                                           "tcp://HOST:8786 [default: DIGITIZE_DASK, else threads]"),
        prefect: bool = typer.Option(False, "--prefect", help="run as the digitize-batch Prefect flow, shown in "
                                     "the Prefect UI [default: when PREFECT_API_URL is set]"),
        ) -> None:
    """Digitize the batch BATCH, with progress and a summary."""
    import time

    started = time.monotonic()
    from digitize.capture import ocr
    from digitize.engine.batch import BatchRequest
    from digitize.core.profiles import get_profile
    from digitize.core.settings import get_settings

    if not batch.is_dir():  # mistakes on the command line are reported before any work
        raise BadInput("batch folder not found", str(batch), "give the path of a folder holding one folder per item")
    settings = get_settings()
    request = BatchRequest.make(batch, settings, out, profile, library, workers, new_version, dpi)
    ocr.check_languages(get_profile(request.profiles, request.default_profile).all_languages)
    dask = dask or settings.dask
    bar = progress_bar("pages", transient=False)
    task = bar.add_task("pages", total=None)

    def on_event(event: str, count: int) -> None:
        if event == "total":
            bar.update(task, total=count)
        else:
            bar.advance(task, count)

    progress.listen(on_event)
    try:
        if prefect or os.environ.get("PREFECT_API_URL"):
            summary = _run_flow(request, profile, library, workers, dask, bar)
        else:
            summary = _run_engine(request, dask, bar)
    finally:
        progress.forget(on_event)
    print_summary(summary, time.monotonic() - started)
    if summary.stopped:
        raise typer.Exit(summary.stop_code)
    if not summary.ok:
        raise typer.Exit(int(ExitCode.batch_incomplete))


def _run_engine(request, dask: str, bar: Progress) -> BatchSummary:
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
        with bar:
            return run_batch(request, runner)
    finally:
        runner.close()


def _run_flow(request, profile: str | None, library: str | None, workers: int | None, dask: str,
              bar: Progress) -> BatchSummary:
    """The digitize-batch flow, against PREFECT_API_URL (or a temporary Prefect server)."""
    import gc

    if not os.environ.get("PREFECT_API_URL"):
        console.print("[dim]No PREFECT_API_URL set: the flow runs on a temporary Prefect server (about 15 s to "
                      "start).")
    from flows.batch import digitize_batch, task_runner

    gc.freeze()
    flow = digitize_batch.with_options(task_runner=task_runner(dask, workers)) if dask else digitize_batch
    with bar:
        return flow(batch=request.batch, out=request.out, profile=profile, library=library, workers=workers,
                    new_version=request.new_version, dpi=request.dpi)


holdings_app = typer.Typer(help="The holdings register: what each library collected and manages.")
app.add_typer(holdings_app, name="holdings")


@holdings_app.command("import")
def holdings_import(file: Path = typer.Argument(..., help="CSV, MARC21 (.mrc) or MARCXML export"),
                    library: str = typer.Option(..., "--library", help="library code"),
                    name: Optional[str] = typer.Option(None, "--name", help="library name (first import)"),
                    province: Optional[str] = typer.Option(None, "--province", help="province code, e.g. hai-duong"),
                    tier: Optional[str] = typer.Option(None, "--tier", help="provincial, district, specialized, "
                                                                          "school, armed_forces or public")) -> None:
    """Load (or update) a library's holdings register: the quota's denominator."""
    from digitize.ledger import holdings, database as ledger
    from digitize.core.settings import get_settings

    settings = get_settings()
    if not file.is_file():
        raise BadInput("file not found", str(file), "give the path of the catalogue export")
    session = ledger.open_ledger(settings.ledger_url)
    from digitize.core.profiles import load_libraries

    found = holdings.ensure_library(session, library, name, province, tier,
                                    load_libraries(settings.profiles).get(library))
    report = holdings.import_file(session, file, found, settings.profiles)
    for label, reason in report.rejected:
        console.print(f"[yellow]rejected[/] {label}: {reason}")
    console.print(f"{library}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
                  f"{len(report.rejected)} rejected")


user_app = typer.Typer(help="Staff accounts of the web app's staff area (the dashboard; restricted items).")
app.add_typer(user_app, name="user")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password (12 characters or more)", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(name: str = typer.Argument(..., help="sign-in name: letters, digits, . _ - @"),
             password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from the "
                                                 "first line of standard input instead of asking")) -> None:
    """Add a staff account (the password is asked twice, or read from standard input)."""
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    session = ledger.open_ledger(get_settings().ledger_url)
    accounts.check_name(name)
    accounts.add_user(session, name, _password(password_stdin))
    console.print(f"staff account {name} added")


@user_app.command("remove")
def user_remove(name: str = typer.Argument(...)) -> None:
    """Remove a staff account; its sessions end at once."""
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    accounts.remove_user(ledger.open_ledger(get_settings().ledger_url), name)
    console.print(f"staff account {name} removed")


@user_app.command("list")
def user_list() -> None:
    """The staff accounts, with their last sign-in and whether they are locked."""
    from datetime import datetime, timezone

    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    now = datetime.now(timezone.utc)
    table = Table(title="staff accounts")
    for column in ("name", "created", "last sign-in", "locked"):
        table.add_column(column)
    for user in accounts.list_users(ledger.open_ledger(get_settings().ledger_url)):
        table.add_row(escape(user.name), f"{user.created:%Y-%m-%d %H:%M}",
                      f"{user.last_sign_in:%Y-%m-%d %H:%M}" if user.last_sign_in else "-",
                      "locked" if accounts.is_locked(user, now) else "")
    console.print(table)


def _progress_table(rows, title: str) -> Table:
    table = Table(title=title)
    for column in ("province", "library", "category", "holdings", "digitized", "pages", "%", "target",
                   "met", "pace/month", "target reached"):
        table.add_column(column)
    for r in rows:
        met = "-" if r.met is None else ("[green]met" if r.met else "[red]behind")
        reached = str(r.projected) if r.projected else ("-" if r.target is None else "not at this pace")
        table.add_row(r.province, r.library, r.category, str(r.holdings), str(r.digitized), str(r.pages),
                      f"{r.percent:.1f}", "-" if r.target is None else f"{r.target}", met, f"{r.pace:.1f}", reached)
    return table


@app.command()
def quota(province: Optional[str] = typer.Option(None, "--province"),
          library: Optional[str] = typer.Option(None, "--library")) -> None:
    """Progress per library and category against the province plan."""
    from datetime import date

    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    rows = quotas.progress(session, load_plans(settings.profiles), date.today(), province, library)
    console.print(_progress_table(rows, f"Quota progress on {date.today():%d/%m/%Y}"))
    totals = Table(title="Per province and library tier")
    for column in ("province", "tier", "category", "libraries", "holdings", "digitized", "%", "target"):
        totals.add_column(column)
    for r in quotas.rollup(rows):
        totals.add_row(r.province, r.tier, r.category, str(r.libraries), str(r.holdings), str(r.digitized),
                       f"{r.percent:.1f}", "-" if r.target is None else str(r.target))
    console.print(totals)


@app.command()
def report(period: str = typer.Option(..., "--period", help="2026-H1, 2026-H2 or 2026"),
           province: Optional[str] = typer.Option(None, "--province"),
           out: Path = typer.Option(Path("."), "--out", help="folder for the CSV and XLSX files")) -> None:
    """The periodic report to the Department of Culture, as CSV and XLSX."""
    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    rows = quotas.report_rows(session, load_plans(settings.profiles), period, province)
    paths = quotas.write_report(rows, out, f"bao-cao-so-hoa-{province or 'all'}-{period}")
    console.print(f"{len(rows)} rows: {paths[0]} and {paths[1]}")


@app.command()
def web(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port"),
        export: Optional[Path] = typer.Option(None, "--export", help="write the dashboard as one static HTML "
                                                                     "file instead of serving it"),
        lang: str = typer.Option("vi", "--lang", help="vi or en (for --export)"),
        staff: bool = typer.Option(False, "--staff", help="serve only the coordinators' dashboard, at / "
                                                          "(on a loopback --host only, no sign-in)"),
        workers: int = typer.Option(1, "--workers", min=1, help="server processes")) -> None:
    """The reading service: the public site (libraries, items, the viewer), IIIF images and
    manifests, the staff area (/staff/, signed in) and OAI-PMH at /oai, with every link under
    DIGITIZE_PUBLIC_URL. With --staff, the coordinators' dashboard alone at / (Vietnamese; ?lang=en
    for English), on a loopback address only."""
    from datetime import date

    from sqlalchemy.orm import Session

    from digitize.access import dashboard, reading
    from digitize.ledger import database as ledger
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings
    from digitize.web.app import create_app, require_loopback

    if staff and not export:
        require_loopback(host)
    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    plans = load_plans(settings.profiles)
    if export:
        export.write_text(dashboard.render(session, plans, date.today(), lang), encoding="utf-8")
        console.print(f"dashboard written to {export}")
        return
    import uvicorn

    if staff:
        engine = session.get_bind()
        uvicorn.run(create_app(lambda: Session(engine), plans, staff=True), host=host, port=port, log_level="warning")
        return
    settings.links()  # what every worker checks: said once, here, before any starts
    settings.token_key()
    reading.networks(settings.reading_rooms, "DIGITIZE_READING_ROOMS")
    reading.networks(settings.trusted_proxies, "DIGITIZE_TRUSTED_PROXIES")
    console.print(f"reading service on http://{host}:{port}, published as {settings.links().base}")
    uvicorn.run("digitize.web.app:app_from_settings", factory=True, host=host, port=port, workers=workers,
                log_level="warning", proxy_headers=False)


def _ledger_and_store():
    from digitize.ledger import database as ledger
    from digitize.store import storage
    from digitize.core.settings import get_settings

    settings = get_settings()
    return ledger.open_ledger(settings.ledger_url), storage.open_store(settings.store_url, settings.multipart_mb << 20)


@app.command()
def export(items: Optional[list[str]] = typer.Argument(None, help="LIBRARY/ITEM_ID ... [default: every stored item]"),
           to: str = typer.Option(..., "--to", help="folder, file:///path or s3://bucket/prefix"),
           masters: bool = typer.Option(True, "--masters/--no-masters", help="put the masters in the bags"),
           public: bool = typer.Option(False, "--public", help="a public package: restricted and secret items "
                                                               "are left out")) -> None:
    """BagIt packages (one per item) with the PDF/A, METS, DC, ALTO, text and masters."""
    from digitize.preservation import export as exporting
    from digitize.core.settings import get_settings

    settings = get_settings()
    links = settings.links() if public or settings.public_url else None
    session, store = _ledger_and_store()
    report = exporting.export_bags(session, store, items or None, to, masters=masters, public=public, links=links)
    for written in report.written:
        console.print(f"[green]bag[/] {written}")
    for item, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {item}: {reason}")
    console.print(f"{len(report.written)} bags written, {len(report.skipped)} skipped")


@app.command()
def dataset(library: str = typer.Argument(..., help="library code"),
            out: Optional[Path] = typer.Option(None, "--out", help="file to write [default: print]")) -> None:
    """DCAT (JSON-LD) description of a library's digitized collection, for an open-data portal; its
    links (OAI-PMH, the collection page, the IIIF collection) are under DIGITIZE_PUBLIC_URL."""
    import json
    from datetime import date

    from digitize.access.dcat import dcat_record
    from digitize.core.settings import get_settings

    links = get_settings().links()
    session, _ = _ledger_and_store()
    record = dcat_record(session, library, links, date.today())
    text = json.dumps(record, ensure_ascii=False, indent=1)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"dataset record written to {out}")
    else:
        print(text)


@app.command("union-catalogue")
def union_catalogue(library: str = typer.Argument(..., help="library code"),
                    out: Path = typer.Option(..., "--out", help="MARCXML file to write")) -> None:
    """MARCXML of the library's public digitized items, each with 856 links to its item page and its
    PDF/A under DIGITIZE_PUBLIC_URL."""
    from digitize.preservation import export as exporting
    from digitize.core.settings import get_settings

    links = get_settings().links()
    session, store = _ledger_and_store()
    out.write_bytes(exporting.union_catalogue_marcxml(session, store, library, links))
    console.print(f"MARCXML written to {out}")


@app.command()
def serve() -> None:
    """Serve the Prefect deployments (digitize-batch, nightly-inbox at 01:00 Asia/Ho_Chi_Minh,
    quota-report weekly, fixity-audit weekly, ledger-backup weekly) from this process, against PREFECT_API_URL."""
    from prefect import serve as prefect_serve

    from flows.nightly import deployments

    prefect_serve(*deployments())


@app.command()
def audit(library: Optional[str] = typer.Option(None, "--library", help="only this library's items")) -> None:
    """Fixity check: every object of every item the ledger records as stored is read again from the
    store and compared with the size and SHA-256 it was stored with; missing or changed objects are
    reported (exit code 5), objects the ledger does not list as warnings."""
    from digitize.preservation import fixity
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    session, store = _ledger_and_store()
    report = fixity.audit(session, store, library or "")
    for finding in report.damaged:
        console.print(f"[red]{finding.kind}[/] {escape(finding.url)}: {finding.detail}", soft_wrap=True)
    for finding in report.extra:
        console.print(f"[yellow]warning[/] {escape(finding.url)}: {finding.detail}", soft_wrap=True)
    if not report.items:
        console.print(f"[yellow]the ledger lists no stored items{' of ' + library if library else ''}[/]: items are "
                      "recorded when their library is in the ledger (digitize holdings import)")
    missing = sum(f.kind == "missing" for f in report.damaged)
    console.print(f"{report.items} items, {report.objects} objects checked in {shown_url(settings.store_url)}; "
                  f"{missing} missing, {len(report.damaged) - missing} changed, {len(report.extra)} not in the ledger",
                  soft_wrap=True)
    if report.damaged:
        console.print("digitize repair sends the missing and changed objects again from the local copies")
        raise typer.Exit(int(ExitCode.fixity))


@app.command()
def repair(library: Optional[str] = typer.Option(None, "--library", help="only this library's items"),
           out: Optional[Path] = typer.Option(None, "--out", help="output folder holding the local copies "
                                                                  "[default: $DIGITIZE_DATA/out]")) -> None:
    """Send what the audit finds missing or changed in the store again from the local copies, each
    checked against the SHA-256 the ledger records; a changed object is kept under _versions/ before
    the good copy takes its place. Items that cannot be repaired are named with what to do (exit
    code 5)."""
    from digitize.preservation import fixity
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    session, store = _ledger_and_store()
    report = fixity.repair(session, store, Path(out or settings.out), library or "")
    for finding in report.repaired:
        done = ("restored", "was missing") if finding.kind == "missing" else (
            "replaced", f"was changed: {finding.detail}; the damaged object is kept under _versions/")
        console.print(f"[green]{done[0]}[/] {escape(finding.url)} ({done[1]})", soft_wrap=True)
    for finding in report.audit.extra:
        console.print(f"[yellow]warning[/] {escape(finding.url)}: {finding.detail}, left as it is", soft_wrap=True)
    for item in report.unrepairable:
        console.print(f"[red]not repairable[/] {escape(item.library)}/{escape(item.item_id)}: "
                      f"{escape('; '.join(item.reasons))}. {escape(item.todo[0].upper() + item.todo[1:])}",
                      soft_wrap=True)
    console.print(f"{report.audit.items} items, {report.audit.objects} objects checked in "
                  f"{shown_url(settings.store_url)}; {len(report.repaired)} objects sent again from the local "
                  f"copies; {len(report.unrepairable)} items not repairable", soft_wrap=True)
    if report.unrepairable:
        raise typer.Exit(int(ExitCode.fixity))


@app.command()
def index(rebuild: bool = typer.Option(False, "--rebuild", help="empty the search index and index every stored "
                                                                 "item again from the store"),
          library: Optional[str] = typer.Option(None, "--library", help="only this library's items")) -> None:
    """The full-text search index: runs keep it up to date; --rebuild makes it again from the store
    (after a restore, or when a run could not update it)."""
    from digitize.search import indexing

    if not rebuild:
        console.print("the index is kept up to date by every run; give --rebuild to make it again from the store")
        raise typer.Exit(int(ExitCode.config))
    session, store = _ledger_and_store()
    bar = progress_bar("items", transient=True)
    task = bar.add_task("items", total=None)
    with bar:
        report = indexing.rebuild(session, store, library or None,
                                  lambda done, total: bar.update(task, completed=done, total=total))
    for item, reason in report.failures:
        console.print(f"[red]not indexed[/] {escape(item)}: {escape(reason)}", soft_wrap=True)
    console.print(f"items indexed{' in ' + escape(library) if library else ''}: {report.indexed} ({report.pages} "
                  f"pages); left out (withdrawn, secret or not stored): {report.removed}; not indexed: "
                  f"{len(report.failures)}", soft_wrap=True)
    if report.failures:
        raise typer.Exit(int(ExitCode.fixity))


@app.command()
def withdraw(items: list[str] = typer.Argument(..., help="LIBRARY/ITEM_ID ..."),
             undo: bool = typer.Option(False, "--undo", help="give withdrawn items back to readers")) -> None:
    """Withdraw items from readers: the reading service, search and exports leave them out, OAI-PMH
    gives harvesters a deleted record. Nothing is deleted: the stored files stay, and --undo gives
    the items back."""
    from digitize.search import indexing
    from digitize.ledger import database as ledger

    session, store = _ledger_and_store()
    unknown = []
    for spec in items:
        library, _, item_id = spec.strip().strip("/").partition("/")
        item = ledger.set_withdrawn(session, library, item_id, not undo)
        if item is None:
            unknown.append(spec)
            continue
        indexing.index_stored(session, store, item)
        console.print(f"{escape(spec)}: {'given back to readers' if undo else 'withdrawn'}")
    for spec in unknown:
        console.print(f"[red]no such item[/] {escape(spec)}: give LIBRARY/ITEM_ID as digitize quota and the "
                      "dashboard show them")
    if unknown:
        raise typer.Exit(int(ExitCode.bad_input))


@app.command()
def backup(to: Optional[str] = typer.Option(None, "--to", help="store for the snapshot: folder, file:///path or "
                                                               "s3://bucket/prefix [default: DIGITIZE_STORE]"),
           list_: bool = typer.Option(False, "--list", help="list the snapshots in the store instead")) -> None:
    """Snapshot the quota ledger and the profiles into the store (_backups/ledger/<UTC time>/)."""
    from digitize.preservation import backup as backups
    from digitize.store import storage
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    store = storage.open_store(to or settings.store_url, settings.multipart_mb << 20)
    if list_:
        found = backups.list_backups(store)
    else:
        info = backups.backup(settings.ledger_url, settings.profiles, store)
    if not list_:
        console.print(f"ledger snapshot {info.snapshot} ({info.engine}, migration {info.revision}) at {info.url}: "
                      f"{info.size} bytes, SHA-256 {info.sha256}; profiles in {backups.PROFILES} beside it")
        return
    if not found:
        console.print(f"no ledger snapshots in {shown_url(to or settings.store_url)}")
        return
    table = Table(title=f"Ledger snapshots in {shown_url(to or settings.store_url)}")
    for column in ("snapshot", "created (UTC)", "engine", "migration", "ledger bytes"):
        table.add_column(column, no_wrap=True)
    for info in found:
        table.add_row(info.snapshot, f"{info.created:%Y-%m-%d %H:%M:%S}", info.engine, info.revision, str(info.size))
    console.print(table)


@app.command()
def restore(snapshot: str = typer.Argument("latest", help="the snapshot's UTC time (digitize backup --list) "
                                                          "or latest"),
            from_: Optional[str] = typer.Option(None, "--from", help="store holding the snapshots "
                                                                     "[default: DIGITIZE_STORE]"),
            profiles: Optional[Path] = typer.Option(None, "--profiles", help="also unpack the snapshot's profiles "
                                                                              "into this folder")) -> None:
    """Rebuild the ledger (DIGITIZE_LEDGER, which must be empty) from a snapshot, then migrate it."""
    from digitize.preservation import backup as backups
    from digitize.store import storage
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    store = storage.open_store(from_ or settings.store_url, settings.multipart_mb << 20)
    info = backups.restore(snapshot, settings.ledger_url, store, profiles)
    console.print(f"ledger snapshot {info.snapshot} ({info.engine}, migration {info.revision}, made "
                  f"{info.created:%Y-%m-%d %H:%M} UTC) restored into {shown_url(settings.ledger_url)} "
                  "and migrated to the newest schema" + (f"; profiles unpacked into {profiles}" if profiles else ""))


@app.command()
def unlock(batch: Path = typer.Argument(..., help="batch folder whose lock to remove")) -> None:
    """Remove a batch's run lock left by a run that is gone on another machine (a lock left on this
    machine by a killed run is taken over by the next run without this)."""
    from digitize.ledger import database as ledger
    from digitize.core.settings import get_settings

    session = ledger.open_ledger(get_settings().ledger_url)
    try:
        removed = ledger.unlock_batch(session, str(batch.resolve()))
    finally:
        session.close()
    console.print(f"lock on {batch} removed" if removed else f"{batch} was not locked")


if __name__ == "__main__":
    app()
