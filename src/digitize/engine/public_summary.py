"""A batch run's outcome for the places many people see (the Prefect UI: the run's state, its
logs, its `batch-summary` artifact): each item by its id and folder, its status, pages, every
reason in full and where its bad files were copied; the artifact in Vietnamese and English. A
secret item is never named there: neither its id nor its folder appears, even inside a reason."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable

from digitize.capture.malware import said_in_summary
from digitize.core.i18n import DEFAULT_LANGUAGE, N_, Text, bilingual
from digitize.core.models import BatchSummary, ItemResult, Problem, Severity, Status

SECRET = "[secret item]"
STATUS = {Status.ok: N_("stored"), Status.failed: N_("failed"), Status.waiting: N_("waiting for storage")}
SHORT = 160  # characters of a reason in the run's state message, which the UI shows in one line
LEVEL = {Status.ok: logging.INFO, Status.waiting: logging.WARNING, Status.failed: logging.ERROR}


def hider(summary: BatchSummary) -> Callable[[str], str]:
    """A function that takes the ids and folder names of the run's secret items out of a text."""
    names = sorted({name for item in summary.items if item.secret for name in (item.item_id, item.folder) if name},
                   key=len, reverse=True)

    def hide(text: str) -> str:
        for name in names:
            text = text.replace(name, SECRET)
        return text
    return hide


def item_shown(item: ItemResult) -> str:
    """An item as the public places name it: its id and folder; a secret item neither."""
    if item.secret:
        return "a secret item"
    return item.item_id if item.folder in ("", item.item_id) else f"{item.item_id} (folder {item.folder})"


def problem_said(problem: Problem, lang: str | None) -> str:
    """A problem in ``lang`` (None: English as the code writes it), with the file it is about."""
    reason = problem.reason if lang is None else problem.reason_in(lang)
    if problem.severity == Severity.warning:
        reason = N_("warning: {reason}", reason=reason).in_language(lang) if lang else f"warning: {reason}"
    return f"{problem.file}: {reason}" if problem.file else reason


def reasons(item: ItemResult, lang: str | None) -> str:
    """Every reason of an item, errors first, in ``lang``."""
    ordered = sorted(item.problems, key=lambda p: p.severity != Severity.error)
    return "; ".join(problem_said(problem, lang) for problem in ordered)


def batch_problem(summary: BatchSummary, problem: Problem, lang: str | None) -> str:
    """A problem of the batch itself, with the item folder or row it names, if any."""
    said = problem_said(problem, lang)
    return said if problem.item == Path(summary.batch).name else f"{problem.item}: {said}"


def counts(summary: BatchSummary) -> Text:
    by_status = {status: sum(item.status == status for item in summary.items) for status in Status}
    return N_("{total} items: {ok} stored, {failed} failed, {waiting} waiting for storage",
              total=len(summary.items), ok=by_status[Status.ok], failed=by_status[Status.failed],
              waiting=by_status[Status.waiting])


def log_lines(summary: BatchSummary) -> list[tuple[int, str]]:
    """(logging level, line) for each item and each problem of the batch itself, in English: a
    failed item at error level with its full reasons and its quarantine folder."""
    hide = hider(summary)
    lines = []
    for item in summary.items:
        line = f"{item_shown(item)}: {item.status.value}, {item.pages} pages"
        if item.mean_confidence is not None:
            line += f", confidence {item.mean_confidence}"
        if item.problems:
            line += f": {reasons(item, None)}"
        if item.quarantine:
            line += f"; its bad files and their reasons copied to {item.quarantine}"
        level = LEVEL[item.status]
        if level == logging.INFO and item.problems:
            level = logging.WARNING
        lines.append((level, hide(line)))
    for problem in summary.problems:
        level = logging.ERROR if problem.severity == Severity.error else logging.WARNING
        lines.append((level, hide(f"batch {Path(summary.batch).name}: {batch_problem(summary, problem, None)}")))
    if summary.malware is not None:
        level = logging.WARNING if summary.malware.not_scanned or summary.malware.note else logging.INFO
        lines.append((level, hide(str(said_in_summary(summary.malware)))))
    if summary.stopped:
        lines.append((logging.ERROR, hide(f"the run stopped: {summary.stopped}; left for the next run: "
                                          f"{len(summary.not_done)} items")))
    return lines


