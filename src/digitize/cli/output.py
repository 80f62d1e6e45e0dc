"""What the commands print, in one place: the consoles (results on stdout, errors on stderr), error
lines, tables, progress bars and the batch summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from digitize.core.models import BatchSummary, Severity, Status

console = Console()
errors = Console(stderr=True)


def error(text: str) -> None:
    """`error: TEXT` on stderr; TEXT is shown as it is (escaped, never read as markup)."""
    errors.print(f"[red]error:[/] {escape(text)}", highlight=False)


def table(title: str, *columns: str, **column_options) -> Table:
    """An empty table with these columns (each with the same options: overflow, no_wrap)."""
    made = Table(title=title)
    for column in columns:
        made.add_column(column, **column_options)
    return made


def progress_bar(noun: str, transient: bool) -> Progress:
    return Progress(TextColumn(f"[bold]{noun}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=transient)


def summary_table(summary: BatchSummary) -> Table:
    shown_table = table(escape(f"Batch {Path(summary.batch).name}"), "item", "status", "pages", "confidence",
                        "not syllables", "to review", "seconds", "output or reason", overflow="fold")
    for item in summary.items:
        shown = [p for p in item.problems if p.severity == Severity.error or item.status == Status.waiting]
        detail = item.pdf if item.status == Status.ok else "; ".join(
            f"{p.file + ': ' if p.file else ''}{p.reason}" for p in shown)
        status = {Status.ok: "[green]ok", Status.waiting: "[yellow]waiting for storage"}.get(item.status, "[red]failed")
        shown_table.add_row(escape(item.item_id), status, str(item.pages),
                            f"{item.mean_confidence:.1f}" if item.mean_confidence is not None else "-",
                            f"{item.not_syllables:.1%}" if item.not_syllables is not None else "-",
                            str(sum(p.reason.startswith("to review") for p in item.problems)),
                            f"{item.seconds:.1f}", escape(detail or ""))
    return shown_table


def print_summary(summary: BatchSummary, seconds: float) -> None:
    """The summary table, the warnings, one line of totals, and why the run stopped if it did."""
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
        error(f"the run stopped: {summary.stopped}.{left}")
