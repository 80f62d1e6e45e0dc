"""A stored item changed by review, as new versions in the store (the objects replaced are kept
under ``_versions/``, nothing is overwritten).

- ``open_page``: a page as the editor shows it (its ALTO lines, its size, its review state).
- ``save_lines``: corrected lines of a page: its ALTO and page text written again, the ledger's
  outputs, a "corrected" ReviewEvent per line and the page's PageReview state "corrected", the item
  indexed again (found by the new words, no longer by the old). A line whose stored text is no
  longer the one the editor loaded (another reviewer saved it first) is refused, and the refused
  text handed back with who changed the line, so nothing is lost.
- ``publish_corrections``: once a reviewer is done (the accept action calls it), the item's plain
  text and the PDF/A's text layer made again from the corrected ALTO, the METS written again with
  the new files' checksums and a PREMIS modification event whose agent is the reviewer, and the
  manifest stored.json and the ledger's outputs with them.
- ``record_event_in_mets``: a review event (accepted, returned, ...) carried into the METS as a
  PREMIS event whose agent is the staff member.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.capture import textlayer
from digitize.capture.pdf import PdfInfo, PdfPage, build_pdfa
from digitize.core.errors import BadInput
from digitize.core.files import write_atomic
from digitize.core.models import Event, FileFacts, ItemPackage, StoredManifest
from digitize.describe import amend, dublincore, mets, package as packaging
from digitize.ledger.database import Item, Output, answering
from digitize.ledger.review import PageReview, ReviewEvent
from digitize.review import alto_edit
from digitize.search import index as search
from digitize.search import indexing
from digitize.store.storage import MANIFEST, Store, read_manifest

CORRECTED = "corrected"
# PREMIS event types of the review actions carried into the METS
PREMIS_TYPES = {"corrected": "modification", "transcribed": "modification", "accepted": "validation",
                "returned": "validation", "rescanned": "modification", "reopened": "validation"}


class PageMissing(BadInput):
    """The item has no page of that number, or the page has no ALTO."""


@dataclass
class Change:
    """A line as the editor sends it: its ALTO TextLine ID, the text it loaded, the text now."""

    line: str
    loaded: str
    text: str


@dataclass
class Conflict:
    """A line someone else saved since the editor loaded it: refused, nothing lost."""

    line: str
    yours: str  # the text refused (to apply again)
    theirs: str  # the line as stored now
    by: str  # who saved it ("" when unknown: the run's own text changed)
    at: datetime | None


@dataclass
class PageSave:
    saved: list[str] = field(default_factory=list)  # line IDs
    conflicts: list[Conflict] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class OpenedPage:
    number: int
    pages: int
    width: int
    height: int
    lines: list[alto_edit.Line]
    state: str  # the page's review state ("" before any)
    profile: str
    corrected_at: datetime | None = None


@dataclass
class Stored:
    """What review reads of a stored item: its METS (as bytes and as a package) and where it is."""

    prefix: str
    document: bytes
    package: ItemPackage

    def path(self, file_id: str | None) -> str | None:
        entry = next((f for f in self.package.files if f.id == file_id), None)
        return mets.stored_path(self.package, entry) if entry is not None else None

    def page(self, number: int):
        found = next((p for p in self.package.pages if p.number == number), None)
        if found is None or self.path(found.alto) is None:
            raise PageMissing(f"the item has no page {number} with text", self.prefix,
                              f"open a page from 1 to {len(self.package.pages)}")
        return found

    @property
    def profile(self) -> str:
        ocr = next((e for e in self.package.events if e.id == "ocr"), None)
        found = re.search(r"profile ([\w.-]+)", ocr.detail) if ocr is not None else None
        return found.group(1) if found else ""


_packages: OrderedDict[str, ItemPackage] = OrderedDict()  # METS read, by the SHA-256 of its bytes
_packages_lock = threading.Lock()
PACKAGES_KEPT = 16


def _package(document: bytes) -> ItemPackage:
    """The METS read into a package; the last few kept, as reading a 40-page METS takes ~150 ms
    and an editor opens and saves the same item's pages again and again."""
    key = hashlib.sha256(document).hexdigest()
    with _packages_lock:
        if key in _packages:
            _packages.move_to_end(key)
            return _packages[key]
    package = mets.read(document)
    with _packages_lock:
        _packages[key] = package
        while len(_packages) > PACKAGES_KEPT:
            _packages.popitem(last=False)
    return package


