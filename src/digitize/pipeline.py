"""The work on one page and on one item, as plain functions (the Prefect flow only schedules them).

Output layout of an item (see README):
  <out>/<library>/<item_id>/<item_id>.pdf   searchable PDF/A-2b
  <out>/<library>/<item_id>/<item_id>.txt   the item's text, pages separated by form feeds
  <out>/<library>/<item_id>/text/0001.txt   text per page (NFC)
  <out>/<library>/<item_id>/alto/0001.xml   ALTO per page
  <out>/<library>/<item_id>/pages/0001.json processing record per page
  <out>/<library>/<item_id>/masters/         copies of the originals (checksums verified)
  <out>/<library>/<item_id>/dc.xml           Dublin Core (oai_dc)
  <out>/<library>/<item_id>/mets.xml         METS with MODS, DC, PREMIS; every file with SHA-256
  <out>/<library>/<item_id>/item.json       item record: metadata, pages, result
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import cv2
import PIL
import pikepdf
from PIL import Image

from lxml import etree

from digitize import __version__, dublincore, imaging, marc, mets, ocr, package, schemas
from digitize.errors import BadInput
from digitize.ingest import load_page, sha256_file
from digitize.models import Description, Event, ItemMetadata, ItemResult, PageRecord, PageSource, Problem, Profile
from digitize.pdf import PdfInfo, PdfPage, build_pdfa

WORK = ".work"
MAX_OCR_DEATHS = 2


def item_dir(out: Path, meta: ItemMetadata) -> Path:
    return out / meta.library / meta.id


@lru_cache
def tool_versions() -> dict[str, str]:
    return {"digitize": __version__, "tesseract": ocr.tesseract_version(), "opencv": cv2.__version__,
            "pillow": PIL.__version__, "pikepdf": pikepdf.__version__}


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write via a temporary file and rename, so a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    os.replace(tmp, path)


def page_files(folder: Path, number: int) -> dict[str, Path]:
    stem = f"{number:04d}"
    return {"text": folder / "text" / f"{stem}.txt", "alto": folder / "alto" / f"{stem}.xml",
            "record": folder / "pages" / f"{stem}.json", "image": folder / WORK / f"{stem}.jpg"}


def finished_page(files: dict[str, Path], page: PageSource) -> PageRecord | None:
    """The record of this page if an earlier run already finished it from the same original."""
    if not files["record"].exists():
        return None
    record = PageRecord.model_validate_json(files["record"].read_text(encoding="utf-8"))
    if record.source_sha256 != page.sha256 or record.frame != page.frame:
        return None
    if not (files["image"].exists() and files["alto"].exists()):
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


def process_page(page: PageSource, profile: Profile, folder: Path) -> PageRecord:
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
    prepared = imaging.prepare_page(pixels, dpi, profile.preprocessing)
    timings["prepare"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with crash_guard(files["image"].with_suffix(".ocr-started"), page):
        result = ocr.recognize(prepared.ocr, profile.languages, max(1, round(dpi * prepared.ocr_scale)),
                               profile.page_segmentation, scale=prepared.ocr_scale, source=page.name)
    timings["ocr"] = time.perf_counter() - clock

    clock = time.perf_counter()
    files["image"].parent.mkdir(parents=True, exist_ok=True)
    grey = prepared.display.ndim == 2
    Image.fromarray(prepared.display).save(files["image"], "JPEG", quality=profile.jpeg_quality,
                                           dpi=(dpi, dpi), optimize=False)
    write_atomic(files["text"], result.text)
    write_atomic(files["alto"], result.alto)
    timings["write"] = time.perf_counter() - clock

    height, width = prepared.display.shape[:2]
    record = PageRecord(
        number=page.number, source=page.name, source_sha256=page.sha256, frame=page.frame,
        width=width, height=height, dpi=dpi, mode="grey" if grey else "colour",
        orientation=prepared.orientation, skew=prepared.skew, crop=prepared.crop,
        line_height=prepared.line_height, ocr_scale=round(prepared.ocr_scale, 3),
        confidence=result.confidence, words=result.words,
        text_file=str(files["text"].relative_to(folder)), alto_file=str(files["alto"].relative_to(folder)),
        image_file=str(files["image"].relative_to(folder)),
        timings={k: round(v, 3) for k, v in timings.items()}, tools=tool_versions(), processed=package.now())
    write_atomic(files["record"], record.model_dump_json(indent=1))  # last: marks the page done
    return record


def mean_confidence(records: list[PageRecord]) -> float | None:
    values = [r.confidence for r in records if r.confidence is not None]
    return round(sum(values) / len(values), 2) if values else None


def describe(meta: ItemMetadata, catalogue: list) -> Description:
    """The item's catalogue record, matched by control number or call number, crosswalked; or,
    without one, what its own metadata says."""
    record = marc.match(catalogue, call_number=meta.call_number, control_number=meta.control_number)
    return marc.describe(record) if record is not None else dublincore.from_item(meta)


def assemble_item(meta: ItemMetadata, description: Description, profile: Profile, pages: list[PageSource],
                  records: list[PageRecord], folder: Path, problems: list[Problem], seconds: float,
                  ingested: str, base: str = "") -> ItemResult:
    """Join the pages of a finished item into its PDF/A, text, Dublin Core, METS and item record.
    ``base`` is the item's URL in the store, named by the METS hrefs and the DC identifier."""
    records = sorted(records, key=lambda r: r.number)
    pdf_path = folder / f"{meta.id}.pdf"
    build_pdfa([PdfPage(image=folder / r.image_file, alto=folder / r.alto_file,
                        width=r.width, height=r.height, dpi=r.dpi, grey=r.mode == "grey")
                for r in records], pdf_path,
               PdfInfo(title=dublincore.title(description), creators=dublincore.creators(description),
                       languages=description.languages, identifier=meta.id))
    texts = [(folder / r.text_file).read_text(encoding="utf-8") for r in records]
    write_atomic(folder / f"{meta.id}.txt", "\f".join(texts))
    if profile.needs_transcription:
        write_atomic(folder / "text" / "NEEDS_TRANSCRIPTION.txt",
                     f"The text of this item was read by OCR with profile {profile.name} and is only a "
                     "draft: it needs human transcription before it is used as the item's text.\n")
    identifiers = package.identifiers(meta, base)
    dc = dublincore.oai_dc(description, meta, identifiers)
    schemas.validate(dc, str(folder / "dc.xml"))
    write_atomic(folder / "dc.xml", etree.tostring(dc, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    warnings = [f"{p.file}: {p.reason}" for p in problems if p.severity == "warning"]
    item_package = package.build_package(meta, description, profile, pages, records, folder, pdf_path,
                                         ingested, warnings, base)
    mets.write(item_package, meta, identifiers, folder / "mets.xml")
    result = ItemResult(item_id=meta.id, library=meta.library, status="ok", pages=len(records),
                        mean_confidence=mean_confidence(records), pdf=str(pdf_path), output_dir=str(folder),
                        seconds=round(seconds, 2), problems=problems)
    record = {"metadata": meta.model_dump(mode="json"), "profile": profile.name,
              "needs_transcription": profile.needs_transcription, "result": result.model_dump(mode="json"),
              "pages": [r.model_dump(mode="json") for r in records]}
    write_atomic(folder / "item.json", json.dumps(record, ensure_ascii=False, indent=1))
    shutil.rmtree(folder / WORK, ignore_errors=True)
    return result


def item_key(meta: ItemMetadata) -> str:
    return f"{meta.library}/{meta.id}"


def stored_output(folder: Path, path: Path) -> bool:
    """Whether a file of the item goes to the store: not the run's own bookkeeping, which stays here
    (work files, the item record and the page records: they hold timings, so differ from run to run)."""
    parts = path.relative_to(folder).parts
    return not (WORK in parts or parts[0] == "pages" or path.name == "item.json" or path.name.startswith("."))


def store_item(meta: ItemMetadata, folder: Path, store, new_version: bool = False) -> tuple[str, int]:
    """Push every output of a finished item to the store, verified, the METS (with its storage
    event) and the manifest stored.json last. Returns the item's URL in the store and how many
    objects were sent (0 when all were there already). Raises StorageUnavailable when the store
    cannot be reached: what was sent stays, and the next run sends the rest. With ``new_version``
    a changed object replaces the stored one, which is kept as a previous version."""
    prefix = item_key(meta)
    last = ("mets.xml", "stored.json")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in last and stored_output(folder, p))
    manifest, sent = {}, 0
    for path in files:
        relative = path.relative_to(folder).as_posix()
        digest = sha256_file(path)
        sent += store.put(path, f"{prefix}/{relative}", digest, new_version=new_version)
        manifest[relative] = {"size": path.stat().st_size, "sha256": digest}
    mets_path = folder / "mets.xml"
    item_package = mets.read(mets_path)
    if not any(e.id == "storage" for e in item_package.events):
        item_package.events.append(Event(
            id="storage", type="replication", date=package.now(), agents=["digitize"], outcome="success",
            objects=[f.id for f in item_package.files],
            detail=f"stored at {store.url(prefix)}: {len(files)} files, each sent with its SHA-256 (checked "
                   "by the store) and verified after upload"))
        identifiers = package.identifiers(meta, store.url(prefix))
        mets.write(item_package, meta, identifiers, mets_path)
    for name in last:
        path = folder / name
        if name == "stored.json":
            write_atomic(path, json.dumps({"store": store.url(prefix), "objects": manifest}, ensure_ascii=False,
                                          indent=1))
        digest = sha256_file(path)
        sent += store.put(path, f"{prefix}/{name}", digest, new_version=new_version)
        manifest[name] = {"size": path.stat().st_size, "sha256": digest}
    return store.url(prefix), sent


def mark_stored(folder: Path, url: str) -> None:
    path = folder / "item.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["result"]["stored"] = url
    write_atomic(path, json.dumps(record, ensure_ascii=False, indent=1))


def finished_item(folder: Path, pages: list[PageSource]) -> ItemResult | None:
    """The result of an earlier run that finished this item from the same originals."""
    path = folder / "item.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    done = [(p["source_sha256"], p["frame"]) for p in record["pages"]]
    if done != [(p.sha256, p.frame) for p in pages] or record["result"]["status"] != "ok":
        return None
    if not Path(record["result"]["pdf"]).exists():
        return None
    return ItemResult.model_validate(record["result"])
