"""Exports of the stored items for other systems.

- BagIt bags (RFC 8493), one per item, for preservation copies and transfers to national
  repositories: the item's stored files, each verified against the SHA-256 of its stored.json
  manifest while it is copied, with sha256 payload and tag manifests.
- A MARCXML collection of a library's public digitized items, for a union catalogue (each record
  written by ``digitize.describe.marc.catalogue_record``).

(The DCAT description of a library's collection is ``digitize.access.dcat``.)

Public outputs (``public=True`` bags, the MARCXML) hold only items that are open, stored ("ok")
and not withdrawn; restricted and secret items never appear in them.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core import files
from digitize.describe import publish
from digitize.core.errors import ExportError, StorageError, StorageUnavailable
from digitize.core.files import nfc
from digitize.ledger.database import Item, Library, is_public
from digitize.core.links import PublicLinks, check_public_url
from digitize.store.storage import MANIFEST, read_manifest

MASTERS = "masters/"


def _public_record(public):
    """A stored XML record (bytes) turned into its public form by ``public`` (digitize.describe.publish)."""
    def rewrite(data: bytes, links: PublicLinks, library: str, item_id: str) -> bytes:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        return etree.tostring(public(etree.fromstring(data, parser), links, library, item_id),
                              xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return rewrite


PUBLIC_RECORDS = {"dc.xml": _public_record(publish.public_dc), "mets.xml": _public_record(publish.public_mets)}


def bag_name(library: str, item_id: str) -> str:
    return f"{library}_{item_id}"


# --- BagIt -----------------------------------------------------------------------------------

def _library_code_and_name(library: str | Library, session: Session | None) -> tuple[str, str]:
    if isinstance(library, Library):
        return library.code, library.name or library.code
    row = session.get(Library, library) if session is not None else None
    return library, (row.name if row is not None and row.name else library)


def export_bag(store, library: str | Library, item_id: str, target_dir: Path, masters: bool = True,
               session: Session | None = None, links: PublicLinks | None = None, public: bool = False) -> Path:
    """Write one BagIt bag of a stored item into ``target_dir``/<library>_<item_id> and return its
    path. ``library``: its code, or its Library row (then Source-Organization is its name; with a
    code, the name is looked up in ``session`` when one is given, else the code is used).

    The payload (data/) is every object the item's stored.json lists (the PDF/A, the full text,
    mets.xml, dc.xml, alto/, text/ and masters/), minus masters/ when ``masters`` is false;
    each is checked against the manifest's size and SHA-256 as it is copied, so a bag never holds
    a file that changed in the store. Raises ExportError (nothing is left behind) on a mismatch,
    a missing manifest, or when the bag folder already exists.

    With ``links``, bag-info gives the item's page, IIIF manifest and PDF/A at their public
    addresses; a ``public`` bag (which needs them) holds the public dc.xml and mets.xml, which name
    those addresses instead of the store's locations."""
    import bagit

    code, name = _library_code_and_name(library, session)
    target_dir = Path(target_dir)
    final = target_dir / bag_name(code, item_id)
    if final.exists():
        raise ExportError("a bag of this item is already there", str(final),
                          "move or delete it first (bags are never overwritten)")
    prefix = f"{code}/{item_id}/"
    try:
        objects = read_manifest(store, prefix + MANIFEST).objects
    except (StorageError, OSError, ValueError) as exc:
        raise ExportError(f"the item's {MANIFEST} cannot be read ({type(exc).__name__})",
                          store.url(prefix + MANIFEST), "check that the item was stored (digitize audit)") from exc
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target_dir, prefix=f".{final.name}."))
    try:
        for relative, recorded in sorted(objects.items()):
            if not masters and relative.startswith(MASTERS):
                continue
            destination = (staging / relative).resolve()
            if not destination.is_relative_to(staging.resolve()) or relative == MANIFEST:
                raise ExportError("the manifest names a file outside the item", store.url(prefix + relative),
                                  "report this as a bug")
            try:
                data = store.read_bytes(prefix + relative)
            except (StorageError, OSError) as exc:
                raise ExportError(f"a stored file cannot be read ({type(exc).__name__})", store.url(prefix + relative),
                                  "run digitize audit; restore the file from a copy") from exc
            if len(data) != recorded.size or hashlib.sha256(data).hexdigest() != recorded.sha256:
                raise ExportError("the stored file differs from its manifest (size or SHA-256)",
                                  store.url(prefix + relative), "run digitize audit; restore the file from a copy")
            if public and relative in PUBLIC_RECORDS:
                data = PUBLIC_RECORDS[relative](data, links, code, item_id)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        info = {"Source-Organization": name, "External-Identifier": item_id,
                "Internal-Sender-Identifier": f"{code}/{item_id}"}
        if links is not None:
            info.update({"Item-Page": links.item(code, item_id), "IIIF-Manifest": links.manifest(code, item_id),
                         "Access-Copy": links.pdf(code, item_id)})
        bagit.make_bag(str(staging), bag_info=info, checksums=["sha256"])
        staging.chmod(0o755)  # mkdtemp makes it 0700
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)  # where each bag went (folder or store URL)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # ("LIBRARY/ITEM", reason)


def _stored_package(store, library: str, item_id: str):
    """The item's package as its stored METS describes it."""
    from digitize.describe import mets

    return mets.read(store.read_bytes(f"{library}/{item_id}/mets.xml"))


def _stored_access(store, library: str, item_id: str) -> str:
    """The access the item's stored METS records (a second check besides the ledger)."""
    try:
        return _stored_package(store, library, item_id).access.value
    except Exception:  # missing or unreadable: not shown as open
        return ""


