"""The reading service's view of the collection: who the visitor is (anyone, a reader in a reading
room, signed-in staff), which items they may find and open, and what a stored item holds (read
from the store, not from the pipeline's output folder, and kept for a while).

Access tiers: an ``open`` item is for everyone; a ``restricted`` one is opened (pages, images,
manifest, PDF, text) only in a reading room or by staff; outside them it has a public record (its
description and where to read it: ``find_record``), listed and counted like any item unless its
library keeps its restricted records unlisted (``list_restricted = false`` in libraries.toml); a
``secret`` item is never found by any of it: every question about it is answered as about an item
that does not exist. Items not stored or withdrawn are not found either."""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from digitize.describe import mets
from digitize.core.errors import ConfigError, StorageError
from digitize.ledger.database import Item, Library
from digitize.describe.mets import stored_path
from digitize.core.models import FileFacts, ItemPackage, PageImage
from digitize.store.storage import MANIFEST, Store, read_manifest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NOT_SERVED = {"mets.xml", "dc.xml", MANIFEST}  # they name the store's locations; published as records instead


def networks(text: str, setting: str) -> list[Network]:
    """CIDR ranges separated by commas or spaces ("10.20.0.0/16, 2001:db8::/48")."""
    found = []
    for part in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{part!r} is not an address range", setting,
                              "give CIDR ranges such as 10.20.0.0/16, separated by commas") from None
    return found


def _within(address: str, ranges: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in ranges)


def client_address(peer: str, forwarded_for: str | None, proxies: list[Network]) -> str:
    """The reader's address: the connection's, unless it comes from a trusted reverse proxy; then
    the last address of X-Forwarded-For that is not one of the proxies (a client can write any
    X-Forwarded-For of its own, so only what the proxies added counts)."""
    if not (forwarded_for and _within(peer, proxies)):
        return peer
    for address in reversed([a.strip() for a in forwarded_for.split(",") if a.strip()]):
        if not _within(address, proxies):
            return address
    return peer


@dataclass(frozen=True)
class Visitor:
    staff: str | None = None  # the signed-in staff member's name
    reading_room: bool = False
    roles: frozenset[str] = frozenset()  # the staff member's roles (accounts.ROLES)

    def may(self, role: str) -> bool:
        return role in self.roles

    @property
    def opens_restricted(self) -> bool:
        return bool(self.staff) or self.reading_room


def visitor(address: str, staff: str | None, reading_rooms: list[Network], roles: frozenset[str] = frozenset()) -> Visitor:
    return Visitor(staff=staff, reading_room=_within(address, reading_rooms), roles=roles if staff else frozenset())


def _found():
    """Items that exist for the reading service: stored, not withdrawn, not secret."""
    return and_(Item.status == "ok", Item.withdrawn.is_(None), Item.access.in_(("open", "restricted")))


def readable(who: Visitor):
    """The items ``who`` may open (pages, images, manifest, text, files)."""
    return and_(_found(), Item.access == "open") if not who.opens_restricted else _found()


def listed(who: Visitor, unlisted: Collection[str] = ()):
    """The items ``who`` sees in lists, counts and the sitemap: those they may open, and the records
    of the restricted ones, but those of the libraries in ``unlisted`` (list_restricted = false)."""
    if who.opens_restricted:
        return _found()
    records = Item.access == "restricted"
    if unlisted:
        records = and_(records, Item.library.not_in(sorted(unlisted)))
    return and_(_found(), or_(Item.access == "open", records))


def find_item(session: Session, library: str, item_id: str, who: Visitor) -> Item | None:
    """The item, if ``who`` may open it (None for a secret, missing, unstored or withdrawn item,
    and for a restricted one outside the reading room: all alike)."""
    return session.scalars(select(Item).where(readable(who), Item.library == library, Item.item_id == item_id)).first()


def find_record(session: Session, library: str, item_id: str) -> Item | None:
    """The item whose public record anyone may see (its description, never its pages): an open or
    restricted item, stored and not withdrawn; None for a secret one, as for a missing one. (A
    library's unlisted restricted records keep their page: unlisted, not hidden.)"""
    return session.scalars(select(Item).where(_found(), Item.library == library, Item.item_id == item_id)).first()