def read_stored(store: Store, item: Item) -> Stored:
    prefix = f"{item.library}/{item.item_id}"
    document = store.read_bytes(f"{prefix}/mets.xml")
    return Stored(prefix=prefix, document=document, package=_package(document))


def reindex(session: Session, store: Store, item: Item, stored: Stored, texts: dict[int, str] | None = None) -> None:
    """The item indexed again from its stored page texts (``texts``: those just written, by page)."""
    if not indexing.searchable(item):
        search.remove_item(session, item.library, item.item_id)
        return
    texts = texts or {}
    files = {f.id for f in stored.package.files}
    pages = [(page.number, texts[page.number] if page.number in texts else
              store.read_bytes(f"{stored.prefix}/{stored.path(page.text)}").decode("utf-8"))
             for page in stored.package.pages if page.text in files and not page.blank]
    search.index_item(session, indexing.indexed_item(item, stored.package, pages))


def levenshtein(before: str, after: str) -> int:
    """Edits (insert, delete, substitute a character) that turn ``before`` into ``after``."""
    return Levenshtein.distance(before, after)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def page_review(session: Session, item: Item, number: int) -> PageReview | None:
    return session.get(PageReview, (item.id, number))


def last_correction(session: Session, item: Item, number: int, line: str) -> ReviewEvent | None:
    """The latest "corrected" event of that line of that page."""
    events = session.scalars(select(ReviewEvent).where(
        ReviewEvent.item == item.id, ReviewEvent.action == CORRECTED).order_by(ReviewEvent.at.desc(),
                                                                              ReviewEvent.id.desc()))
    return next((e for e in events if (e.detail or {}).get("page") == number and (e.detail or {}).get("line") == line),
                None)


def open_page(session: Session, store: Store, item: Item, number: int, stored: Stored | None = None) -> OpenedPage:
    """Page ``number`` of the item as the editor shows it."""
    stored = stored or read_stored(store, item)
    page = stored.page(number)
    alto = store.read_bytes(f"{stored.prefix}/{stored.path(page.alto)}")
    with answering(session):
        review = page_review(session, item, number)
    return OpenedPage(number=number, pages=len(stored.package.pages), width=page.image_width or page.width,
                      height=page.image_height or page.height, lines=alto_edit.read_lines(alto),
                      state=review.state if review is not None else "", profile=stored.profile,
                      corrected_at=review.updated if review is not None else None)


def _put(store: Store, folder: Path, key: str, relative: str, data: bytes | str) -> FileFacts:
    facts = write_atomic(folder / relative, data)
    store.put(folder / relative, f"{key}/{relative}", facts.sha256, new_version=True)
    return facts


def _record_outputs(session: Session, item: Item, changed: dict[str, FileFacts]) -> None:
    rows = {row.path: row for row in session.scalars(select(Output).where(Output.item == item.id,
                                                                          Output.path.in_(list(changed))))}
    for path, facts in changed.items():
        row = rows.get(path)
        if row is None:
            session.add(Output(item=item.id, path=path, size=facts.size, sha256=facts.sha256, extra={}))
        else:
            row.size, row.sha256 = facts.size, facts.sha256