def _upload_bag(bag: Path, target_store, report: ExportReport) -> None:
    """Every file of the bag under <bag name>/ in the target store; the tag files go last so an
    interrupted upload leaves no complete-looking bag. An identical bag already there is fine."""
    paths = sorted((p for p in bag.rglob("*") if p.is_file()), key=lambda p: (p.parent == bag, p.as_posix()))
    keys = {f"{bag.name}/{p.relative_to(bag).as_posix()}": p for p in paths}
    digests = {key: files.sha256_file(path) for key, path in keys.items()}
    existing = target_store.keys(f"{bag.name}/")
    if existing:
        if set(existing) != set(keys) or any(target_store.read_sha256(k) != digests[k] for k in existing):
            report.skipped.append((bag.name, f"a different bag is already at {target_store.url(bag.name)}; "
                                             "remove it first (bags are never overwritten)"))
            return
    for key, path in keys.items():
        target_store.put(path, key, digests[key])
    report.written.append(target_store.url(bag.name))


def _check_store_there(store) -> None:
    """A store that is gone (its folder moved or unmounted, its server down) stops the export with one
    message, instead of every item being skipped for it."""
    root = getattr(store, "root", None)
    if root is not None and not Path(root).is_dir():
        raise StorageUnavailable("the store is not there (its folder does not exist)", store.url(""),
                                 "check DIGITIZE_STORE (a disk moved or not mounted?), then export again; "
                                 "nothing was exported")
    store.head(MANIFEST)  # a server that cannot be reached, or a bucket that is not there, raises here


def export_bags(session: Session, store, items: list[str] | None, target: str, masters: bool = True,
                public: bool = False, links: PublicLinks | None = None) -> ExportReport:
    """Bags of stored items. ``items``: "LIBRARY/ITEM" strings, or None for every stored
    (status ok), non-withdrawn item in the ledger. With ``public``, items that are not open
    (restricted, secret) are skipped, and so is an item whose stored METS does not say open.
    ``target``: a local folder, or a store URL (file:///path, s3://bucket/prefix) where the bags
    are built in a temporary folder and uploaded under <bag name>/. Returns what was written and
    what was skipped, with the reasons."""
    if public and links is None:
        check_public_url("")  # raises, naming the setting: a public package links to the reading service
    report = ExportReport()
    if items is None:
        rows = session.scalars(select(Item).where(Item.status == "ok", Item.withdrawn.is_(None))
                               .order_by(Item.library, Item.item_id)).all()
        wanted = [(f"{r.library}/{r.item_id}", r) for r in rows]
    else:
        wanted = []
        for spec in items:
            library, _, item_id = spec.strip().strip("/").partition("/")
            row = session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id)).first()
            wanted.append((spec, row))
    chosen = []
    for spec, row in wanted:
        if row is None:
            report.skipped.append((spec, "not in the ledger (give it as LIBRARY/ITEM)"))
        elif row.status != "ok":
            report.skipped.append((spec, f"not stored (status {row.status})"))
        elif row.withdrawn is not None:
            report.skipped.append((spec, "withdrawn"))
        elif public and row.access != "open":
            report.skipped.append((spec, f"{row.access}: never in a public export"))
        elif public and (stored := _stored_access(store, row.library, row.item_id)) != "open":
            report.skipped.append((spec, f"its stored METS says {stored or 'nothing readable'} about access: "
                                         "never in a public export"))
        else:
            chosen.append(row)

    if chosen:
        _check_store_there(store)
    if urlparse(str(target)).scheme in ("file", "s3"):
        from digitize.store.storage import open_store

        target_store = open_store(target)
        work = Path(tempfile.mkdtemp(prefix="digitize-bags-"))
    else:
        target_store, work = None, Path(target)
    try:
        for row in chosen:
            spec = f"{row.library}/{row.item_id}"
            library = session.get(Library, row.library) or row.library
            try:
                bag = export_bag(store, library, row.item_id, work, masters=masters, links=links, public=public)
            except ExportError as exc:
                report.skipped.append((spec, str(exc)))
                continue
            if target_store is None:
                report.written.append(str(bag))
            else:
                try:
                    _upload_bag(bag, target_store, report)
                finally:
                    shutil.rmtree(bag, ignore_errors=True)
    finally:
        if target_store is not None:
            shutil.rmtree(work, ignore_errors=True)
    return report


# --- MARCXML union catalogue -----------------------------------------------------------------

def _public_items(session: Session, library_code: str) -> list[Item]:
    return list(session.scalars(select(Item).where(is_public(), Item.library == library_code,
                                                    Item.withdrawn.is_(None)).order_by(Item.item_id)))


def union_catalogue_marcxml(session: Session, store, library_code: str, links: PublicLinks) -> bytes:
    """A MARCXML collection with a record per public digitized item of the library (open, stored,
    not withdrawn, and open in its stored METS too), built from the item's stored METS; its 856
    fields link to the item page and the PDF/A under ``links``. Text is NFC."""
    from pymarc import XMLWriter

    from digitize.describe import marc

    library = session.get(Library, library_code)
    library_name = nfc(library.name if library is not None else library_code)
    buffer = io.BytesIO()
    writer = XMLWriter(buffer)
    for item in _public_items(session, library_code):
        package = _stored_package(store, library_code, item.item_id)
        if package.access != "open":
            continue  # the ledger and the package disagree: the stricter one wins
        writer.write(marc.catalogue_record(package, item, library_name, links))
    writer.close(close_fh=False)
    return buffer.getvalue()