def libraries(session: Session, who: Visitor, unlisted: Collection[str] = (),
              records: bool = True) -> list[tuple[Library, dict[str, int]]]:
    """The libraries with items ``who`` sees, each with its count per category: the items listed
    to them (``records``), or only those they may open."""
    shown = listed(who, unlisted) if records else readable(who)
    counts: dict[str, dict[str, int]] = {}
    for code, category, count in session.execute(select(Item.library, Item.category, func.count()).where(
            shown).group_by(Item.library, Item.category)):
        counts.setdefault(code, {})[category] = count
    rows = session.scalars(select(Library).where(Library.code.in_(counts)).order_by(Library.code)).all()
    return [(row, counts[row.code]) for row in rows]


def library_items(session: Session, library: str, who: Visitor, category: str | None, page: int,
                  page_size: int, unlisted: Collection[str] = (), records: bool = True) -> tuple[list[Item], int]:
    """One page (1-based) of the library's items ``who`` sees, by title, and how many there are:
    those listed to them (``records``) or only those they may open (a IIIF collection)."""
    shown = listed(who, unlisted) if records else readable(who)
    condition = and_(shown, Item.library == library, or_(category is None, Item.category == category))
    total = session.scalar(select(func.count()).select_from(Item).where(condition)) or 0
    rows = session.scalars(select(Item).where(condition).order_by(Item.title, Item.item_id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), total


def items_named(session: Session, keys: list[tuple[str, str]]) -> list[Item]:
    """The ledger rows of (library, item id) pairs the caller has already found visible (search hits)."""
    if not keys:
        return []
    return list(session.scalars(select(Item).where(or_(*(and_(Item.library == library, Item.item_id == item_id)
                                                          for library, item_id in keys)))))


def public_items(session: Session, unlisted: Collection[str] = ()) -> list[Item]:
    """The items whose page anyone may open, open or a restricted item's record (for the sitemap)."""
    return list(session.scalars(select(Item).where(listed(Visitor(), unlisted)).order_by(Item.library, Item.item_id)))


def downloads_offered(who: Visitor, item: Item, room_downloads: Collection[str]) -> bool:
    """Whether ``who`` may download ``item``'s files (PDF, stored images, text): an open item
    anyone, a restricted one staff, and readers in the reading room where its library offers
    downloads there (``room_downloads``: reading_room_downloads = true)."""
    return item.access == "open" or bool(who.staff) or (who.reading_room and item.library in room_downloads)


@dataclass(frozen=True)
class StoredItem:
    package: ItemPackage  # what its METS says
    objects: dict[str, FileFacts]  # its stored files (stored.json), by path in the item

    def page_file(self, page: PageImage, file_id: str | None) -> str | None:
        """The path in the item of one of ``page``'s files (its image or ALTO), if it is stored."""
        entry = next((f for f in self.package.files if f.id == file_id), None) if file_id else None
        relative = stored_path(self.package, entry) if entry is not None else None
        return relative if relative in self.objects else None

    def page_image(self, number: int) -> tuple[str, FileFacts, int, int] | None:
        """Page ``number``'s access image: its path in the item, facts and size in pixels."""
        page = next((p for p in self.package.pages if p.number == number), None)
        relative = self.page_file(page, page.image) if page is not None else None
        if relative is None:
            return None
        return relative, self.objects[relative], page.image_width, page.image_height

    def altos(self) -> list[tuple[PageImage, str]]:
        """Each page with a stored ALTO, and the ALTO's path in the item."""
        return [(page, relative) for page in self.package.pages
                if (relative := self.page_file(page, page.alto)) is not None]

    def servable(self, relative: str) -> FileFacts | None:
        """The facts of a stored file the reading service may hand out (not the records naming the store)."""
        return None if relative in NOT_SERVED else self.objects.get(relative)


class ItemUnreadable(Exception):
    """A stored item the store does not give back whole (an object missing or damaged): the
    reader is told to come back later, the operator finds it with ``digitize audit``."""


class StoredItems:
    """Stored items read back from the store, the last ``size`` of them kept; a changed ledger row
    (a new version, new metadata) reads the item again."""

    def __init__(self, store: Store, size: int = 256):
        self.store, self.size = store, size
        self._items: OrderedDict[tuple, StoredItem] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, item: Item) -> StoredItem:
        key = (item.library, item.item_id, item.stored, str(item.updated))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        prefix = f"{item.library}/{item.item_id}/"
        try:
            found = StoredItem(package=mets.read(self.store.read_bytes(prefix + "mets.xml")),
                               objects=read_manifest(self.store, prefix + MANIFEST).objects)
        except (StorageError, OSError, ValueError, etree.LxmlError) as exc:  # (pydantic's errors are ValueErrors)
            raise ItemUnreadable(f"{prefix}: {type(exc).__name__}") from None
        with self._lock:
            self._items[key] = found
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return found
