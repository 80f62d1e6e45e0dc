"""Exports of the stored items for other systems.

- BagIt bags (RFC 8493), one per item, for preservation copies and transfers to national
  repositories: the item's stored files, each verified against the SHA-256 of its stored.json
  manifest while it is copied, with sha256 payload and tag manifests.
- A DCAT dataset description (JSON-LD) of a library's public digitized collection, pointing at
  its OAI-PMH endpoint, for data portals.
- A MARCXML collection of a library's public digitized items, for a union catalogue.

Public outputs (``public=True`` bags, the DCAT record, the MARCXML) hold only items that are open,
stored ("ok") and not withdrawn; restricted and secret items never appear in them.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.errors import DigitizeError
from digitize.ingest import nfc
from digitize.ledger import Item, Library, is_public
from digitize.storage import MANIFEST, StorageError

MASTERS = "masters/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
OAI_PMH = "http://www.openarchives.org/OAI/2.0/"
DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "void": "http://rdfs.org/ns/void#",
}
CATEGORY_KEYWORDS = {"dia_chi": "tài liệu địa chí", "rare": "tài liệu quý hiếm",
                     "endogenous": "tài liệu nội sinh", "other": "tài liệu khác"}
DIGITAL_COPY = "Bản số"


class ExportError(DigitizeError):
    """An export could not be made (a missing or changed stored file, a bag already there)."""

    exit_code = 65


def bag_name(library: str, item_id: str) -> str:
    return f"{library}_{item_id}"


# --- BagIt -----------------------------------------------------------------------------------

def _library_code_and_name(library: str | Library, session: Session | None) -> tuple[str, str]:
    if isinstance(library, Library):
        return library.code, library.name or library.code
    row = session.get(Library, library) if session is not None else None
    return library, (row.name if row is not None and row.name else library)


def export_bag(store, library: str | Library, item_id: str, target_dir: Path, masters: bool = True,
               session: Session | None = None) -> Path:
    """Write one BagIt bag of a stored item into ``target_dir``/<library>_<item_id> and return its
    path. ``library``: its code, or its Library row (then Source-Organization is its name; with a
    code, the name is looked up in ``session`` when one is given, else the code is used).

    The payload (data/) is every object the item's stored.json lists (the PDF/A, the full text,
    mets.xml, dc.xml, alto/, text/ and masters/), minus masters/ when ``masters`` is false;
    each is checked against the manifest's size and SHA-256 as it is copied, so a bag never holds
    a file that changed in the store. Raises ExportError (nothing is left behind) on a mismatch,
    a missing manifest, or when the bag folder already exists."""
    import bagit

    code, name = _library_code_and_name(library, session)
    target_dir = Path(target_dir)
    final = target_dir / bag_name(code, item_id)
    if final.exists():
        raise ExportError("a bag of this item is already there", str(final),
                          "move or delete it first (bags are never overwritten)")
    prefix = f"{code}/{item_id}/"
    try:
        objects = json.loads(store.read_bytes(prefix + MANIFEST))["objects"]
    except (StorageError, OSError, KeyError, ValueError) as exc:
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
            if len(data) != recorded["size"] or hashlib.sha256(data).hexdigest() != recorded["sha256"]:
                raise ExportError("the stored file differs from its manifest (size or SHA-256)",
                                  store.url(prefix + relative), "run digitize audit; restore the file from a copy")
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        bagit.make_bag(str(staging), bag_info={"Source-Organization": name, "External-Identifier": item_id,
                                               "Internal-Sender-Identifier": f"{code}/{item_id}"},
                       checksums=["sha256"])
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
    from digitize import mets

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
    from digitize.ingest import sha256_file

    files = sorted((p for p in bag.rglob("*") if p.is_file()), key=lambda p: (p.parent == bag, p.as_posix()))
    keys = {f"{bag.name}/{p.relative_to(bag).as_posix()}": p for p in files}
    existing = target_store.keys(f"{bag.name}/")
    if existing:
        if set(existing) != set(keys) or any(target_store.read_sha256(k) != sha256_file(keys[k]) for k in existing):
            report.skipped.append((bag.name, f"a different bag is already at {target_store.url(bag.name)}; "
                                             "remove it first (bags are never overwritten)"))
            return
    for key, path in keys.items():
        target_store.put(path, key, sha256_file(path))
    report.written.append(target_store.url(bag.name))


def export_bags(session: Session, store, items: list[str] | None, target: str, masters: bool = True,
                public: bool = False) -> ExportReport:
    """Bags of stored items. ``items``: "LIBRARY/ITEM" strings, or None for every stored
    (status ok), non-withdrawn item in the ledger. With ``public``, items that are not open
    (restricted, secret) are skipped, and so is an item whose stored METS does not say open.
    ``target``: a local folder, or a store URL (file:///path, s3://bucket/prefix) where the bags
    are built in a temporary folder and uploaded under <bag name>/. Returns what was written and
    what was skipped, with the reasons."""
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

    if urlparse(str(target)).scheme in ("file", "s3"):
        from digitize.storage import open_store

        target_store = open_store(target)
        work = Path(tempfile.mkdtemp(prefix="digitize-bags-"))
    else:
        target_store, work = None, Path(target)
    try:
        for row in chosen:
            spec = f"{row.library}/{row.item_id}"
            library = session.get(Library, row.library) or row.library
            try:
                bag = export_bag(store, library, row.item_id, work, masters=masters)
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


# --- DCAT ------------------------------------------------------------------------------------

def _public_items(session: Session, library_code: str) -> list[Item]:
    return list(session.scalars(select(Item).where(is_public(), Item.library == library_code,
                                                    Item.withdrawn.is_(None)).order_by(Item.item_id)))


def _date(moment: datetime | date | None) -> str:
    if isinstance(moment, datetime):
        return moment.date().isoformat()
    return moment.isoformat() if moment else ""


def dcat_record(session: Session, library_code: str, oai_url: str, today: date) -> dict:
    """A DCAT dataset (JSON-LD) describing a library's public digitized collection.

    - the count of public items is ``void:entities`` (VoID: "the total number of entities that
      are described in this dataset"), an xsd:integer; DCAT itself has no count property, and
      dct:extent expects a SizeOrDuration node rather than a number
    - ``dct:license`` is CC0: it covers the metadata (the records harvested over OAI-PMH), not
      the digitized documents, whose rights each record states (dc:rights)
    - ``dct:modified`` is the latest ledger datestamp (updated, else digitized) of the library's
      open stored items, withdrawn ones included (a withdrawal changes what is harvested); ``today``
      when there are none yet. ``dct:issued`` of the record itself is ``today``.
    Only items that are open, stored and not withdrawn are counted; restricted and secret items
    leave no trace (no id, title or count)."""
    library = session.get(Library, library_code)
    name = nfc(library.name if library is not None else library_code)
    public = _public_items(session, library_code)
    stamps = [i.updated or i.digitized for i in session.scalars(select(Item).where(
        is_public(), Item.library == library_code))]
    modified = max((s for s in stamps if s is not None), default=None)
    keywords = ["số hóa", "thư viện số", "tài liệu số"]
    keywords += [CATEGORY_KEYWORDS.get(c, c) for c in sorted({i.category for i in public})]
    count = len(public)
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{oai_url}#dataset-{library_code}",
        "@type": "dcat:Dataset",
        "dct:identifier": library_code,
        "dct:title": {"@value": f"Bộ sưu tập số của {name}", "@language": "vi"},
        "dct:description": {"@value": (
            f"Tài liệu số hóa truy cập mở của {name}: {count} tài liệu (bản PDF/A, văn bản nhận dạng "
            "ALTO và siêu dữ liệu METS, MODS, Dublin Core). Siêu dữ liệu được cung cấp qua OAI-PMH."),
            "@language": "vi"},
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": name},
        "dct:license": {"@id": CC0},
        "dct:issued": {"@value": _date(today), "@type": "xsd:date"},
        "dct:modified": {"@value": _date(modified) or _date(today), "@type": "xsd:date"},
        "dcat:keyword": [{"@value": nfc(k), "@language": "vi"} for k in dict.fromkeys(keywords)],
        "void:entities": {"@value": str(count), "@type": "xsd:integer"},
        "dcat:distribution": [{
            "@type": "dcat:Distribution",
            "dct:title": {"@value": "Thu thập siêu dữ liệu qua OAI-PMH", "@language": "vi"},
            "dcat:accessURL": {"@id": oai_url},
            "dct:format": "application/xml",
            "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/application/xml"},
            "dct:conformsTo": {"@id": OAI_PMH},
            "dct:license": {"@id": CC0},
        }],
    }


# --- MARCXML union catalogue -----------------------------------------------------------------

def _isbd(text: str, mark: str) -> str:
    return text if not text or text.rstrip().endswith(mark.strip()) else f"{text}{mark}"


def _fixed_field(year: str, language: str, entered: date) -> str:
    year = year if len(year) == 4 and year.isdigit() else "    "
    language = (language + "   ")[:3] if language else "vie"
    # 00-05 entered, 06 type of date, 07-10 date 1, 11-14 date 2, 15-17 place (Vietnam), 18-22,
    # 23 form of item (o: online), 24-34, 35-37 language, 38 modified, 39 cataloguing source
    return (f"{entered:%y%m%d}{'s' if year.strip() else 'n'}{year}    " + "vm " + " " * 5 + "o"
            + " " * 5 + "000 0 " + language + " d")


def catalogue_record(package, item: Item, library_name: str):
    """A MARC21 bibliographic record (pymarc) of a digitized item, from its stored METS package."""
    from pymarc import Field, Indicators, Leader, Record, Subfield

    d = package.description
    record = Record(force_utf8=True, leader=Leader("     nam a22     7i 4500"))

    def add(tag: str, indicators: tuple[str, str], *pairs: tuple[str, str]) -> None:
        subfields = [Subfield(code, nfc(value)) for code, value in pairs if value]
        if subfields:
            record.add_ordered_field(Field(tag=tag, indicators=Indicators(*indicators), subfields=subfields))

    record.add_ordered_field(Field(tag="001", data=nfc(d.control_number or item.control_number or item.item_id)))
    record.add_ordered_field(Field(tag="003", data=item.library))
    record.add_ordered_field(Field(tag="007", data="cr |||||||||||"))
    language = d.languages[0] if d.languages else "vie"
    record.add_ordered_field(Field(tag="008", data=_fixed_field(d.date_w3cdtf[:4], language,
                                                                 (item.digitized or datetime.now()).date())))
    if len(d.languages) > 1:
        add("041", ("0", " "), *(("a", code) for code in d.languages))
    main = next((n for n in d.names if n.primary), None)
    names = [n for n in d.names if n is not main]

    def role(name) -> str:
        return "" if name.role in ("creator", "contributor") else name.role

    if main is not None:
        tag, first = ("100", "1") if main.kind == "personal" else ("110", "2")
        add(tag, (first, " "), ("a", _isbd(main.name, ",") if role(main) else _isbd(main.name, ".")),
            ("e", _isbd(role(main), ".")))
    title = d.title
    title_pairs = [("a", _isbd(title, " :") if d.subtitle else (_isbd(title, " /") if d.responsibility else
                                                                  _isbd(title, ".")))]
    if d.subtitle:
        title_pairs.append(("b", _isbd(d.subtitle, " /") if d.responsibility else _isbd(d.subtitle, ".")))
    if d.responsibility:
        title_pairs.append(("c", _isbd(d.responsibility, ".")))
    add("245", ("1" if main is not None else "0", "0"), *title_pairs)
    if d.place or d.publisher or d.date:
        add("264", (" ", "1"), ("a", _isbd(d.place, " :") if d.publisher else _isbd(d.place, ",")),
            ("b", _isbd(d.publisher, ",") if d.date else d.publisher), ("c", d.date))
    pages = len(package.pages)
    extent = d.extent or f"{pages} trang ảnh"
    main_extent, _, dimensions = extent.partition(" ; ")
    extent_a, _, extent_b = main_extent.partition(" : ")
    add("300", (" ", " "), ("a", _isbd(extent_a, " :") if extent_b else (_isbd(extent_a, " ;") if dimensions
                                                                          else extent_a)),
        ("b", _isbd(extent_b, " ;") if dimensions else extent_b), ("c", dimensions))
    for note in d.notes:
        add("500", (" ", " "), ("a", note))
    add("506", ("0", " "), ("a", "Truy cập mở (open access)"))
    add("533", (" ", " "), ("a", "Bản số hóa"), ("c", library_name), ("d", str(item.digitized.year)
                                                                         if item.digitized else ""),
        ("e", f"{pages} trang ảnh"))
    for subject in d.subjects:
        head, *subdivisions = subject.split(" -- ")
        add("650", (" ", "4"), ("a", head), *(("x", s) for s in subdivisions))
    for place in d.places:
        add("651", (" ", "4"), ("a", place))
    for name in names:
        tag, first = ("700", "1") if name.kind == "personal" else ("710", "2")
        add(tag, (first, " "), ("a", name.name), ("e", role(name)))
    add("852", (" ", " "), ("a", library_name), ("b", item.library), ("h", d.call_number or item.call_number))
    access = next((f for f in package.files if f.use == "access" and f.mimetype == "application/pdf"), None)
    if access is not None:
        add("856", ("4", " "), ("u", access.href), ("q", "application/pdf"), ("y", DIGITAL_COPY))
    return record


def union_catalogue_marcxml(session: Session, store, library_code: str) -> bytes:
    """A MARCXML collection with a record per public digitized item of the library (open, stored,
    not withdrawn, and open in its stored METS too), built from the item's stored METS; 856 $u is
    the stored access PDF as the METS names it. Text is NFC."""
    from pymarc import XMLWriter

    library = session.get(Library, library_code)
    library_name = nfc(library.name if library is not None else library_code)
    buffer = io.BytesIO()
    writer = XMLWriter(buffer)
    for item in _public_items(session, library_code):
        package = _stored_package(store, library_code, item.item_id)
        if package.access != "open":
            continue  # the ledger and the package disagree: the stricter one wins
        writer.write(catalogue_record(package, item, library_name))
    writer.close(close_fh=False)
    return buffer.getvalue()