def save_lines(session: Session, store: Store, item: Item, number: int, changes: list[Change],
               actor: str) -> PageSave:
    """Save the corrected lines of page ``number`` (see the module). Lines whose text did not
    change are left alone; an unknown line ID is BadInput."""
    result = PageSave()
    stored = read_stored(store, item)
    page = stored.page(number)
    alto_path, text_path = stored.path(page.alto), stored.path(page.text)
    with answering(session):
        # the page's review row first: its write holds the other savers of this page until commit
        review = session.get(PageReview, (item.id, number), with_for_update=True)
        if review is None:
            review = PageReview(item=item.id, page=number, state=CORRECTED, flags=None, updated_by=actor)
            session.add(review)
        session.flush()
        alto = store.read_bytes(f"{stored.prefix}/{alto_path}")
        current = {line.id: line.text for line in alto_edit.read_lines(alto)}
        applied = []
        for change in changes:
            text = " ".join(alto_edit.nfc(change.text).split())
            loaded = " ".join(alto_edit.nfc(change.loaded).split())
            if change.line not in current:
                session.rollback()
                raise BadInput(f"page {number} has no line {change.line!r}", stored.prefix,
                               "open the page again: its lines may have changed")
            if text == loaded and text == current[change.line]:
                result.unchanged.append(change.line)
                continue
            if current[change.line] != loaded:
                if current[change.line] == text:  # someone saved the same text: nothing to do
                    result.unchanged.append(change.line)
                    continue
                event = last_correction(session, item, number, change.line)
                result.conflicts.append(Conflict(line=change.line, yours=text, theirs=current[change.line],
                                                 by=event.actor if event is not None else "",
                                                 at=event.at if event is not None else None))
                continue
            if text == loaded:
                result.unchanged.append(change.line)
                continue
            alto = alto_edit.apply_line(alto, change.line, text)
            applied.append((change.line, loaded, text))
        if not applied:
            session.rollback()
            return result
        now = _now()
        with tempfile.TemporaryDirectory(prefix="digitize-review-") as work:
            folder = Path(work)
            page_text = textlayer.plain_text(textlayer.read_alto(alto))
            changed = {alto_path: _put(store, folder, stored.prefix, alto_path, alto)}
            if text_path is not None:
                changed[text_path] = _put(store, folder, stored.prefix, text_path,
                                          page_text + "\n" if page_text else "")
        _record_outputs(session, item, changed)
        for line, before, after in applied:
            session.add(ReviewEvent(item=item.id, at=now, actor=actor, action=CORRECTED, state_from=item.review_state,
                                    state_to=item.review_state, pages=[number], detail={
                                        "page": number, "line": line, "before": before, "after": after,
                                        "characters": len(before), "changed": levenshtein(before, after),
                                        "profile": stored.profile}))
            result.saved.append(line)
        review.state, review.updated, review.updated_by = CORRECTED, now, actor
        item.updated = now
        # the page's new words in the index, in the same transaction (one commit, as fast as a save)
        indexed = indexing.searchable(item) and search.replace_page(session, item.library, item.item_id, number,
                                                                    page_text, commit=False)
        session.commit()
    if not indexed:  # not in the index yet (or no longer searchable): the whole item
        reindex(session, store, item, stored, {number: page_text + "\n" if page_text else ""})
    return result


def _pdf_pages(store: Store, stored: Stored, folder: Path) -> list[PdfPage]:
    pages = []
    for page in sorted(stored.package.pages, key=lambda p: p.number):
        image, alto = stored.path(page.image), stored.path(page.alto)
        for relative in (image, alto):
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(store.read_bytes(f"{stored.prefix}/{relative}"))
        with Image.open(folder / image) as shown:
            grey, size = shown.mode in ("L", "1"), shown.size
        pages.append(PdfPage(image=folder / image, alto=folder / alto, width=size[0], height=size[1], dpi=page.dpi,
                             grey=grey))
    return pages


def _store_mets(session: Session, store: Store, item: Item, stored: Stored, document: bytes,
                changed: dict[str, FileFacts], folder: Path) -> None:
    """The new METS and the manifest stored.json, as new versions, and the ledger's outputs."""
    changed = dict(changed)
    changed["mets.xml"] = _put(store, folder, stored.prefix, "mets.xml", document)
    try:
        manifest = read_manifest(store, f"{stored.prefix}/{MANIFEST}")
        objects = {**manifest.objects, **changed}
        url = manifest.store
    except Exception:  # an item stored before manifests: one is made
        objects, url = dict(changed), store.url(stored.prefix)
    changed[MANIFEST] = _put(store, folder, stored.prefix, MANIFEST,
                             StoredManifest(store=url, objects=dict(sorted(objects.items()))).model_dump_json(indent=1))
    with answering(session):
        _record_outputs(session, item, changed)
        item.updated = _now()
        session.commit()


