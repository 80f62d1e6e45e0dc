"""`digitize review list|accept|return`: the review queue and its actions from the command line, for
scripted and bulk work. The reviewer named must be a staff account with the reviewer role."""

from __future__ import annotations

from typing import List, Optional

import typer

from digitize.cli.language import _, described
from digitize.cli.output import Column, console, plain_output, print_table
from digitize.core.errors import BadInput
from digitize.core.i18n import N_

review_app = typer.Typer(help=_("Review and acceptance (nghiệm thu): the items awaiting review, accepted or returned."))

LIST_COLUMNS = [Column(_("library")), Column(_("item"), "key"), Column(_("state")), Column(_("batch"), "text"),
                Column(_("profile")), Column(_("pages"), right=True), Column(_("flagged pages"), "words"),
                Column(_("not syllables"), right=True), Column(_("confidence"), right=True), Column(_("Hán-Nôm"))]


def _session():
    from digitize.core.settings import get_settings
    from digitize.ledger import database as ledger

    return ledger.open_ledger(get_settings().ledger_url)


def _item(session, name: str, library: Optional[str]):
    """The stored item ``LIBRARY/ITEM_ID``, or ``ITEM_ID`` (of --library, or of the one library that has it)."""
    from sqlalchemy import select

    from digitize.ledger.database import Item

    if "/" in name:
        library, name = name.split("/", 1)
    query = select(Item).where(Item.item_id == name, Item.status == "ok")
    if library:
        query = query.where(Item.library == library)
    found = list(session.scalars(query))
    if not found:
        raise BadInput(N_("no stored item {item}", item=repr(name) + (f" in {library}" if library else "")), None,
                       N_("digitize review list shows the items; write LIBRARY/ITEM_ID"))
    if len(found) > 1:
        raise BadInput(N_("{item} is stored for several libraries: {libraries}", item=name,
                          libraries=", ".join(i.library for i in found)), None,
                       N_("write LIBRARY/ITEM_ID or give --library"))
    return found[0]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


@review_app.command("list")
@described(_("The items awaiting review (or in the state asked for), riskiest first: Hán-Nôm, flagged pages, "
             "non-syllables, low confidence."))
def review_list(library: Optional[str] = typer.Option(None, "--library", help=_("one library (its code)")),
                batch: Optional[str] = typer.Option(None, "--batch", help=_("one batch (its folder's name or path)")),
                profile: Optional[str] = typer.Option(None, "--profile", help=_("one material profile")),
                state: str = typer.Option("in_review", "--state",
                                          help=_("in_review, accepted, returned or all"))) -> None:
    from digitize.review import queue

    if state not in (*queue.STATES, "all"):
        raise BadInput(N_("unknown state {state}", state=repr(state)), "--state",
                       N_("use in_review, accepted, returned or all"))
    rows = queue.rows(_session(), queue.Filters(library=library, batch=batch, profile=profile,
                                                state=None if state == "all" else state))
    print_table(_("Review queue: {count} items", count=len(rows)), LIST_COLUMNS, [
        [r.library, r.item_id, r.state, r.batch or "-", r.profile or "-", str(r.pages),
         ",".join(map(str, r.flagged_pages)) or "-", _percent(r.not_syllables),
         "-" if r.confidence is None else f"{r.confidence:.1f}", _("yes") if r.han_nom else ""] for r in rows],
        plain_output())


@review_app.command("accept")
@described(_("Accept items (by id) or every item of a batch with no flagged page, in the reviewer's name."))
def review_accept(items: List[str] = typer.Argument(None, help=_("items: LIBRARY/ITEM_ID or ITEM_ID")),
                  batch: Optional[str] = typer.Option(None, "--batch", help=_("accept the batch's items that have "
                                                                              "no flagged page")),
                  reviewer: str = typer.Option(..., "--reviewer", help=_("the reviewer's staff account")),
                  library: Optional[str] = typer.Option(None, "--library", help=_("the items' library"))) -> None:
    from digitize.ledger import review

    if bool(items) == bool(batch):
        raise typer.BadParameter(_("give the items or --batch, not both"), param_hint="ITEMS / --batch")
    from digitize.cli.connect import ledger_and_store
    from digitize.review import decisions

    session, store = ledger_and_store()
    name = review.require_reviewer(session, reviewer)
    if batch:
        accepted, flagged = decisions.accept_batch(session, store, batch, name)
        for item in accepted:
            console.print(_("{item}: accepted", item=f"{item.library}/{item.item_id}"), markup=False)
        for item in flagged:
            shown = f"{item.library}/{item.item_id}"
            console.print(_("{item}: left in review: pages {pages} are flagged", item=shown,
                            pages=",".join(map(str, review.flagged_pages(item)))) if review.flagged_pages(item) else
                          _("{item}: left in review: a Hán-Nôm item is reviewed on its own", item=shown), markup=False)
        return
    found = [_item(session, item, library) for item in items]
    for item in found:
        decisions.accept(session, store, item, name)
        console.print(_("{item}: accepted", item=f"{item.library}/{item.item_id}"), markup=False)


def _pages(text: Optional[str]) -> list[int]:
    try:
        return [int(part) for part in (text or "").replace(" ", "").split(",") if part]
    except ValueError:
        raise typer.BadParameter(_("page numbers separated by commas, e.g. 2,5"), param_hint="--pages") from None


@review_app.command("return")
@described(_("Return an item with the reason (rescan pages, wrong metadata, wrong profile, other), in the "
             "reviewer's name; it no longer counts until it is accepted again."))
def review_return(item: str = typer.Argument(..., help=_("the item: LIBRARY/ITEM_ID or ITEM_ID")),
                  reviewer: str = typer.Option(..., "--reviewer", help=_("the reviewer's staff account")),
                  reason: str = typer.Option(..., "--reason", help=_("what is wrong, for the operator")),
                  pages: Optional[str] = typer.Option(None, "--pages", help=_("pages to rescan, e.g. 2,5")),
                  kind: Optional[str] = typer.Option(None, "--kind", help=_("rescan, metadata, profile or other "
                                                                          "[default: rescan with --pages, else other]")),
                  library: Optional[str] = typer.Option(None, "--library", help=_("the item's library"))) -> None:
    from digitize.ledger import review

    from digitize.cli.connect import ledger_and_store
    from digitize.review import decisions

    session, store = ledger_and_store()
    name = review.require_reviewer(session, reviewer)
    numbers = _pages(pages)
    found = _item(session, item, library)
    decisions.send_back(session, store, found, name, reason, numbers, kind or ("rescan" if numbers else "other"))
    console.print(_("{item}: returned", item=f"{found.library}/{found.item_id}"), markup=False)
