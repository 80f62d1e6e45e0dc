"""Rescans in review: which rescans of a stored item's pages the review allows, and the item back
in review after one (engine.rescan runs the pages)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.ledger import review
from digitize.ledger.database import Item, utcnow
from digitize.ledger.review import ACCEPTED, IN_REVIEW, RETURNED, PageReview, ReviewEvent


def find_item(session: Session, library: str, item_id: str) -> Item | None:
    return session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id)).first()


def returned_pages(session: Session, item: Item) -> list[int]:
    """The pages the item's last return named (its event's pages, and pages left ``returned``)."""
    event = session.scalars(select(ReviewEvent).where(ReviewEvent.item == item.id, ReviewEvent.action == RETURNED)
                            .order_by(ReviewEvent.at.desc(), ReviewEvent.id.desc())).first()
    pages = set(event.pages or []) if event is not None else set()
    pages |= set(session.scalars(select(PageReview.page).where(PageReview.item == item.id,
                                                               PageReview.state == RETURNED)))
    return sorted(pages)


def rescan_refusal(session: Session, library: str, item_id: str, pages: list[int]) -> str | None:
    """Why new scans of ``pages`` may not replace those of a stored item, or None. Allowed: an item
    returned by a reviewer (only pages its return named, when it named any) or still awaiting
    review; an accepted item is changed only after a reviewer returns it."""
    item = find_item(session, library, item_id)
    if item is None or item.status != "ok":
        return f"{item_id} of library {library} is not stored (the ledger has no stored item of that id)"
    if item.review_state == ACCEPTED:
        return (f"{item_id} was accepted (by {item.accepted_by or 'a reviewer'}) and has not been returned for "
                "rescan; its pages are not replaced")
    if item.review_state == RETURNED:
        named = returned_pages(session, item)
        outside = [page for page in pages if named and page not in named]
        if outside:
            return (f"page {', '.join(map(str, outside))} of {item_id} was not returned for rescan (the reviewer "
                    f"returned page {', '.join(map(str, named))})")
    return None


def rescanned(session: Session, library: str, item_id: str, pages: list[int], actor: str = "digitize",
              reason: str = "") -> None:
    """An item whose ``pages`` were replaced by new scans goes back in review: not accepted (so no
    longer counted) until a reviewer accepts it again; a "rescanned" event names the pages, and
    each of them is flagged for the reviewer. The caller commits."""
    item = find_item(session, library, item_id)
    if item is None:
        return
    review.record_event(session, item, actor, "rescanned", state_to=IN_REVIEW, pages=list(pages),
                        reason=reason or f"page {', '.join(map(str, pages))} rescanned: awaiting review")
    item.accepted, item.accepted_by = None, ""
    for page in pages:
        row = session.get(PageReview, (item.id, page))
        if row is None:
            row = PageReview(item=item.id, page=page)
            session.add(row)
        row.state, row.flags, row.updated, row.updated_by = "flagged", {"rescanned": True}, utcnow(), actor
