"""What review teaches: `digitize groundtruth export` (accepted lines as OCR training data, in
tesstrain's layout) and `digitize vietnamese retrain` (the diacritic correction's syllable data
made again from accepted text)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from digitize.cli.connect import ledger_and_store
from digitize.cli.language import _, described
from digitize.cli.output import console
from digitize.core.errors import ExitCode

groundtruth_app = typer.Typer(help=_("Ground truth for OCR training from what reviewers accepted."))
vietnamese_app = typer.Typer(help=_("The Vietnamese diacritic correction's data."))


def _day(value: Optional[str], option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{option} {escape(value)}[/]: not a date; give it as YYYY-MM-DD (2026-07-01)")
        raise typer.Exit(int(ExitCode.usage)) from None


@groundtruth_app.command("export")
@described(_("Write every line of the accepted items as a line image (PNG, cut from the stored page image) and its "
             "text (NAME.gt.txt), the layout tesstrain reads. Hán-Nôm items: only the lines a person transcribed. "
             "Secret items only with --include-secret."))
def export(out: Path = typer.Argument(..., help=_("folder to write the line images and texts to")),
           library: Optional[str] = typer.Option(None, "--library", help=_("only this library's items")),
           since: Optional[str] = typer.Option(None, "--since", help=_("only items accepted on or after this day "
                                                                      "(YYYY-MM-DD)")),
           include_secret: bool = typer.Option(False, "--include-secret", help=_(
               "export secret items too (staff data: keep the folder off anything public)"))) -> None:
    from digitize.review import groundtruth

    day = _day(since, "--since")
    session, store = ledger_and_store()
    summary = groundtruth.export(session, store, out, library or None, day, include_secret)
    for where, reason in summary.unreadable:
        console.print(f"[red]not exported[/] {escape(where)}: {escape(reason)}", soft_wrap=True)
    console.print(f"ground truth: {summary.lines} lines from {summary.pages} pages of {summary.items} accepted items "
                  f"({summary.han_nom_items} Hán-Nôm, transcribed lines only) -> {escape(str(out))}", soft_wrap=True)
    if include_secret:
        console.print("secret items included: these files are staff data; keep them off anything public",
                      soft_wrap=True)
    elif summary.secret_left_out:
        console.print(f"left out: {summary.secret_left_out} secret items (give --include-secret to export them as "
                      "staff data)", soft_wrap=True)
    if summary.unreadable:
        raise typer.Exit(int(ExitCode.fixity))


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


@vietnamese_app.command("retrain")
@described(_("Make the diacritic correction's syllable and bigram counts again: the shipped counts plus the text of "
             "accepted items, written to $DIGITIZE_DATA/vietnamese/ (read from then on in place of the shipped "
             "ones). One accepted page in five is held back and the word error rate on it is shown before and "
             "after."))
def retrain(library: Optional[str] = typer.Option(None, "--library", help=_("only this library's items")),
            since: Optional[str] = typer.Option(None, "--since", help=_("only items accepted on or after this day "
                                                                       "(YYYY-MM-DD)")),
            seed: int = typer.Option(26, "--seed", help=_("seed of the draw of the held-back pages")),
            hold_back: int = typer.Option(5, "--hold-back", min=2, help=_("hold back one page in this many")),
            include_secret: bool = typer.Option(False, "--include-secret", help=_(
                "count the text of secret items too"))) -> None:
    from digitize.review import retrain as retraining

    day = _day(since, "--since")
    session, store = ledger_and_store()
    report = retraining.retrain(session, store, None, library or None, day, include_secret, seed, hold_back)
    for where, reason in report.unreadable:
        console.print(f"[red]not read[/] {escape(where)}: {escape(reason)}", soft_wrap=True)
    console.print(f"accepted text: {report.items} items, {report.pages_trained} pages counted ({report.lines_trained} "
                  f"lines, {report.seen} syllables), {report.pages_held} pages held back ({report.lines_held} lines, "
                  f"{report.words_held} words)", soft_wrap=True)
    console.print(f"written to {escape(report.folder)}: {report.syllables} syllables ({report.syllables_new} not in "
                  f"the shipped data), {report.bigrams} bigrams", soft_wrap=True)
    if not report.lines_held:
        console.print("word error rate: no held-back lines to measure on (too few accepted pages)", soft_wrap=True)
        return
    console.print(f"word error rate on the held-back pages, before ({escape(report.before_data)} data) -> after:",
                  soft_wrap=True)
    console.print(f"  correcting the OCR's reading: {_rate(report.before['ocr'])} -> {_rate(report.after['ocr'])}",
                  soft_wrap=True)
    console.print(f"  restoring the diacritics of the stripped text: {_rate(report.before['stripped'])} -> "
                  f"{_rate(report.after['stripped'])}", soft_wrap=True)
