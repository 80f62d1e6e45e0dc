"""What the commands print, in one place: the consoles (results on stdout, errors on stderr), error
lines, tables, progress and the batch summary, in the command's language (digitize.cli.language).

Two forms of output: for a terminal, tables whose columns wrap (nothing is ever cut, an item id is
never split); for a log (stdout not a terminal, as under cron, or `--plain`), one line per row with
its fields separated by tabs, nothing wrapped, so that `grep ID run.log` finds the whole row."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from digitize.cli.language import LANGUAGE, _
from digitize.core.models import BatchSummary, ItemResult, Severity, Status
from digitize.engine.public_summary import problem_said

console = Console()
errors = Console(stderr=True)
ERROR = _("error:")  # the start of an error line
NEW_VERSION_HINT = "--new-version"  # a failure whose reason says a rerun with this option replaces the stored item


def error(text: str) -> None:
    """`error: TEXT` on stderr; TEXT is shown as it is (escaped, never read as markup), on one line
    when stderr is a log."""
    errors.print(f"[red]{escape(ERROR)}[/] {escape(text)}", highlight=False, soft_wrap=not errors.is_terminal)


def plain_output(asked: bool = False) -> bool:
    """Whether to print for a log: asked for, or stdout is not a terminal."""
    return asked or not console.is_terminal


def line(text: str, whole: bool = False) -> None:
    """A line of output, read as it is; in a log, or when ``whole``, written as it is (Rich would
    turn its tabs into spaces)."""
    if whole or not console.is_terminal:
        console.file.write(text + "\n")
    else:
        console.print(text, markup=False, highlight=False)


def table(title: str, *columns: str, **column_options) -> Table:
    """An empty table with these columns (each with the same options); a cell too wide for the
    terminal wraps, it is never cut."""
    made = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 padding=(0, 1), collapse_padding=True)
    for column in columns:
        made.add_column(column, **({"overflow": "fold"} | column_options))
    return made


@dataclass(frozen=True)
class Column:
    """A column of print_table, of a kind: "key" never wraps (an id); "whole" keeps each cell on one
    line when the terminal allows it (numbers, codes, dates); "words" wraps at spaces, its words
    whole; "text" wraps at spaces and folds a word too long for it (reasons, paths)."""

    header: str
    kind: str = "whole"
    right: bool = False
    short: str = ""  # the header in a terminal, if not the same
    colours: dict[str, str] = field(default_factory=dict)  # a cell's colour in a terminal, by its text

    @property
    def heading(self) -> str:
        return self.short or self.header


def print_table(title: str, columns: list[Column], rows: list[list[str]], plain: bool) -> None:
    """Rows of plain text: for a log, the title, then the headers and each row as one line of
    tab-separated fields; for a terminal, a table fitted to its width (see _layout)."""
    if plain:
        line(title, whole=True)
        for cells in [[c.header for c in columns], *rows]:
            line("\t".join(_one_line(cell) for cell in cells), whole=True)
        return
    gap, widths = _layout(columns, rows, console.width)
    shown = table(escape(title))
    shown.padding = (0, gap - 1)
    for column, width in zip(columns, widths):
        shown.add_column(escape(column.heading), no_wrap=column.kind == "key", overflow="fold", width=width,
                         justify="right" if column.right else "left")
    for cells in rows:
        shown.add_row(*(Text(cell, style=column.colours.get(cell, "")) for column, cell in zip(columns, cells)))
    console.print(shown)


def _one_line(text: str) -> str:
    return re.sub(r"[\t\r\n\v\f]+", " ", text)


def _layout(columns: list[Column], rows: list[list[str]], width: int) -> tuple[int, list[int | None]]:
    """The gap between columns and their widths for a terminal ``width`` wide (None: as Rich likes).
    Rich shares a narrow terminal out evenly, which splits short codes and leaves a reason a few
    characters wide. Here, when the table is too wide, the key and whole columns keep their longest
    cell on one line and their headers wrap at spaces, and the columns that wrap share the rest by
    their lengths; narrower, the gap between the columns is one space; narrower still, the headers
    fold first; narrower than the cells themselves, Rich's own sharing. Nothing is ever cut."""
    def longest(texts: list[str], words: bool) -> int:
        pieces = [piece for text in texts for part in text.splitlines() or [""]
                  for piece in (part.split() if words else [part])]
        return max([1, *(cell_len(piece) for piece in pieces)])

    def narrowest(column: Column, texts: list[str], fold: int) -> int:
        if column.kind in ("key", "whole"):
            return longest(texts, False)
        return longest(texts, True) if column.kind == "words" else min(longest(texts, True), fold)

    def grown(base: list[int], first: list[int], goal: list[int], room: int) -> list[int | None]:
        """``base`` widened to ``first`` if that fits, then towards ``goal``, shared by what each wants."""
        widths = first if sum(first) <= room else list(base)
        spare, wanted = room - sum(widths), sum(goal) - sum(widths)
        if wanted <= spare:
            return goal
        widths = [w + spare * (g - w) // wanted for w, g in zip(widths, goal)]
        for i in sorted(range(len(widths)), key=lambda i: widths[i] - goal[i])[:room - sum(widths)]:
            widths[i] += widths[i] < goal[i]  # what the rounding left, to the columns furthest from their goal
        return widths

    cells = [[row[i] for row in rows] for i in range(len(columns))]
    natural = [max(longest([c.heading], False), longest(texts, False)) for c, texts in zip(columns, cells)]
    values = [narrowest(c, texts, 8) for c, texts in zip(columns, cells)]
    need = [max(longest([c.heading], True), narrowest(c, texts, 12)) for c, texts in zip(columns, cells)]
    for gap in (2, 1):
        room = width - gap * (len(columns) - 1)
        if sum(natural) <= room:
            return gap, [None] * len(columns)
        if sum(need) <= room:  # the wrapping columns grow to their whole length, short words first
            words = [m if c.kind == "words" else n for c, n, m in zip(columns, need, natural)]
            return gap, grown(need, words, [n if c.kind in ("key", "whole") else m
                                            for c, n, m in zip(columns, need, natural)], room)
    if sum(values) <= room:  # every column grows towards its header's longest word
        return 1, grown(values, values, need, room)
    return 1, [None] * len(columns)


class _Count(ProgressColumn):
    """'3/12 pages'; nothing while the total is not known yet (never '0/?')."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)} {task.fields.get('noun', '')}", style="progress.download")


class _Left(TimeRemainingColumn):
    """'0:01:20 left', once the total is known."""

    def render(self, task: Task) -> Text:
        if task.total is None or task.finished:
            return Text("")
        return Text(_("{time} left", time=super().render(task).plain), style="progress.remaining")


def progress_bar(noun: str, transient: bool) -> Progress:
    """A bar counting ``noun``, on a terminal only."""
    return Progress(TextColumn(f"[bold]{noun}"), BarColumn(), _Count(), TimeElapsedColumn(), console=console,
                    transient=transient, disable=not console.is_terminal)


class RunProgress:
    """The progress of a run, from the engine's progress events (digitize.core.progress): the item
    folders taken in, then the pages, each with the item being worked on and the time left. Shown
    only on a terminal (nothing of it reaches a log); under --plain it goes when the run ends."""

    def __init__(self, plain: bool):
        self.bar = Progress(TextColumn("[bold]{task.fields[stage]}"), BarColumn(bar_width=20), _Count(),
                            TimeElapsedColumn(), _Left(), TextColumn("{task.description}"),
                            console=console, transient=plain, disable=not console.is_terminal)
        self.intake: TaskID = self.bar.add_task("", total=None, stage=_("starting"), noun=_("item folders"))
        self.pages: TaskID = self.bar.add_task("", total=None, stage=_("pages"), noun=_("pages"), visible=False,
                                               start=False)

    def __enter__(self) -> RunProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def on_event(self, event: str, count: int, name: str) -> None:
        if event == "folders":
            self.bar.update(self.intake, total=count, stage=_("intake"))
        elif event == "taken-in":
            self.bar.update(self.intake, advance=1, description=escape(name))
        elif event == "total":
            self.bar.update(self.intake, description="")
            self.bar.stop_task(self.intake)
            self.bar.reset(self.pages, total=count, visible=True)
        elif event == "item":
            self.bar.update(self.pages, description=escape(name))
        elif event == "page":
            self.bar.advance(self.pages, count)


STATUS_WORDS = {Status.ok: _("ok"), Status.waiting: _("waiting for storage"), Status.failed: _("failed")}
WAITING = _("waiting")  # a terminal's short status word: the reason says for what
SEVERITY_WORDS = {Severity.warning: _("warning"), Severity.error: _("error")}
SUMMARY_KEYS = ["item", "folder", "status", "pages", "mean confidence", "not syllables", "to review", "seconds",
                "output or reason"]  # the columns, as summary_rows names them whatever the language
SUMMARY_COLUMNS = [Column(_("item"), "key"), Column(_("folder"), "text"),
                   Column(_("status"), "words", colours={STATUS_WORDS[Status.ok]: "green",
                                                         STATUS_WORDS[Status.failed]: "red", WAITING: "yellow"}),
                   Column(_("pages"), right=True), Column(_("mean confidence"), right=True, short=_("conf.")),
                   Column(_("not syllables"), right=True), Column(_("to review"), right=True),
                   Column(_("seconds"), "words", right=True), Column(_("output or reason"), "text")]
TERMINAL_LEAVES_OUT = ("not syllables", "to review")  # said in the output cell of a terminal's table


def summary_rows(summary: BatchSummary, plain: bool) -> tuple[list[Column], list[list[str]]]:
    """The summary's columns and one row per item. A terminal's table names a folder only when it is
    not named as its item (no column when none is), and says the quality figures under the output."""
    rows = [_summary_row(item) for item in summary.items]
    if plain:
        return SUMMARY_COLUMNS, rows
    named_otherwise = any(row[1] != row[0] for row in rows)
    keys = [key for key in SUMMARY_KEYS if key not in TERMINAL_LEAVES_OUT and (key != "folder" or named_otherwise)]
    shown = []
    for item, row in zip(summary.items, rows):
        cells = dict(zip(SUMMARY_KEYS, row))
        if cells["folder"] == cells["item"]:
            cells["folder"] = ""
        if item.status == Status.waiting:
            cells["status"] = WAITING
        notes = [_("not syllables {share}", share=cells["not syllables"]) if item.not_syllables else "",
                 _("{count} pages to review", count=cells["to review"]) if cells["to review"] != "0" else ""]
        if any(notes):
            cells["output or reason"] += "\n" + "; ".join(note for note in notes if note)
        shown.append([cells[key] for key in keys])
    return [SUMMARY_COLUMNS[SUMMARY_KEYS.index(key)] for key in keys], shown


def _summary_row(item: ItemResult) -> list[str]:
    shown = [p for p in item.problems if p.severity == Severity.error or item.status == Status.waiting]
    detail = item.pdf if item.status == Status.ok else "; ".join(problem_said(p, LANGUAGE) for p in shown)
    status = STATUS_WORDS.get(item.status, STATUS_WORDS[Status.failed])
    return [item.item_id, item.folder or item.item_id, status, str(item.pages),
            f"{item.mean_confidence:.1f}" if item.mean_confidence is not None else "-",
            f"{item.not_syllables:.1%}" if item.not_syllables is not None else "-",
            str(sum(p.reason.startswith("to review") for p in item.problems)),
            _("already done") if item.already_done else f"{item.seconds:.1f}", detail or ""]


def print_summary(summary: BatchSummary, seconds: float, plain: bool, rerun: str) -> None:
    """The summary (a table, or a line per item), the warnings, one line of totals, why the run
    stopped if it did, then where the report and the quarantine are and what to run next; ``rerun``
    is the command that runs the batch again."""
    columns, rows = summary_rows(summary, plain)
    print_table(_("Batch {name}", name=Path(summary.batch).name), columns, rows, plain)
    warnings = [p for i in summary.items for p in i.problems
                if p.severity == Severity.warning and i.status != Status.waiting]
    for problem in summary.problems + warnings:
        where = " / ".join(x for x in (problem.item, problem.file) if x)
        console.print(f"[yellow]{SEVERITY_WORDS[problem.severity]}[/] {escape(where)}: "
                      f"{escape(problem.reason_in(LANGUAGE))}",
                      highlight=False, soft_wrap=plain or not console.is_terminal)
    ok = [i for i in summary.items if i.status == Status.ok]
    pages = sum(i.pages for i in ok)
    confidences = [i.mean_confidence for i in ok if i.mean_confidence is not None]
    mean = f"{sum(confidences) / len(confidences):.1f}" if confidences else "-"
    waiting = sum(i.status == Status.waiting for i in summary.items)
    already = sum(i.already_done for i in ok)
    line(_("items ok {ok}, failed {failed}", ok=len(ok), failed=len(summary.items) - len(ok) - waiting)
         + (_(", waiting for storage {waiting}", waiting=waiting) if waiting else "")
         + _("; pages {pages}; mean confidence {mean}; time {seconds} s", pages=pages, mean=mean,
             seconds=f"{seconds:.1f}")
         + (_("; {already} items already done", already=already) if already else ""), whole=plain)
    if summary.malware is not None:
        from digitize.capture.malware import said_in_summary

        line(said_in_summary(summary.malware).in_language(LANGUAGE), whole=plain)
    if summary.stopped:
        left = _(" {left} items left for the next run.", left=len(summary.not_done)) if summary.not_done else ""
        error(_("the run stopped: {reason}.", reason=summary.stopped) + left)
    for text in closing(summary, rerun):  # whole, so that a path or a command is copied as it is
        line(text, whole=True)


def closing(summary: BatchSummary, rerun: str) -> list[str]:
    """The closing lines: where the run's report and the quarantine are, and what to run next."""
    lines = [_("report: {path}", path=summary.report) if summary.report
             else _("report: not written (see the error above)")]
    if summary.quarantine:
        lines.append(_("quarantine: {path} (what failed, with the reason beside it)", path=summary.quarantine))
    failed = [i for i in summary.items if i.status == Status.failed]
    batch_errors = [p for p in summary.problems if p.severity == Severity.error]
    if summary.stopped:
        lines.append(_("next: remove the cause of the stop above, then {command} (what is finished is kept)",
                       command=rerun))
    elif failed or batch_errors:
        lines.append(_("next: fix what the reasons above say, then {command} (finished items are not done again)",
                       command=rerun))
        if any(NEW_VERSION_HINT in p.reason for i in failed for p in i.problems):
            lines.append(_("      or, for an item that replaces the stored one: {command}",
                           command=f"{rerun} {NEW_VERSION_HINT}"))
    elif any(i.status == Status.waiting for i in summary.items):
        lines.append(_("next: {command} when the store can be reached (the waiting items are stored then)",
                       command=rerun))
    else:
        lines.append(_("next: nothing to do, every item is stored"))
    return lines
