"""What readers find: `digitize index` (the full-text search index made again from the store) and
`digitize withdraw` (items taken from, or given back to, readers)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

from digitize.cli.connect import ledger_and_store
from digitize.cli.language import _, described
from digitize.cli.output import console, progress_bar
from digitize.core.errors import ExitCode


@described(_("The full-text search index: runs keep it up to date; --rebuild makes it again from the store (after "
             "a restore, or when a run could not update it)."))
def index(rebuild: bool = typer.Option(False, "--rebuild", help=_("empty the search index and index every stored "
                                                                 "item again from the store")),
          library: Optional[str] = typer.Option(None, "--library", help=_("only this library's items"))) -> None:
    from digitize.search import indexing

    if not rebuild:
        console.print("the index is kept up to date by every run; give --rebuild to make it again from the store")
        raise typer.Exit(int(ExitCode.usage))
    session, store = ledger_and_store()
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


@described(_("Withdraw items from readers: the reading service, search and exports leave them out, OAI-PMH gives "
             "harvesters a deleted record. Nothing is deleted: the stored files stay, and --undo gives the items "
             "back."))
def withdraw(items: list[str] = typer.Argument(..., help=_("LIBRARY/ITEM_ID ...")),
             undo: bool = typer.Option(False, "--undo", help=_("give withdrawn items back to readers"))) -> None:
    from digitize.search import indexing
    from digitize.ledger import database as ledger

    session, store = ledger_and_store()
    unknown = []
    for spec in items:
        library, _slash, item_id = spec.strip().strip("/").partition("/")
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
