"""An item's package: the masters copied in beside the outputs (checksums verified), every file
listed with size and SHA-256, and the PREMIS events of what was done, ready for METS."""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from digitize import __version__
from digitize.core.errors import OutputInvalid
from digitize.describe import virus_check
from digitize.core import files
from digitize.core.files import nfc, safe_component
from digitize.core.models import (Agent, Description, Event, FileEntry, FileFacts, FileFormat, ItemMetadata, ItemPackage,
                             PageImage, PageRecord, PageSource, Profile)

MIMETYPES = {"TIFF": "image/tiff", "JPEG": "image/jpeg", "PNG": "image/png", "JPEG2000": "image/jp2",
             "PDF": "application/pdf",
             ".pdf": "application/pdf", ".xml": "application/xml", ".txt": "text/plain"}
ALTO_MIMETYPE = "application/alto+xml"


def _moment(when: datetime) -> str:
    """ISO time in UTC, to the second; SOURCE_DATE_EPOCH (the reproducible-builds convention) caps
    it, so that two runs of the same batch can be made to give byte-identical metadata."""
    pinned = os.environ.get("SOURCE_DATE_EPOCH")
    if pinned:
        when = min(when, datetime.fromtimestamp(int(pinned), timezone.utc))
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def now() -> str:
    return _moment(datetime.now(timezone.utc))


def href(base: str, relative: str) -> str:
    """Where a file of the item is kept: its store URL (base = the item's URL in the store)."""
    return f"{base}/{quote(relative)}" if base else relative


def entry(folder: Path, relative: str, facts: FileFacts, file_id: str, use: str, mimetype: str,
          base: str = "", identified: FileFormat | None = None) -> FileEntry:
    """A file of the package, with the size and SHA-256 taken when it was written (and its format,
    as PRONOM identified it)."""
    modified = (folder / relative).stat().st_mtime
    return FileEntry(id=file_id, use=use, href=href(base, relative), mimetype=mimetype, size=facts.size,
                     sha256=facts.sha256, created=_moment(datetime.fromtimestamp(modified, timezone.utc)),
                     format=identified)


def copy_masters(pages: list[PageSource], folder: Path) -> dict[Path, tuple[str, FileFacts]]:
    """Copy each original once into masters/, hashed as it is copied, and check the copy's SHA-256
    against intake's. Returns, per original, the copy's path in the item and its facts."""
    copied: dict[Path, tuple[str, FileFacts]] = {}
    masters = folder / "masters"
    # masters already in the item (a rescan keeps the other pages' masters): not copied, names kept
    kept = {page.path: page for page in pages if page.path.parent == masters}
    used: set[str] = {path.name for path in kept}
    for page in pages:
        if page.path in copied:
            continue
        if page.path in kept:
            copied[page.path] = (f"masters/{page.path.name}", FileFacts(size=page.size, sha256=page.sha256))
            continue
        name = safe_component(nfc(page.path.name))
        if name in used:  # another original whose name reads the same
            name = f"{len(copied) + 1:04d}-{name}"
        used.add(name)
        relative = f"masters/{name}"
        try:
            facts = files.copy_hashed(page.path, folder / relative, expected=page.sha256)
        except files.ChecksumMismatch:
            raise OutputInvalid("the copy of the master differs from the original as it was received (SHA-256)",
                                str(folder / relative), "check the disk and the original; the item is run "
                                "again next time") from None
        original = page.path.stat()  # the copy keeps the scan's time, which its METS entry gives
        os.utime(folder / relative, ns=(original.st_atime_ns, original.st_mtime_ns))
        copied[page.path] = (relative, facts)
    return copied


def agents(meta: ItemMetadata, records: list[PageRecord]) -> list[Agent]:
    tools = records[0].tools
    return [Agent(id="digitize", name="digitize", kind="software", version=__version__),
            Agent(id="tesseract", name="Tesseract OCR", kind="software", version=tools.get("tesseract", "")),
            Agent(id="pikepdf", name="pikepdf", kind="software", version=tools.get("pikepdf", "")),
            Agent(id="library", name=meta.library, kind="organization")]


