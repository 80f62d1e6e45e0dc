"""The work on one page and on one item, as plain functions (digitize.engine.batch schedules them).

Output layout of an item (see README):
  <out>/<library>/<item_id>/<item_id>.pdf   searchable PDF/A-2b
  <out>/<library>/<item_id>/<item_id>.txt   the item's text, pages separated by form feeds
  <out>/<library>/<item_id>/text/0001.txt   text per page (NFC)
  <out>/<library>/<item_id>/alto/0001.xml   ALTO per page
  <out>/<library>/<item_id>/pages/0001.json processing record per page
  <out>/<library>/<item_id>/masters/         copies of the originals (checksums verified)
  <out>/<library>/<item_id>/dc.xml           Dublin Core (oai_dc)
  <out>/<library>/<item_id>/mets.xml         METS with MODS, DC, PREMIS; every file with SHA-256
  <out>/<library>/<item_id>/stored.json     what the store holds of the item, with sizes and SHA-256
  <out>/<library>/<item_id>/item.json       the run's record of the item (not stored)

Every output is hashed as it is written; that SHA-256 goes into the METS, the store's check and
the manifest, so no output is read again to hash it (the store's copy reads it once).
"""

from __future__ import annotations

import io
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import PIL
import pikepdf
from PIL import Image

from lxml import etree

from digitize import __version__
from digitize.describe import dublincore, marc, mets, package, schemas
from digitize.capture import formats, imaging, ocr, pdfsource
from digitize.core.errors import BadInput, StorageError
from digitize.core.files import write_atomic
from digitize.capture.pagefiles import load_page
from digitize.core.models import (Description, Event, FileFacts, ItemMetadata, ItemRecord, ItemResult, PageRecord,
                             PageSource, Problem, Profile, Severity, Status, StoredManifest)
from digitize.capture.pdf import PdfInfo, PdfPage, build_pdfa, redescribe_pdfa
from digitize.store.storage import MANIFEST, Store

WORK = ".work"
ITEM_RECORD = "item.json"
STORE_THREADS = 4  # objects of an item sent to the store at once
MAX_OCR_DEATHS = 2


def item_dir(out: Path, meta: ItemMetadata) -> Path:
    return out / meta.library / meta.id


@lru_cache
def tool_versions() -> dict[str, str]:
    return {"digitize": __version__, "tesseract": ocr.tesseract_version(), "opencv": cv2.__version__,
            "pillow": PIL.__version__, "pikepdf": pikepdf.__version__}


def page_files(folder: Path, number: int) -> dict[str, Path]:
    stem = f"{number:04d}"
    return {"text": folder / "text" / f"{stem}.txt", "alto": folder / "alto" / f"{stem}.xml",
            "record": folder / "pages" / f"{stem}.json", "image": folder / "images" / f"{stem}.jpg",
            "ocr_marker": folder / WORK / f"{stem}.ocr-started"}


def finished_page(files: dict[str, Path], page: PageSource) -> PageRecord | None:
    """The record of this page if an earlier run already finished it from the same original."""
    if not files["record"].exists():
        return None
    record = PageRecord.model_validate_json(files["record"].read_text(encoding="utf-8"))
    if (record.source_sha256 != page.sha256 or record.frame != page.frame or record.dpi != page.dpi
            or record.text_source != page.text_source):
        return None
    if not (files["image"].exists() and files["alto"].exists() and record.outputs):
        return None
    return record


@contextmanager
def crash_guard(marker: Path, page: PageSource):
    """Tesseract runs inside the worker process, so a page that crashes it takes the run down. The
    marker counts the OCR starts that never came back (the process died); after MAX_OCR_DEATHS of
    them the page is reported as bad, so the next run finishes the rest of the batch."""
    deaths = int(marker.read_text(encoding="ascii") or 0) if marker.exists() else 0
    if deaths >= MAX_OCR_DEATHS:
        raise BadInput(f"the process died {deaths} times while Tesseract read this page", page.name,
                       "check the page image (rescan it if it looks damaged); its marker "
                       f"{marker.name} in the item's {WORK} folder, deleted, gives it another try")
    write_atomic(marker, str(deaths + 1))
    try:
        yield
    finally:  # reached on success and on errors: only a dead process leaves the marker behind
        marker.unlink(missing_ok=True)


