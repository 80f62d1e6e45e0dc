"""Searchable PDF/A-2b: each page is the cleaned colour or grey image with the OCR's invisible
text layer on top (digitize.capture.textlayer). Written and validated with pikepdf.pdfa (no Ghostscript re-rendering, so the
images and the text pass through untouched)."""

from __future__ import annotations

import gc
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pikepdf
from pikepdf import Name

from digitize.core import files
from digitize.capture import textlayer
from digitize.core.errors import OutputInvalid
from digitize.core.models import FileFacts

FLAVOUR = "2b"


@dataclass
class PdfPage:
    image: Path  # JPEG of the page as shown
    alto: Path  # the page's ALTO, positions in the image's pixels
    width: int  # pixels
    height: int
    dpi: int
    grey: bool


@dataclass
class PdfInfo:
    """What the XMP metadata says: the same values as the item's Dublin Core record."""

    title: str
    creators: list[str]
    languages: list[str]  # as in the DC record, e.g. ["vie"]
    identifier: str


def _image_page(pdf: pikepdf.Pdf, page: PdfPage, font: pikepdf.Object) -> None:
    width_pt, height_pt = page.width * 72.0 / page.dpi, page.height * 72.0 / page.dpi
    image = pikepdf.Stream(pdf, page.image.read_bytes())
    image.Type, image.Subtype = Name.XObject, Name.Image
    image.Width, image.Height, image.BitsPerComponent = page.width, page.height, 8
    image.ColorSpace = Name.DeviceGray if page.grey else Name.DeviceRGB
    image.Filter = Name.DCTDecode
    words = textlayer.content(textlayer.read_alto(page.alto.read_bytes()), page.height, page.dpi)
    drawing = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q\n".encode() + words
    pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
        Type=Name.Page, MediaBox=[0, 0, width_pt, height_pt],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image),
                                     Font=pikepdf.Dictionary(GlyphLess=font)),
        Contents=pikepdf.Stream(pdf, drawing))))


def _describe(pdf: pikepdf.Pdf, info: PdfInfo) -> None:
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = info.title
        if info.creators:
            meta["dc:creator"] = info.creators
        elif "dc:creator" in meta:
            del meta["dc:creator"]
        meta["dc:language"] = info.languages
        meta["dc:identifier"] = info.identifier
        meta["xmp:CreatorTool"] = "digitize"


def redescribe_pdfa(target: Path, info: PdfInfo) -> FileFacts:
    """Give a written PDF/A new metadata (the item's description changed), pages untouched; the
    file is replaced atomically, hashed as it is written, and validated again."""
    with pikepdf.open(io.BytesIO(target.read_bytes())) as pdf:
        _describe(pdf, info)
        with files.atomic_writer(target) as out:
            pdf.save(out, deterministic_id=True)
            out.flush()
            problems = validate_pdfa(Path(out.name))
            if problems:
                raise OutputInvalid(f"PDF/A-{FLAVOUR} validation failed after new metadata: {problems[0]}",
                                    str(target), "report this item to the maintainers")
    return out.written


def build_pdfa(pages: list[PdfPage], target: Path, info: PdfInfo) -> FileFacts:
    """Write a PDF/A-2b file, hashed as it is written; raises OutputInvalid (and writes nothing) if
    it does not validate."""
    import pikepdf.pdfa  # imported here: a third of a second, not needed before an item is assembled

    pdf = pikepdf.new()
    font = textlayer.font(pdf)
    for page in pages:
        _image_page(pdf, page, font)
    _describe(pdf, info)
    pinned = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        if not pinned:
            with files.atomic_writer(target) as out:
                pikepdf.pdfa.save(pdf, out, FLAVOUR, output_intent="sRGB", deterministic_id=True)
            return out.written
        with tempfile.TemporaryFile() as first:
            pikepdf.pdfa.save(pdf, first, FLAVOUR, output_intent="sRGB", deterministic_id=True)
            first.seek(0)
            return _pin_metadata_date(first, target, int(pinned))
    except pikepdf.pdfa.PdfaError as exc:
        raise OutputInvalid(f"PDF/A-{FLAVOUR} validation failed: {exc}", str(target),
                            "report this page set to the maintainers") from None


def _pin_metadata_date(saved, target: Path, epoch: int) -> FileFacts:
    """pikepdf stamps the time of saving into the XMP; reproducible builds want the pinned time."""
    moment = datetime.fromtimestamp(epoch, timezone.utc).isoformat()
    with pikepdf.open(saved) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["xmp:MetadataDate"] = moment
        del pdf.trailer.ID  # made again from the content, which no longer holds the time of saving
        with files.atomic_writer(target) as out:
            pdf.save(out, deterministic_id=True)
            out.flush()
            problems = validate_pdfa(Path(out.name))
            if problems:
                raise OutputInvalid(f"PDF/A-{FLAVOUR} validation failed: {problems[0]}", str(target),
                                    "report this page set to the maintainers")
    return out.written


def validate_pdfa(path: Path) -> list[str]:
    """Reasons the file is not PDF/A-2b (empty when it is)."""
    import pikepdf.pdfa

    report = pikepdf.pdfa.validate_written(path, FLAVOUR)
    if not report.passed:
        # pikepdf takes any Python warning raised while it parses a page as a fault of the page,
        # also one of another thread (a socket the store left to the garbage collector): a real
        # fault of the file is found again
        gc.collect()
        report = pikepdf.pdfa.validate_written(path, FLAVOUR)
    return [] if report.passed else [str(f) for f in report.findings]