def publish_corrections(session: Session, store: Store, item: Item, actor: str) -> list[str]:
    """Make the item's text and its PDF/A's text layer again from its corrected ALTO, and write its
    METS again with their checksums and a PREMIS modification event naming ``actor`` (see the
    module). Returns the paths (in the item) of the files made again; nothing when no page was
    corrected since the METS was written."""
    stored = read_stored(store, item)
    files = {f.id: f for f in stored.package.files}
    by_path = {mets.stored_path(stored.package, f): f for f in stored.package.files}
    # the page files review changed since: their checksums differ from the METS's
    changed: dict[str, FileFacts] = {}
    with answering(session):
        recorded = {row.path: row for row in session.scalars(select(Output).where(Output.item == item.id))}
    for path, entry in by_path.items():
        if entry.use in ("alto", "text") and path in recorded and recorded[path].sha256 != entry.sha256:
            changed[path] = FileFacts(size=recorded[path].size, sha256=recorded[path].sha256)
    if not changed:
        return []
    with answering(session):
        pages = sorted({p for (p,) in session.execute(select(PageReview.page).where(
            PageReview.item == item.id, PageReview.state == CORRECTED))})
    description = stored.package.description
    with tempfile.TemporaryDirectory(prefix="digitize-publish-") as work:
        folder = Path(work)
        texts = []
        for page in sorted(stored.package.pages, key=lambda p: p.number):
            texts.append(store.read_bytes(f"{stored.prefix}/{stored.path(page.text)}").decode("utf-8")
                         if page.text in files else "")
        text_entry = files.get("text-item")
        if text_entry is not None:
            relative = mets.stored_path(stored.package, text_entry)
            changed[relative] = _put(store, folder, stored.prefix, relative, "\f".join(texts))
        pdf_entry = next((f for f in stored.package.files if f.use == "access"), None)
        if pdf_entry is not None:
            relative = mets.stored_path(stored.package, pdf_entry)
            info = PdfInfo(title=dublincore.title(description), creators=dublincore.creators(description),
                           languages=description.languages, identifier=item.item_id)
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            facts = build_pdfa(_pdf_pages(store, stored, folder / "pages"), folder / relative, info)
            store.put(folder / relative, f"{stored.prefix}/{relative}", facts.sha256, new_version=True)
            changed[relative] = facts
        ids = {mets.stored_path(stored.package, f): f.id for f in stored.package.files}
        agent = amend.person(actor)
        event = Event(id=amend.next_event_id(stored.document, "review-correction"), type="modification",
                      date=packaging.now(), agents=[agent.id], outcome="success",
                      objects=[ids[p] for p in changed if p in ids],
                      detail=f"OCR text corrected by {actor} in review"
                             + (f" (pages {', '.join(str(p) for p in pages)})" if pages else "")
                             + ": corrected words are marked CS=\"true\" in the ALTO, each keeping what OCR read as "
                               "its ALTERNATIVE; the item's text and the PDF/A's text layer made again from the "
                               "corrected ALTO; the replaced files are kept as a previous version")
        document = amend.amend(stored.document, f"{stored.prefix}/mets.xml", event, agent,
                               {ids[p]: facts for p, facts in changed.items() if p in ids})
        _store_mets(session, store, item, stored, document, changed, folder)
    indexing.index_stored(session, store, item)
    return sorted(changed)


def record_event_in_mets(session: Session, store: Store, item: Item, action: str, actor: str, detail: str,
                         outcome: str = "success", pages: list[int] | None = None) -> str:
    """Carry a review action (``accepted``, ``returned``, ...: ReviewEvent actions) into the item's
    METS as a PREMIS event (type: PREMIS_TYPES) whose agent is the staff member ``actor``; the METS
    and stored.json stored as new versions. Returns the event's id."""
    stored = read_stored(store, item)
    agent = amend.person(actor)
    event = Event(id=amend.next_event_id(stored.document, f"review-{action}"), type=PREMIS_TYPES.get(action, action),
                  date=packaging.now(), agents=[agent.id], outcome=outcome,
                  detail=f"{action} by {actor}" + (f" (pages {', '.join(str(p) for p in pages)})" if pages else "")
                         + (f": {detail}" if detail else ""))
    document = amend.amend(stored.document, f"{stored.prefix}/mets.xml", event, agent)
    with tempfile.TemporaryDirectory(prefix="digitize-review-") as work:
        _store_mets(session, store, item, stored, document, {}, Path(work))
    return event.id


def search_finds(session: Session, item: Item, words: str) -> bool:
    """Whether a staff search for ``words`` finds the item (a check for tools and tests)."""
    found = search.search(session, words, {"open", "restricted"}, library=item.library, page_size=100)
    return any(hit.item_id == item.item_id for hit in found.hits)


def mark_checked(session: Session, item: Item, number: int, actor: str) -> None:
    """A reviewer looked at page ``number`` and found nothing to correct: a page not yet reviewed or
    flagged becomes "clean" (its flags kept); a corrected page stays corrected."""
    with answering(session):
        review = session.get(PageReview, (item.id, number), with_for_update=True)
        if review is None:
            session.add(PageReview(item=item.id, page=number, state="clean", flags=None, updated_by=actor,
                                   updated=_now()))
        elif review.state == "flagged":
            review.state, review.updated, review.updated_by = "clean", _now(), actor
        session.commit()