def prepare(pixels, page: PageSource, profile: Profile) -> imaging.Prepared:
    """The page prepared for OCR; what OpenCV or numpy say about a page they cannot work on becomes a
    reason an operator can act on (their own words go to the log, for the maintainers)."""
    try:
        return imaging.prepare_page(pixels, page.dpi, profile.preprocessing, profile.direction)
    except (cv2.error, ValueError, IndexError, ArithmeticError) as exc:
        logging.getLogger(__name__).warning("a page image could not be prepared: %r", exc)
        raise BadInput(f"the page image ({page.width}x{page.height} pixels, colour mode {page.mode or 'unknown'}) "
                       "could not be prepared for OCR: the image library cannot work on its pixels",
                       todo="open it in an image viewer to check it, then save it again as an 8-bit grey or "
                            "colour TIFF or PNG, or rescan the page") from None


def process_page(page: PageSource, profile: Profile, folder: Path, ocr_timeout: int = 600) -> PageRecord:
    """Prepare, OCR and record one page. Safe to call again: a finished page is not redone."""
    files = page_files(folder, page.number)
    done = finished_page(files, page)
    if done is not None:
        return done
    dpi, timings = page.dpi, {}
    clock = time.perf_counter()
    pixels = load_page(page)
    timings["load"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # a PDF page whose own text is kept is shown as drawn: turned or cropped, it would lose its words' places
    prepared = pdfsource.as_drawn(pixels) if page.text_source == "pdf" else prepare(pixels, page, profile)
    timings["prepare"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if page.text_source == "pdf":
        result = pdfsource.kept_text(page, prepared.display.shape[1], prepared.display.shape[0], profile.languages)
    elif prepared.blank:  # nothing to read: no OCR time spent on it
        result = ocr.blank_page(prepared.display.shape[1], prepared.display.shape[0], page.name)
    else:
        with crash_guard(files["ocr_marker"], page):
            reading = profile.reading(prepared.direction)
            result = ocr.recognize(prepared.ocr, reading.languages, max(1, round(dpi * prepared.ocr_scale)),
                                   reading.page_segmentation, timeout=ocr_timeout, scale=prepared.ocr_scale,
                                   source=page.name, correct_diacritics=profile.correct_diacritics)
    timings["ocr"] = time.perf_counter() - clock

    clock = time.perf_counter()
    files["image"].parent.mkdir(parents=True, exist_ok=True)
    grey = prepared.display.ndim == 2
    image = io.BytesIO()
    Image.fromarray(prepared.display).save(image, "JPEG", quality=profile.jpeg_quality, dpi=(dpi, dpi),
                                           optimize=False)
    outputs = {str(files[kind].relative_to(folder)): write_atomic(files[kind], data)
               for kind, data in (("image", image.getvalue()), ("text", result.text), ("alto", result.alto))}
    timings["write"] = time.perf_counter() - clock

    height, width = prepared.display.shape[:2]
    record = PageRecord(
        number=page.number, source=page.name, source_sha256=page.sha256, frame=page.frame,
        width=width, height=height, dpi=dpi, dpi_tag=page.dpi_tag, dpi_method=page.dpi_method,
        dpi_estimate=page.dpi_estimate, mode="grey" if grey else "colour",
        orientation=prepared.orientation, skew=prepared.skew, crop=prepared.crop,
        line_height=prepared.line_height, ocr_scale=round(prepared.ocr_scale, 3), direction=prepared.direction,
        confidence=result.confidence, words=result.words, corrections=result.corrections,
        not_syllables=result.not_syllables, blank=prepared.blank, text_source=page.text_source,
        dark=dark_share(pixels),
        text_file=str(files["text"].relative_to(folder)), alto_file=str(files["alto"].relative_to(folder)),
        image_file=str(files["image"].relative_to(folder)),
        timings={k: round(v, 3) for k, v in timings.items()}, tools=tool_versions(), processed=package.now(),
        outputs=outputs)
    write_atomic(files["record"], record.model_dump_json(indent=1))  # last: marks the page done
    return record


def mean_confidence(records: list[PageRecord]) -> float | None:
    values = [r.confidence for r in records if r.confidence is not None]
    return round(sum(values) / len(values), 2) if values else None


def not_syllables(records: list[PageRecord]) -> float | None:
    """The item's share of words that are not Vietnamese syllables (its pages weighted by their words)."""
    judged = [r for r in records if r.not_syllables is not None and r.words]
    return round(sum(r.not_syllables * r.words for r in judged) / sum(r.words for r in judged), 4) if judged else None


def to_review(meta: ItemMetadata, profile: Profile, records: list[PageRecord]) -> list[Problem]:
    """A warning for each page with more words that are not Vietnamese syllables than the profile allows."""
    if profile.review_above is None:
        return []
    return [Problem(item=meta.id, file=r.source, severity=Severity.warning,
                    reason=f"to review: {r.not_syllables:.0%} of the words OCR read on page {r.number} are not "
                           f"Vietnamese syllables (profile {profile.name} lists pages above "
                           f"{profile.review_above:.0%}); check the scan and the text")
            for r in records if r.not_syllables is not None and r.not_syllables > profile.review_above]


DARK = 48  # grey level under which a pixel is black (ink is darker, but no page is black all over)
DARK_PAGE = 0.9  # share of black pixels that makes a page worth a look when OCR read nothing on it


def dark_share(pixels) -> float:
    """The share of a page image's pixels that are (nearly) black, measured on a reduced grey copy."""
    gray = imaging.to_gray(pixels)
    factor = min(1.0, 500 / max(gray.shape[:2]))
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else gray
    return round(float((small < DARK).mean()), 3)


def dark_pages(meta: ItemMetadata, records: list[PageRecord]) -> list[Problem]:
    """A warning for each page that is black (almost) all over and gave no words: an all-black page
    would otherwise pass as a page with nothing written on it."""
    return [Problem(item=meta.id, file=r.source, severity=Severity.warning,
                    reason=f"page {r.number} is black all over ({r.dark:.0%} of it) and OCR read no words on it: "
                           "a lens cap, a lamp that failed or a scanner fault? Look at the scan and rescan the "
                           "page if it holds text")
            for r in records if r.dark >= DARK_PAGE and not r.words]


def describe(meta: ItemMetadata, catalogue: list) -> Description:
    """The item's catalogue record, matched by control number or call number, crosswalked; or,
    without one, what its own metadata says."""
    record = marc.match(catalogue, call_number=meta.call_number, control_number=meta.control_number)
    if record is None:
        return dublincore.from_item(meta)
    return marc.describe(record).model_copy(update={"rights": meta.rights})  # the catalogue says no licence


def pdf_info(description: Description, meta: ItemMetadata) -> PdfInfo:
    """The PDF/A's XMP metadata: the same values as the item's Dublin Core record."""
    return PdfInfo(title=dublincore.title(description), creators=dublincore.creators(description),
                   languages=description.languages, identifier=meta.id)


def write_dc(description: Description, meta: ItemMetadata, identifiers: list[str], folder: Path) -> FileFacts:
    dc = dublincore.oai_dc(description, meta, identifiers)
    schemas.validate(dc, str(folder / "dc.xml"))
    return write_atomic(folder / "dc.xml", etree.tostring(dc, xml_declaration=True, encoding="UTF-8",
                                                          pretty_print=True))


def assemble_item(meta: ItemMetadata, description: Description, profile: Profile, pages: list[PageSource],
                  records: list[PageRecord], folder: Path, problems: list[Problem], seconds: float,
                  ingested: str, base: str = "") -> ItemRecord:
    """Join the pages of a finished item into its PDF/A, text, Dublin Core and package (the masters
    copied in), each file hashed as it is written, and keep the item's record in item.json. The
    METS is written when the item is stored (store_item). ``base`` is the item's URL in the store,
    named by the METS hrefs and the DC identifier."""
    records = sorted(records, key=lambda r: r.number)
    outputs: dict[str, FileFacts] = {}
    for record in records:
        outputs.update(record.outputs)
    pdf = f"{meta.id}.pdf"
    outputs[pdf] = build_pdfa(
        [PdfPage(image=folder / r.image_file, alto=folder / r.alto_file, width=r.width, height=r.height, dpi=r.dpi,
                 grey=r.mode == "grey") for r in records], folder / pdf,
        pdf_info(description, meta))
    texts = [(folder / r.text_file).read_text(encoding="utf-8") for r in records]
    outputs[f"{meta.id}.txt"] = write_atomic(folder / f"{meta.id}.txt", "\f".join(texts))
    if profile.needs_transcription:
        outputs["text/NEEDS_TRANSCRIPTION.txt"] = write_atomic(
            folder / "text" / "NEEDS_TRANSCRIPTION.txt",
            f"The text of this item was read by OCR with profile {profile.name} and is only a draft: it needs "
            "human transcription before it is used as the item's text.\n")
    identifiers = package.identifiers(meta, base)
    outputs["dc.xml"] = write_dc(description, meta, identifiers, folder)
    warnings = [f"{p.file}: {p.reason}" for p in problems if p.severity == "warning"]
    problems = [*problems, *to_review(meta, profile, records), *dark_pages(meta, records)]
    item_package = package.build_package(meta, description, profile, pages, records, folder, outputs, ingested,
                                         warnings, base, formats.identify_files(folder, list(outputs)),
                                         formats.agent())
    result = ItemResult(item_id=meta.id, library=meta.library, secret=meta.access == "secret", status=Status.ok,
                        pages=len(records), mean_confidence=mean_confidence(records),
                        not_syllables=not_syllables(records), pdf=str(folder / pdf),
                        output_dir=str(folder), seconds=round(seconds, 2), problems=problems)
    record = ItemRecord(metadata=meta, profile=profile.name, needs_transcription=profile.needs_transcription,
                        result=result, pages=records, package=item_package, identifiers=identifiers,
                        outputs=dict(sorted(outputs.items())))
    write_atomic(folder / ITEM_RECORD, record.model_dump_json(indent=1))
    shutil.rmtree(folder / WORK, ignore_errors=True)
    return record


def metadata_changes(record: ItemRecord, meta: ItemMetadata, description: Description) -> list[str]:
    """What differs between a finished item's metadata and its metadata now (names of fields)."""
    # the profile and the resolution change how the pages are made, not the item's description
    before, now = (m.model_dump(exclude={"profile", "dpi"}) for m in (record.metadata, meta))
    changed = [key for key in now if before.get(key) != now[key]]
    if record.package.description != description:
        changed.append("description")
    return changed


def redescribe_item(record: ItemRecord, meta: ItemMetadata, description: Description, folder: Path,
                    changed: list[str]) -> ItemRecord:
    """A finished item whose metadata changed: its Dublin Core and the PDF/A's metadata are made
    again (the pages are not), its package takes the new description with a PREMIS event, and the
    returned record is ready to be stored as a new version (its METS is written then)."""
    pdf = f"{meta.id}.pdf"
    outputs = dict(record.outputs)
    outputs[pdf] = redescribe_pdfa(folder / pdf, pdf_info(description, meta))
    outputs["dc.xml"] = write_dc(description, meta, record.identifiers, folder)
    item_package = record.package.model_copy(deep=True, update={
        "description": description, "access": meta.access, "category": meta.category})
    for entry in item_package.files:
        if entry.id == "access-pdf":
            entry.size, entry.sha256 = outputs[pdf].size, outputs[pdf].sha256
    updates = sum(event.type == "metadata modification" for event in item_package.events)
    item_package.events.append(Event(
        id=f"metadata-update-{updates + 1}", type="metadata modification", date=package.now(),
        agents=["digitize"], objects=["access-pdf"], outcome="success",
        detail=f"item metadata changed ({', '.join(changed)}): Dublin Core, METS and the PDF/A's metadata made "
               "again; the pages are unchanged; the stored copies are kept as a previous version"))
    updated = record.model_copy(update={"metadata": meta, "package": item_package, "outputs": outputs,
                                        "stored": None, "new_version": True, "result": record.result.model_copy(
                                            update={"stored": None, "secret": meta.access == "secret",
                                                    "replaced_pages": []})})
    write_atomic(folder / ITEM_RECORD, updated.model_dump_json(indent=1))
    return updated


def item_key(meta: ItemMetadata) -> str:
    return f"{meta.library}/{meta.id}"


def store_item(record: ItemRecord, folder: Path, store: Store, new_version: bool = False) -> tuple[StoredManifest, int]:
    """Push every output of a finished item to the store with the SHA-256 taken when it was
    written (the store checks it), then write the METS, once, with its storage event, and push it,
    and the manifest stored.json last. Returns the manifest and how many objects were sent (0 when
    all were there already). Raises StorageUnavailable when the store cannot be reached: what was
    sent stays, and the next run sends the rest. With ``new_version`` a changed object replaces
    the stored one, which is kept as a previous version."""
    meta, prefix = record.metadata, item_key(record.metadata)
    url = store.url(prefix)
    objects = dict(record.outputs)
    with ThreadPoolExecutor(max_workers=STORE_THREADS) as pool:  # copies and uploads wait on disk and network
        sent = sum(pool.map(lambda item: store.put(folder / item[0], f"{prefix}/{item[0]}", item[1].sha256,
                                                   new_version=new_version), objects.items()))
    item_package = record.package.model_copy(deep=True)
    item_package.events.append(Event(
        id="storage", type="replication", date=package.now(), agents=["digitize"], outcome="success",
        objects=[f.id for f in item_package.files],
        detail=f"stored at {url}: {len(objects)} files, each sent with its SHA-256 (checked by the store) and "
               "verified after upload"))
    earlier = record.stored.objects if record.stored is not None else {}
    for name, data in (("mets.xml", lambda: mets.render(item_package, meta, record.identifiers,
                                                         str(folder / "mets.xml"))),
                       (MANIFEST, lambda: StoredManifest(store=url, objects=objects).model_dump_json(indent=1))):
        if name in earlier and (folder / name).exists():  # stored before: sent again as it was, if missing
            objects[name] = earlier[name]
        else:
            objects[name] = write_atomic(folder / name, data())
        sent += store.put(folder / name, f"{prefix}/{name}", objects[name].sha256, new_version=new_version)
    return StoredManifest(store=url, objects=objects), sent


def mark_stored(folder: Path, record: ItemRecord, manifest: StoredManifest) -> ItemRecord:
    stored = record.model_copy(update={"result": record.result.model_copy(update={"stored": manifest.store}),
                                       "stored": manifest})
    write_atomic(folder / ITEM_RECORD, stored.model_dump_json(indent=1))
    return stored


def read_record(folder: Path) -> ItemRecord | None:
    path = folder / ITEM_RECORD
    if not path.exists():
        return None
    try:
        return ItemRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:  # a record from an older version of digitize: the item is made again
        return None


def same_pages(record: ItemRecord, pages: list[PageSource]) -> bool:
    return [(p.source_sha256, p.frame) for p in record.pages] == [(p.sha256, p.frame) for p in pages]


def finished_item(folder: Path, pages: list[PageSource]) -> ItemRecord | None:
    """The record of an earlier run that finished this item from the same originals."""
    record = read_record(folder)
    if record is None or not same_pages(record, pages) or record.result.status != Status.ok:
        return None
    if not Path(record.result.pdf).exists():
        return None
    return record


def page_changes(record: ItemRecord, pages: list[PageSource]) -> str:
    """How the pages of an item's folder differ from those it was made from: "added: 0004.tif; gone: ..."."""
    stored = {p.source: (p.source_sha256, p.frame) for p in record.pages}
    found = {p.name: (p.sha256, p.frame) for p in pages}
    differences = [("added", [name for name in found if name not in stored]),
                   ("gone", [name for name in stored if name not in found]),
                   ("changed", [name for name in found if name in stored and found[name] != stored[name]])]
    return "; ".join(f"{what}: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}"
                     for what, names in differences if names) or "the same files in another order"


def stored_from_other_pages(folder: Path, pages: list[PageSource]) -> bool:
    """Whether the item kept in ``folder`` was stored from other originals than ``pages``."""
    record = read_record(folder)
    return record is not None and record.stored is not None and not same_pages(record, pages)


# --- the stored version of an item: what a rescan keeps, and the pages a reviewer corrected ---

@dataclass(frozen=True)
class StoredPage:
    """A page of an item's stored version, as its stored METS lists it: its master's SHA-256 and
    frame, and its page image, ALTO and text (path in the item, size and SHA-256)."""

    number: int
    master: str  # the master's path in the item
    master_sha256: str
    frame: int
    files: dict[str, tuple[str, FileFacts]]  # image | alto | text: (path in the item, facts)
    width: int  # the page image's pixels
    height: int


def stored_pages(store: Store, key: str) -> dict[int, StoredPage]:
    """The pages of the item stored under ``key``, by number ({} when nothing is stored there)."""
    if store.head(f"{key}/mets.xml") is None:
        return {}
    stored = mets.read(store.read_bytes(f"{key}/mets.xml"))
    entries = {entry.id: entry for entry in stored.files}

    def facts(entry_id: str | None) -> tuple[str, FileFacts] | None:
        entry = entries.get(entry_id)
        return entry and (mets.stored_path(stored, entry), FileFacts(size=entry.size, sha256=entry.sha256))

    found = {}
    for page in stored.pages:
        master = entries[page.master]
        kinds = {kind: facts(getattr(page, kind)) for kind in ("image", "alto", "text")}
        found[page.number] = StoredPage(
            number=page.number, master=mets.stored_path(stored, master), master_sha256=master.sha256,
            frame=page.frame, files={kind: value for kind, value in kinds.items() if value is not None},
            width=page.image_width or page.width, height=page.image_height or page.height)
    return found


def fetch_stored(store: Store, key: str, folder: Path, relative: str, facts: FileFacts,
                 local: FileFacts | None = None) -> FileFacts:
    """Make the item folder's copy of a stored object the stored one: kept when ``local`` (what
    this folder wrote and stored) is the stored object and the file is there, else read from the
    store and checked against its SHA-256."""
    path = folder / relative
    if local is not None and local == facts and path.is_file() and path.stat().st_size == facts.size:
        return facts
    written = write_atomic(path, store.read_bytes(f"{key}/{relative}"))
    if written.sha256 != facts.sha256:
        raise StorageError("the stored object differs from the SHA-256 its item's METS records", store.url(
            f"{key}/{relative}"), "run digitize audit for the item and repair it, then run again")
    return written


def corrected(alto: bytes) -> bool:
    """Whether an ALTO page carries a reviewer's correction (a String with CS="true")."""
    root = etree.fromstring(alto, etree.XMLParser(no_network=True, resolve_entities=False))
    return bool(root.xpath("//*[local-name()='String'][@CS='true']"))


def take_stored_pages(records: list[PageRecord], folder: Path, store: Store, key: str,
                      stored: dict[int, StoredPage], numbers: set[int] | None = None
                      ) -> tuple[list[PageRecord], list[int]]:
    """Pages taken over from the item's stored version as they are (page image, ALTO, text), and
    their numbers: the pages ``numbers`` names (a rescan's pages kept), or, without it, each page
    whose master is unchanged and whose stored ALTO carries a reviewer's correction (a run again of
    the item: reviewed pages are not read over). A page whose master changed is never taken."""
    taken, kept = [], []
    for record in records:
        page = stored.get(record.number)
        if page is None or page.master_sha256 != record.source_sha256 or page.frame != record.frame \
                or not {"image", "alto", "text"} <= page.files.keys() \
                or (numbers is not None and record.number not in numbers):
            taken.append(record)
            continue
        if numbers is None and not corrected(store.read_bytes(f"{key}/{page.files['alto'][0]}")):
            taken.append(record)
            continue
        outputs = {}
        for kind in ("image", "alto", "text"):
            relative, facts = page.files[kind]
            outputs[relative] = fetch_stored(store, key, folder, relative, facts, record.outputs.get(relative))
        record = record.model_copy(update={
            "image_file": page.files["image"][0], "alto_file": page.files["alto"][0],
            "text_file": page.files["text"][0], "width": page.width, "height": page.height, "outputs": outputs})
        write_atomic(page_files(folder, record.number)["record"], record.model_dump_json(indent=1))
        taken.append(record)
        kept.append(record.number)
    return taken, kept


def changed_pages(records: list[PageRecord], stored: dict[int, StoredPage]) -> list[int]:
    """The pages whose master differs from the stored version's (none when nothing is stored)."""
    return [r.number for r in records if stored and (r.number not in stored or (
        stored[r.number].master_sha256, stored[r.number].frame) != (r.source_sha256, r.frame))]


def reviewed_pages_kept(record: ItemRecord, kept: list[int], changed: list[int] = ()) -> ItemRecord:
    """A note in the run's summary and a PREMIS event for the pages whose reviewed text was kept;
    the pages whose image changed (``changed``) noted in the result, to send the item back to review."""
    if changed:
        record = record.model_copy(update={"result": record.result.model_copy(update={
            "replaced_pages": list(changed)})})
    if not kept:
        if changed:
            write_atomic(Path(record.result.output_dir) / ITEM_RECORD, record.model_dump_json(indent=1))
        return record
    pages = ", ".join(map(str, kept))
    item_package = record.package.model_copy(deep=True)
    item_package.events.append(Event(
        id="reviewed-pages-kept", type="modification", date=package.now(), agents=["digitize"], outcome="success",
        objects=[f"alto-{n:04d}" for n in kept] + [f"text-{n:04d}" for n in kept],
        detail=f"page{'s' * (len(kept) > 1)} {pages}: the master image is unchanged and a reviewer corrected its "
               "text, so the reviewed ALTO and text of the stored version are kept; the page is not read over"))
    note = Problem(item=record.metadata.id, severity=Severity.warning, reason=(
        f"page{'s' * (len(kept) > 1)} {pages} keep{'s' * (len(kept) == 1)} the text a reviewer corrected (the "
        "page image is unchanged): not read over by OCR"))
    updated = record.model_copy(update={"package": item_package,
                                        "result": record.result.model_copy(update={
                                            "problems": [*record.result.problems, note]})})
    write_atomic(Path(record.result.output_dir) / ITEM_RECORD, updated.model_dump_json(indent=1))
    return updated
