"""The search index (digitize.search.index) kept in step with the store and the ledger: an item is indexed
from what is stored of it (its METS: description, access, pages; each page's text file, the words of
its ALTO) whenever a run stores it, when it is withdrawn or given back, and all at once by
`digitize index --rebuild`. An item the ledger does not hold as stored, or holds as withdrawn or
secret, is taken out of the index instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.describe import mets
from digitize.search import index as search
from digitize.core.errors import StorageError, StorageUnavailable
from digitize.ledger.database import Item, answering
from digitize.describe.mets import stored_path
from digitize.core.models import ItemPackage
from digitize.store.storage import Store

REBUILD_TODO = "run digitize index --rebuild once the store answers"


class ItemNotIndexed(Exception):
    """A stored item whose METS or page texts the store does not give back: the reason, for the summary."""


@dataclass
class RebuildReport:
    indexed: int = 0
    pages: int = 0
    removed: int = 0  # withdrawn, secret or not stored: not in the index
    failures: list[tuple[str, str]] = field(default_factory=list)  # (library/item, reason)


def searchable(item: Item) -> bool:
    return item.status == "ok" and item.withdrawn is None and item.access in search.SEARCHABLE_TIERS


def indexed_item(item: Item, package: ItemPackage, texts: list[tuple[int, str]]) -> search.IndexedItem:
    """What the index holds of a stored item; the stricter access of the ledger and the METS."""
    description = package.description
    both = {item.access, package.access.value}
    access = next((tier for tier in ("secret", "restricted", "open") if tier in both), "secret")
    return search.IndexedItem(
        library=item.library, item_id=item.item_id, access=access, category=item.category,
        language=(description.languages or [""])[0], date=description.date_w3cdtf or description.date,
        title=" ".join(part for part in (description.title, description.subtitle) if part),
        creators=[name.name for name in description.names] + [description.responsibility],
        subjects=description.subjects + description.periods, places=[*description.places, description.place],
        call_number=description.call_number or item.call_number, pages=texts)


def stored_texts(store: Store, item: Item) -> tuple[ItemPackage, list[tuple[int, str]]]:
    """The item's METS and the text of each page with words, read from the store."""
    prefix = f"{item.library}/{item.item_id}/"
    try:
        package = mets.read(store.read_bytes(prefix + "mets.xml"))
        files = {entry.id: entry for entry in package.files}
        texts = [(page.number, store.read_bytes(prefix + stored_path(package, files[page.text])).decode("utf-8"))
                 for page in package.pages if page.text in files and not page.blank]
    except StorageUnavailable:
        raise
    except (StorageError, OSError, ValueError, KeyError, etree.LxmlError) as exc:
        raise ItemNotIndexed(f"{prefix[:-1]}: its METS or page texts cannot be read from the store "
                             f"({type(exc).__name__}); run digitize audit, then digitize index --rebuild") from None
    return package, texts


def index_stored(session: Session, store: Store, item: Item) -> int:
    """Index the item as stored (or take it out of the index): the pages indexed."""
    if not searchable(item):
        search.remove_item(session, item.library, item.item_id)
        return 0
    package, texts = stored_texts(store, item)
    search.index_item(session, indexed_item(item, package, texts))
    return len(texts)


def index_recorded(session: Session, store: Store, library: str, item_id: str) -> int:
    """``index_stored`` of the item as the ledger now records it (just after a run or a change)."""
    with answering(session):
        item = session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id)).first()
    if item is None:
        search.remove_item(session, library, item_id)
        return 0
    return index_stored(session, store, item)


def rebuild(session: Session, store: Store, library: str | None = None,
            progress: Callable[[int, int], None] = lambda done, total: None) -> RebuildReport:
    """Empty the index (or one library's part) and index every item the ledger holds as stored and
    searchable from the store. An item the store does not give back is reported, the others go on.
    ``progress(done, total)`` follows the items."""
    report = RebuildReport()
    with answering(session):
        query = select(Item).order_by(Item.library, Item.item_id)
        items = list(session.scalars(query.where(Item.library == library) if library else query))
    search.clear(session, library)
    for done, item in enumerate(items):
        progress(done, len(items))
        if not searchable(item):
            report.removed += 1
            continue
        try:
            report.pages += index_stored(session, store, item)
            report.indexed += 1
        except ItemNotIndexed as exc:
            report.failures.append((f"{item.library}/{item.item_id}", str(exc)))
    progress(len(items), len(items))
    search.optimize(session)
    return report