def events(meta: ItemMetadata, profile: Profile, pages: list[PageSource], records: list[PageRecord],
           masters: dict[Path, FileEntry], files: list[FileEntry], ingested: str, warnings: list[str]) -> list[Event]:
    master_ids = [f.id for f in masters.values()]
    by_use = {use: [f.id for f in files if f.use == use] for use in ("access", "alto", "text")}
    found = [
        Event(id="ingestion", type="ingestion", date=ingested, outcome="success", agents=["digitize", "library"],
              detail=f"{len(pages)} page images in {len(masters)} files received; SHA-256 of each recorded",
              objects=master_ids),
        Event(id="intake-validation", type="validation", date=ingested, agents=["digitize"], objects=master_ids,
              detail=f"every image decoded in full; resolution checked against profile {profile.name} "
                     f"(at least {profile.min_dpi} dpi)" + ("; every PDF opened unrepaired and checked: not encrypted, "
                                                            "no scripts, within the page and nesting limits"
                                                            if any(p.format == "PDF" for p in pages) else ""),
              outcome="warning" if warnings else "success", outcome_detail="; ".join(warnings)),
        Event(id="master-fixity", type="fixity check", date=now(), outcome="success", agents=["digitize"],
              detail="masters copied into the package; SHA-256 of each copy equals the original's",
              objects=master_ids),
    ]
    found[1:1] = virus_check.events(pages, masters)  # the scan at intake, before anything was decoded
    for page, record in zip(pages, records):
        if page.dpi_method != "tag":
            found.append(resolution_event(page, record, masters[page.path].id, ingested))
        found.append(Event(
            id=f"page-{record.number:04d}-geometry", type="modification", date=record.processed or ingested,
            agents=["digitize"], objects=[masters[page.path].id], outcome="success",
            detail=(f"page {record.number}: page {page.frame + 1} of the PDF, rendered at {record.dpi} dpi and kept "
                    "as drawn (not turned, deskewed or cropped: its own text layer is kept where the PDF has it)"
                    if record.text_source == "pdf" else
                    f"page {record.number}: orientation turned {record.orientation} degrees clockwise; deskew angle "
                    f"{record.skew:.2f} degrees (measured skew, counter-clockwise); cropped to "
                    f"{record.width}x{record.height} pixels; background flattened for OCR (copy only; the master "
                    "is unchanged)" + ("; blank page (no ink found): not read by OCR" if record.blank else ""))))
    confidences = ", ".join(f"{r.number}: {r.confidence}" for r in records)
    mean = [r.confidence for r in records if r.confidence is not None]
    found += [
        Event(id="ocr", type="creation", date=max((r.processed for r in records), default=ingested),
              agents=["tesseract", "digitize"], objects=by_use["alto"] + by_use["text"], outcome="success",
              detail=(f"OCR: Tesseract {records[0].tools.get('tesseract', '')}, languages "
                      f"{'+'.join(profile.languages)}, profile {profile.name}"
                      + ("; draft text, needs human transcription" if profile.needs_transcription else "")
                      + (f"; not read by OCR: {'page' if len(kept) == 1 else 'pages'} "
                         f"{', '.join(str(r.number) for r in kept)}, whose text is the PDF's own text layer "
                         "(pdftotext), as the profile's pdf_text says"
                         if (kept := [r for r in records if r.text_source == "pdf"]) else "")
                      + (f"; diacritics corrected in {corrected} words (each ALTO String keeps what OCR read as "
                         "its ALTERNATIVE)" if (corrected := sum(r.corrections for r in records)) else "")),
              outcome_detail=(f"mean word confidence {sum(mean) / len(mean):.2f}" if mean else "no words found")
              + f" (per page: {confidences})"),
        Event(id="pdfa-creation", type="creation", date=now(), agents=["pikepdf", "digitize"],
              objects=by_use["access"], outcome="success",
              detail="searchable PDF/A-2b: the page images with the invisible OCR text layer"),
        Event(id="pdfa-validation", type="validation", date=now(), agents=["pikepdf"], objects=by_use["access"],
              outcome="success", detail="PDF/A-2b conformance checked with pikepdf.pdfa after writing"),
    ]
    return found


def resolution_event(page: PageSource, record: PageRecord, master: str, ingested: str) -> Event:
    """How the resolution of a page whose file's own was not used was found (stated or estimated)."""
    tag = f"the file records {page.dpi_tag} dpi" if page.dpi_tag is not None else "the file records no believable dpi"
    how = ("stated by the operator (item metadata dpi, or digitize run --dpi)" if page.dpi_method == "stated"
           else page.dpi_method)
    if page.format == "PDF" and page.dpi_tag is None:
        tag = "the page is drawn by the PDF, not one scanned image"
    sure = page.dpi_method == "stated" or page.dpi_method.startswith("rendered")
    return Event(id=f"page-{record.number:04d}-resolution", type="metadata extraction", date=ingested,
                 agents=["digitize"], objects=[master], outcome="success" if sure else "warning",
                 detail=f"page {record.number}: resolution {page.dpi} dpi, {how}; {tag}; used for OCR, the PDF page "
                        "size and the technical metadata",
                 outcome_detail=page.dpi_note)


