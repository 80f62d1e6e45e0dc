"""A reviewer's decision as it reaches everything: the item's state and history in the ledger, its
text and PDF/A made again from the corrections before it is accepted, and a PREMIS event naming
the reviewer in its METS. The web's staff area, `digitize review` and acceptance by sample all
decide through here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from digitize.ledger import review as states
from digitize.ledger.database import Item
from digitize.review import revision
from digitize.store.storage import Store


def accept(session: Session, store: Store, item: Item, actor: str, rule: str = "review", reason: str = "") -> None:
    """Accept the item (refused unless it is in review): its corrections published first, so what
    counts is what the reviewer saw."""
    if item.review_state == states.IN_REVIEW and item.status == "ok":
        revision.publish_corrections(session, store, item, actor)
    states.accept(session, item, actor, rule, reason)
    detail = f"rule {rule}" + (f": {reason}" if reason else "")
    revision.record_event_in_mets(session, store, item, "accepted", actor, detail)


def send_back(session: Session, store: Store, item: Item, actor: str, reason: str, pages: list[int] | tuple = (),
              kind: str = "other") -> None:
    """Return the item with its reason (and the pages to rescan)."""
    event = states.return_item(session, item, actor, reason, pages, kind)
    revision.record_event_in_mets(session, store, item, "returned", actor, f"{kind}: {event.reason}",
                                  pages=list(event.pages or []))


def accept_batch(session: Session, store: Store, batch: str, actor: str) -> tuple[list[Item], list[Item]]:
    """Accept every item in review of the batch with no flagged page that is not Hán-Nôm:
    (accepted, left in review)."""
    clean, left = states.batch_to_accept(session, batch)
    for item in clean:
        accept(session, store, item, actor, reason=f"batch {states.batch_name(batch)}: no page flagged")
    return clean, left
