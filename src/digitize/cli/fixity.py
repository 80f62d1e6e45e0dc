"""The store's fixity: `digitize audit` (every stored object read again and checked) and `digitize
repair` (what the audit finds missing or changed, sent again from the local copies)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from digitize.cli.connect import ledger_and_store
from digitize.cli.language import _, described
from digitize.cli.output import console
from digitize.core.errors import ExitCode


@described(_("Fixity check: every object of every item the ledger records as stored is read again from the store "
             "and compared with the size and SHA-256 it was stored with; missing or changed objects are reported "
             "(exit code 5), objects the ledger does not list as warnings."))
def audit(library: Optional[str] = typer.Option(None, "--library", help=_("only this library's items"))) -> None:
    from digitize.preservation import fixity
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    session, store = ledger_and_store()
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


@described(_("Send what the audit finds missing or changed in the store again from the local copies, each checked "
             "against the SHA-256 the ledger records; a changed object is kept under _versions/ before the good "
             "copy takes its place. Items that cannot be repaired are named with what to do (exit code 5)."))
def repair(library: Optional[str] = typer.Option(None, "--library", help=_("only this library's items")),
           out: Optional[Path] = typer.Option(None, "--out", help=_("output folder holding the local copies "
                                                                  "[default: $DIGITIZE_DATA/out]"))) -> None:
    from digitize.preservation import fixity
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    session, store = ledger_and_store()
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