def build_package(meta: ItemMetadata, description: Description, profile: Profile, pages: list[PageSource],
                  records: list[PageRecord], folder: Path, outputs: dict[str, FileFacts], ingested: str,
                  warnings: list[str], base: str = "", output_formats: dict[str, FileFormat] | None = None,
                  identifier: Agent | None = None) -> ItemPackage:
    """The item's package from its written outputs (``outputs``: facts by path in the item, to
    which the masters are added as they are copied). ``base``: the item's URL in the store, which
    the hrefs name (relative hrefs without one). ``output_formats``: the outputs' formats as
    ``identifier`` (the PRONOM identification tool) found them; the masters' come with their pages."""
    formats = {page.path: page.format for page in pages}
    identified = {page.path: page.identified for page in pages}
    found = (output_formats or {}).get
    masters = {}
    for number, (path, (relative, facts)) in enumerate(copy_masters(pages, folder).items(), start=1):
        outputs[relative] = facts
        masters[path] = entry(folder, relative, facts, f"master-{number:04d}", "master",
                              MIMETYPES.get(formats[path], ""), base, identified[path])
    package_files = list(masters.values())
    pdf = f"{meta.id}.pdf"
    package_files.append(entry(folder, pdf, outputs[pdf], "access-pdf", "access", MIMETYPES[".pdf"], base, found(pdf)))
    images = []
    for page, record in zip(pages, records):
        alto = entry(folder, record.alto_file, outputs[record.alto_file], f"alto-{record.number:04d}", "alto",
                     ALTO_MIMETYPE, base, found(record.alto_file))
        text = entry(folder, record.text_file, outputs[record.text_file], f"text-{record.number:04d}", "text",
                     MIMETYPES[".txt"], base, found(record.text_file))
        image = entry(folder, record.image_file, outputs[record.image_file], f"image-{record.number:04d}", "image",
                      MIMETYPES["JPEG"], base, found(record.image_file))
        package_files += [image, alto, text]
        images.append(PageImage(number=record.number, label=str(record.number), master=masters[page.path].id,
                                frame=page.frame, width=page.width, height=page.height, dpi=page.dpi,
                                dpi_tag=page.dpi_tag, dpi_method=page.dpi_method, mode=page.mode,
                                format=page.format, image=image.id, image_width=record.width,
                                image_height=record.height, alto=alto.id, text=text.id,
                                blank=record.blank, direction=record.direction,
                                not_syllables=record.not_syllables))
    text = f"{meta.id}.txt"
    package_files.append(entry(folder, text, outputs[text], "text-item", "text", MIMETYPES[".txt"], base,
                               found(text)))
    found_events = events(meta, profile, pages, records, masters, package_files, ingested, warnings)
    found_agents = agents(meta, records) + virus_check.agents(pages)
    if identifier is not None:  # after the intake's virus checks, as Archivematica orders them
        found_agents.append(identifier)
        after_checks = 1 + sum(event.type == "virus check" for event in found_events)
        found_events[after_checks:after_checks] = identification_events(masters, pages, package_files, ingested,
                                                                         identifier)
    return ItemPackage(item_id=meta.id, library=meta.library, category=meta.category, access=meta.access,
                       created=now(), description=description, agents=found_agents, files=package_files,
                       pages=images, events=found_events)


def identification_events(masters: dict[Path, FileEntry], pages: list[PageSource], files: list[FileEntry],
                          ingested: str, identifier: Agent) -> list[Event]:
    """The PREMIS `format identification` events (as Archivematica records them, with the tool and
    its signature version): the masters' at intake, each checked against its extension, and the
    outputs' once written. Each file's PUID is in its own PREMIS object; the outcome counts the
    formats found and names each file not identified or whose content contradicts its extension."""
    names = {masters[page.path].id: page.file_name for page in pages}
    detail = (f'program="{identifier.name}"; version="{identifier.version}"; PRONOM signatures matched against '
              "the content of each file (its extension where no signature matched)")
    found = []
    for event_id, date, group, checked in (
            ("format-identification-masters", ingested, [f for f in files if f.use == "master"],
             "; each master's extension checked against its content"),
            ("format-identification-outputs", now(), [f for f in files if f.use != "master"], "")):
        formats = [(e, e.format or FileFormat(basis="none")) for e in group]
        counts = Counter(_format_label(fmt) for _, fmt in formats if fmt.puid)
        faults = [f"{e.id}: not identified" for e, fmt in formats if fmt.basis == "none"]
        faults += [f"{e.id} ({names.get(e.id, e.id)}): the content is {_format_label(fmt)}, the extension says "
                   f"{fmt.expected}" for e, fmt in formats if fmt.expected]
        by_extension = sum(fmt.basis == "extension" for _, fmt in formats)
        notes = [", ".join(f"{label}: {count} file{'s' * (count != 1)}" for label, count in counts.items()), *faults]
        if by_extension:
            notes.append(f"{by_extension} files identified by their extension (their format has no signature)")
        if group:
            found.append(Event(id=event_id, type="format identification", date=date,
                               agents=[identifier.id, "digitize"], objects=[e.id for e in group],
                               detail=detail + checked, outcome="warning" if faults else "success",
                               outcome_detail="; ".join(notes)))
    return found


def _format_label(fmt: FileFormat) -> str:
    return f"{fmt.puid} ({f'{fmt.name} {fmt.version}'.strip()})"


def identifiers(meta: ItemMetadata, base: str) -> list[str]:
    """The DC identifiers: the item id and where its access copy is kept."""
    return [meta.id, href(base, f"{meta.id}.pdf")]