def failure_message(summary: BatchSummary) -> str | None:
    """What the run's state says when not every item was stored (None when all were): how many
    failed and why, in short; the full reasons are in the logs and the artifact."""
    if summary.ok:
        return None
    hide = hider(summary)
    shortly = []
    for item in summary.items:
        errors = [p for p in item.problems if p.severity == Severity.error] or item.problems
        if item.status != Status.ok and errors:
            reason = problem_said(errors[0], None)
            shortly.append(f"{item_shown(item)}: {reason if len(reason) <= SHORT else reason[:SHORT - 1] + '…'}")
    shortly += [batch_problem(summary, p, None)[:SHORT] for p in summary.problems if p.severity == Severity.error]
    if summary.stopped:
        shortly.insert(0, f"the run stopped: {summary.stopped}")
    more = f"; and {len(shortly) - 3} more" if len(shortly) > 3 else ""
    return hide(f"{bilingual(counts(summary))}. {'; '.join(shortly[:3])}{more}. "
                "Every reason in full: the batch-summary artifact and the logs")


def _md(text: str) -> str:
    """Text as markdown shows it as written: its markup characters escaped, on one line."""
    text = " ".join(text.split("\n"))
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text) or "—"


def markdown(summary: BatchSummary) -> str:
    """The `batch-summary` artifact: a table of the items (id, folder, result, pages), then each
    item that is not simply stored with its reasons in Vietnamese and in English and its quarantine
    folder, then the problems of the batch itself. Reasons go below the table, not in it: a
    table that wide would hide them past its right edge."""
    hide = hider(summary)
    vi = DEFAULT_LANGUAGE
    title = N_("Batch {name}", name=Path(summary.batch).name)
    lines = ["# " + _md(bilingual(title)), "", _md(bilingual(counts(summary))) + "."]
    if summary.malware is not None:
        lines += ["", _md(hide(bilingual(said_in_summary(summary.malware)))) + "."]
    if summary.stopped:
        lines += ["", _md(hide(bilingual(N_("The run stopped before its end: {reason}", reason=summary.stopped))))]
    headers = [N_("Item"), N_("Folder"), N_("Result"), N_("Pages")]
    lines += ["", "| " + " | ".join(bilingual(h) for h in headers) + " |", "|---" * len(headers) + "|"]
    for item in summary.items:
        cells = [name_in_summary(item), "" if item.secret else item.folder, bilingual(STATUS[item.status]),
                 str(item.pages)]
        lines.append("| " + " | ".join(_md(hide(cell)) for cell in cells) + " |")
    explained = [item for item in summary.items if item.problems or item.quarantine]
    if explained:
        lines += ["", "## " + bilingual(N_("Reasons"))]
    reason, quarantine = N_("Reason"), N_("Quarantine")
    for item in explained:
        lines += ["", f"### {_md(hide(name_in_summary(item)))} · {_md(bilingual(STATUS[item.status]))}", "",
                  f"- {reason.in_language(vi)}: {_md(hide(reasons(item, vi)))}",
                  f"- {reason.in_language('en')}: {_md(hide(reasons(item, 'en')))}"]
        if item.quarantine:
            lines.append(f"- {bilingual(quarantine)}: `{hide(item.quarantine).replace('`', '')}`")
    if summary.problems:
        lines += ["", "## " + bilingual(N_("Problems of the batch itself")), ""]
        lines += [f"- {_md(hide(batch_problem(summary, p, vi)))} · {_md(hide(batch_problem(summary, p, None)))}"
                  for p in summary.problems]
    return "\n".join(lines) + "\n"


def name_in_summary(item: ItemResult) -> str:
    return bilingual(N_("a secret item")) if item.secret else item.item_id
