"""PDFs as input: an item's PDF (scanned by another agency, or born digital) checked before any
use, each of its pages taken as a page image, and the text a page already carries read back.

The PDF itself is the master, kept untouched; every page of it is a page of the item (as every
frame of a multi-page TIFF is). A page that is one scanned image (drawn over the whole page, as
scanners, OCRmyPDF and Pillow write them) is taken at the image's own resolution, its pixels
extracted with pikepdf without resampling, as OCRmyPDF does: the image's pixels over the page's
inches give its dpi. Any other page is rendered by poppler's pdftoppm.

What becomes of a page's own text is the profile's ``pdf_text``: ``auto`` keeps text drawn on the
page (born digital: exact, nothing for OCR to improve) and reads a scanned page by OCR again
(another tool's invisible OCR text is of unknown quality and language); ``keep`` keeps any text
layer; ``replace`` reads every page by OCR. Kept text comes from pdftotext's word boxes (ALTO);
its page is not turned, deskewed or cropped, so the words stay where the PDF has them.

Refused, each with a plain reason: encrypted, damaged or truncated files (opened without qpdf's
repair), scripts (JavaScript, launch actions, XFA forms), more than MAX_PAGES pages, a page longer
than MAX_PAGE_INCHES, objects nested deeper than MAX_DEPTH.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pikepdf
from lxml import etree
from PIL import Image

from digitize.capture import imaging, resolution
from digitize.capture.ocr import ALTO_NS, OcrResult
from digitize.capture import textlayer
from digitize.core import vietnamese
from digitize.core.errors import BadInput, ToolError
from digitize.core.i18n import N_
from digitize.core.models import PageSource, Profile

PDF_SUFFIXES = {".pdf"}
FORMAT = "PDF"  # the page's format, as PageSource and the METS name it
MAX_PAGES = 3000  # a book is under 1000 pages: more is not one item
MAX_PAGE_INCHES = 50  # longest side: an A0 sheet (46.8 in) fits
MAX_DEPTH = 100  # arrays and dictionaries inside one another (qpdf itself stops at 500)
MAX_FORM_DEPTH = 12  # form XObjects drawn inside one another
RENDER_DPI = 300  # a page that is not one scanned image: rendered at this (or the profile's minimum)
MAX_RENDER_DPI = 600
COVER = 0.02  # an image drawn over the page to within this share of each side is the page
MEASURE_SIDE = 1600
TIMEOUT = 300  # seconds for one page's rendering or text
PAINT = {"f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "sh"}
SHOW_TEXT = {"Tj", "TJ", "'", '"'}
INVISIBLE = {3, 7}  # text render modes that draw nothing (OCR layers)
SCRIPT_ACTIONS = {"/JavaScript", "/Launch"}

Image.MAX_IMAGE_PIXELS = None  # the size is checked before decoding (as for page images)


def is_pdf(path: Path) -> bool:
    return path.suffix.lower() in PDF_SUFFIXES


@dataclass
class Survey:
    """What one page of a PDF draws."""

    index: int
    width_pt: float  # the page as shown (crop box, turned by /Rotate), points
    height_pt: float
    images: list = field(default_factory=list)  # (image XObject, width pt, height pt, covers the page)
    other: bool = False  # paths, inline images, shadings, turned or mirrored images
    visible_text: bool = False
    invisible_text: bool = False
    rotate: int = 0

    @property
    def scanned(self) -> bool:
        """One image drawn over the whole page and nothing else visible: a scanned page."""
        return (len(self.images) == 1 and self.images[0][3] and not self.other and not self.visible_text
                and self.rotate % 360 == 0)


def _damaged(detail: object) -> BadInput:
    return BadInput(N_("the PDF is damaged or truncated ({detail})", detail=detail),
                    todo=N_("ask the sender for the file again (it may have been cut short in the copy); "
                            "'qpdf --check' shows what is wrong"))


def _open(path: Path) -> pikepdf.Pdf:
    """The PDF opened as it is: damage is not repaired, a master must be the file as its sender made it."""
    if path.stat().st_size == 0:
        raise BadInput(N_("the file is empty (0 bytes)"), todo=N_("ask the sender for the file again"))
    try:
        return pikepdf.open(path, attempt_recovery=False)
    except pikepdf.PasswordError:
        raise BadInput(N_("the PDF is encrypted and needs a password to open"),
                       todo=N_("ask the sender for a copy without password or encryption")) from None
    except (pikepdf.PdfError, ValueError, RuntimeError) as exc:
        raise _damaged(str(exc).replace(str(path), "").strip(": ")) from None


def open_checked(path: Path) -> pikepdf.Pdf:
    """The PDF opened for reading, after every check (once, at intake); BadInput with a plain reason
    if it cannot be used."""
    pdf = _open(path)
    try:
        _check(pdf)
    except BaseException:
        pdf.close()
        raise
    return pdf


def _check(pdf: pikepdf.Pdf) -> None:
    if pdf.is_encrypted:
        raise BadInput(N_("the PDF is encrypted (it opens without a password, but its content is "
                          "locked against changes or copying); an encrypted file cannot be preserved"),
                       todo=N_("ask the sender for a copy without encryption"))
    try:
        count = len(pdf.pages)
    except pikepdf.PdfError as exc:
        raise _damaged(exc) from None
    if count == 0:
        raise BadInput(N_("the PDF has no pages"), todo=N_("ask the sender for the file again"))
    if count > MAX_PAGES:
        raise BadInput(N_("the PDF has {count} pages, more than the {limit} one item may have", count=count,
                          limit=MAX_PAGES), todo=N_("split it into volumes, one item each"))
    _check_objects(pdf)
    acroform = pdf.Root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
        raise _scripts(N_("an XFA form"))


def _scripts(what) -> BadInput:
    return BadInput(N_("the PDF carries {what}, which could run code when the file is opened; refused",
                       what=what),
                    todo=N_("ask the sender for a copy without scripts or forms (print it to a new PDF, or "
                            "send the page images)"))


def _check_objects(pdf: pikepdf.Pdf) -> None:
    """Every object once: no scripts, no nesting deeper than MAX_DEPTH."""
    try:
        for obj in pdf.objects:
            todo = [(obj, 0)]
            while todo:
                current, depth = todo.pop()
                if depth > MAX_DEPTH:
                    raise BadInput(N_("the PDF holds objects nested more than {limit} deep; no real document "
                                      "does, refused as a trap for PDF readers", limit=MAX_DEPTH),
                                   todo=N_("ask the sender for the file again, made by ordinary software"))
                if isinstance(current, (pikepdf.Dictionary, pikepdf.Stream)):
                    if "/JS" in current or current.get("/S") in SCRIPT_ACTIONS:
                        raise _scripts(N_("JavaScript") if "/JS" in current or current.get("/S") == "/JavaScript"
                                       else N_("an action that launches a program"))
                    children = current.values() if isinstance(current, pikepdf.Dictionary) else \
                        current.stream_dict.values()
                elif isinstance(current, pikepdf.Array):
                    children = list(current)
                else:
                    continue
                todo += [(child, depth + 1) for child in children
                         if isinstance(child, (pikepdf.Dictionary, pikepdf.Array)) and not child.is_indirect]
    except pikepdf.PdfError as exc:
        raise _damaged(exc) from None
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
        raise _scripts(N_("JavaScript"))


def _multiply(m, n):
    """The matrix product m x n of two PDF matrices [a b c d e f]."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2, e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2)


def _box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def survey(pdf: pikepdf.Pdf, index: int) -> Survey:
    """What page ``index`` draws (its content and that of the forms it draws, followed)."""
    page = pdf.pages[index]
    x0, y0, x1, y1 = _box(page)
    unit = float(page.obj.get("/UserUnit", 1) or 1)
    rotate = int(page.obj.get("/Rotate", 0) or 0)
    width, height = (x1 - x0) * unit, (y1 - y0) * unit
    if rotate % 180:
        width, height = height, width
    found = Survey(index, width, height, rotate=rotate)
    try:
        _walk(page, page.resources, (1, 0, 0, 1, 0, 0), found, (x0, y0, x1, y1), unit, 0)
    except (pikepdf.PdfError, TypeError, ValueError, IndexError) as exc:
        raise BadInput(N_("page {page} of the PDF cannot be read ({detail})", page=index + 1, detail=exc),
                       todo=N_("ask the sender for the file again")) from None
    return found


def _walk(content, resources, ctm, found: Survey, box, unit: float, depth: int) -> None:
    if depth > MAX_FORM_DEPTH:
        found.other = True
        return
    stack, mode = [], 0
    xobjects = resources.get("/XObject", {}) if isinstance(resources, pikepdf.Dictionary) else {}
    for operands, operator in pikepdf.parse_content_stream(content):
        op = str(operator)
        if op == "q":
            stack.append((ctm, mode))
        elif op == "Q" and stack:
            ctm, mode = stack.pop()
        elif op == "cm" and len(operands) == 6:
            ctm = _multiply(tuple(float(v) for v in operands), ctm)
        elif op == "Tr" and operands:
            mode = int(operands[0])
        elif op in SHOW_TEXT:
            if mode in INVISIBLE:
                found.invisible_text = True
            else:
                found.visible_text = True
        elif op in PAINT or op == "INLINE IMAGE":
            found.other = True
        elif op == "Do" and operands:
            xobject = xobjects.get(operands[0]) if isinstance(xobjects, pikepdf.Dictionary) else None
            if not isinstance(xobject, pikepdf.Stream):
                continue
            if xobject.get("/Subtype") == "/Image":
                found.images.append(_placed(xobject, ctm, box, unit, found))
            elif xobject.get("/Subtype") == "/Form":
                matrix = tuple(float(v) for v in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                _walk(xobject, xobject.get("/Resources", resources), _multiply(matrix, ctm), found, box, unit,
                      depth + 1)


def _placed(image: pikepdf.Stream, ctm, box, unit: float, found: Survey):
    """An image as drawn: (image, width pt, height pt, whether it covers the page exactly)."""
    a, b, c, d, e, f = ctm
    if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0 or image.get("/ImageMask", False):
        found.other = True  # turned, mirrored or a stencil: rendered as drawn
        return image, math.hypot(a, b) * unit, math.hypot(c, d) * unit, False
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    covers = (abs(e - x0) <= COVER * width and abs(f - y0) <= COVER * height and abs(a - width) <= COVER * width
              and abs(d - height) <= COVER * height)
    return image, a * unit, d * unit, covers


@dataclass
class Plan:
    """How one page is taken: its image extracted or the page rendered, at what size."""

    dpi: float  # the image's own (pixels over the page's inches), or the one to render at
    width: int
    height: int
    mode: str
    scanned: bool
    text: str  # "pdf" (its own text kept) or "ocr"


def plan_page(found: Survey, profile: Profile, stated: int | None = None) -> Plan:
    if found.scanned:
        image, width_pt, height_pt, _ = found.images[0]
        pixels = int(image.get("/Width", 0)), int(image.get("/Height", 0))
        dpi = pixels[0] / (width_pt / 72) if width_pt > 0 else 0
        try:
            mode = pikepdf.PdfImage(image).mode
        except Exception:  # any colour space pikepdf does not name: told by the pixels later
            mode = "RGB"
        text = "pdf" if profile.pdf_text == "keep" and found.invisible_text else "ocr"
        return Plan(dpi, pixels[0], pixels[1], mode, True, text)
    dpi = stated or max(RENDER_DPI, profile.min_dpi)
    for image, width_pt, _, _ in found.images:  # a scan inside a composed page keeps its detail
        if width_pt > 0:
            dpi = max(dpi, min(MAX_RENDER_DPI, round(int(image.get("/Width", 0)) / (width_pt / 72))))
    has_text = found.visible_text or (profile.pdf_text == "keep" and found.invisible_text)
    text = "pdf" if profile.pdf_text != "replace" and has_text else "ocr"
    return Plan(dpi, math.ceil(found.width_pt * dpi / 72), math.ceil(found.height_pt * dpi / 72), "RGB", False, text)


def frames(path: Path, profile: Profile, max_pixels: int, decode: bool = False, stated: int | None = None,
           resolve: bool = True) -> list[dict]:
    """Every page of a PDF as the frames of a page file (digitize.capture.pagefiles): size, mode,
    format and, with ``resolve``, its Resolution; with ``text`` where its words come from. BadInput
    with a plain reason if the PDF or a page of it cannot be used."""
    found = []
    with open_checked(path) as pdf:
        for index in range(len(pdf.pages)):
            page = survey(pdf, index)
            which = N_("page {page}: ", page=index + 1) if len(pdf.pages) > 1 else ""
            longest = max(page.width_pt, page.height_pt) / 72
            if longest > MAX_PAGE_INCHES or min(page.width_pt, page.height_pt) <= 0:
                raise BadInput(N_("{page}the page is {width} x {height} cm, larger than a page can be ({most} cm "
                                  "at most on its longer side)", page=which, width=round(page.width_pt / 72 * 2.54),
                                  height=round(page.height_pt / 72 * 2.54), most=round(MAX_PAGE_INCHES * 2.54)),
                               todo=N_("check the file with its sender; a real page is smaller"))
            plan = plan_page(page, profile, stated)
            if plan.width * plan.height > max_pixels:
                raise BadInput(N_("{page}the page image would be {width}x{height} pixels, more than the {limit} "
                                  "megapixel limit", page=which, width=plan.width, height=plan.height,
                                  limit=round(max_pixels / 1e6)),
                               todo=N_("check the file with its sender; scan the pages at a sensible resolution"))
            entry = {"frame": index, "width": plan.width, "height": plan.height, "mode": plan.mode,
                     "format": FORMAT, "text_source": plan.text}
            if resolve:
                entry["resolution"] = _resolution(pdf, page, plan, profile, stated)
            found.append(entry)
    return found


RENDERED = "rendered from the PDF"


def _resolution(pdf: pikepdf.Pdf, page: Survey, plan: Plan, profile: Profile, stated: int | None):
    """A scanned page's resolution is judged as a page file's recorded one (Pillow writes its PDFs
    at 72 dpi whatever the scan was); a rendered page's is the one it is rendered at."""
    if not plan.scanned:
        return resolution.Resolution(None, round(plan.dpi), RENDERED)
    recorded = SimpleNamespace(info={"dpi": (plan.dpi, plan.dpi)}, size=(plan.width, plan.height))

    def measured(lines: bool) -> resolution.Measure:
        pixels = _extract(pdf.pages[page.index], page)
        gray = imaging.to_gray(pixels)
        factor = min(1.0, MEASURE_SIDE / max(gray.shape))
        small = cv2.resize(gray, (round(gray.shape[1] * factor), round(gray.shape[0] * factor)),
                           interpolation=cv2.INTER_AREA)
        return resolution.measure(small, factor, lines)

    return resolution.of_frame(recorded, profile, stated, measured)


def _extract(page: pikepdf.Page, found: Survey) -> np.ndarray | None:
    """The scanned page's image as 8-bit grey or RGB pixels, decoded from the PDF without resampling;
    None where pikepdf cannot (then the page is rendered)."""
    image = found.images[0][0]
    try:
        pil = pikepdf.PdfImage(image).as_pil_image()
        pil.load()
    except Exception:  # any filter or colour space pikepdf cannot decode: poppler renders it
        return None
    if "/Decode" in image or "/SMask" in image or "/Mask" in image:
        return None  # inverted or masked: only a renderer shows it as drawn
    if pil.mode in ("1", "L"):
        return np.asarray(pil.convert("L"))
    return np.asarray(pil.convert("RGB"))


def load_page(page: PageSource) -> np.ndarray:
    """The pixels of one PDF page: its scanned image as it is, or the page rendered at ``page.dpi``
    (the file passed its checks at intake; its SHA-256 is checked again when it is copied)."""
    with _open(page.path) as pdf:
        found = survey(pdf, page.frame)
        pixels = _extract(pdf.pages[page.frame], found) if found.scanned else None
    if pixels is None:
        pixels = _render(page.path, page.frame, page.dpi)
    return pixels


def _render(path: Path, index: int, dpi: int) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="digitize-pdf-") as work:
        target = Path(work) / "page"
        _run(["pdftoppm", "-r", str(dpi), "-f", str(index + 1), "-l", str(index + 1), "-singlefile", "-png",
              "-cropbox", str(path), str(target)], path, index)
        with Image.open(target.with_suffix(".png")) as image:
            return np.asarray(image.convert("RGB"))


def _run(command: list[str], path: Path, index: int) -> bytes:
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    except FileNotFoundError:
        raise ToolError(f"{command[0]} is not installed", todo="install it: apt-get install poppler-utils (the "
                        "README's first command does this)") from None
    except subprocess.TimeoutExpired:
        raise BadInput(N_("page {page} of the PDF took more than {seconds} s to read; refused", page=index + 1,
                          seconds=TIMEOUT), todo=N_("check the file with its sender")) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise BadInput(N_("page {page} of the PDF cannot be read ({detail})", page=index + 1, detail=detail[0]),
                       todo=N_("ask the sender for the file again"))
    return done.stdout


@lru_cache
def pdftotext_version() -> str:
    try:
        done = subprocess.run(["pdftotext", "-v"], capture_output=True, text=True, timeout=30, check=False)
        return (done.stderr or done.stdout).split()[2]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return ""


def kept_text(page: PageSource, width: int, height: int, languages: list[str]) -> OcrResult:
    """The page's own text layer as the page's ALTO (positions in the pixels of its ``width`` x
    ``height`` image) and plain text, read by pdftotext."""
    xhtml = _run(["pdftotext", "-f", str(page.frame + 1), "-l", str(page.frame + 1), "-bbox-layout", "-enc",
                  "UTF-8", "-cropbox", str(page.path), "-"], page.path, page.frame)
    root = etree.fromstring(xhtml, etree.XMLParser(recover=True, resolve_entities=False, no_network=True))
    shown = next(iter(root.iter("{*}page")), None)
    scale_x = width / float(shown.get("width")) if shown is not None and float(shown.get("width", 0)) else 1.0
    scale_y = height / float(shown.get("height")) if shown is not None and float(shown.get("height", 0)) else 1.0

    alto = etree.Element(f"{{{ALTO_NS}}}alto", nsmap={None: ALTO_NS})
    description = etree.SubElement(alto, "Description")
    etree.SubElement(description, "MeasurementUnit").text = "pixel"
    etree.SubElement(etree.SubElement(description, "sourceImageInformation"), "fileName").text = page.name
    software = etree.SubElement(etree.SubElement(etree.SubElement(
        description, "OCRProcessing", ID="OCR_0"), "ocrProcessingStep"), "processingSoftware")
    etree.SubElement(software, "softwareName").text = f"pdftotext {pdftotext_version()} (the PDF's own text)"
    layout = etree.SubElement(etree.SubElement(alto, "Layout"), "Page", ID="page_0", PHYSICAL_IMG_NR="0",
                              WIDTH=str(width), HEIGHT=str(height))
    counts: dict[str, int] = {}

    def child(parent, tag: str, node):
        x0, y0 = float(node.get("xMin")) * scale_x, float(node.get("yMin")) * scale_y
        x1, y1 = float(node.get("xMax")) * scale_x, float(node.get("yMax")) * scale_y
        number = counts[tag] = counts.get(tag, -1) + 1
        return etree.SubElement(parent, tag, ID=f"{tag.lower()}_{number}", HPOS=str(round(x0)), VPOS=str(round(y0)),
                                WIDTH=str(max(1, round(x1 - x0))), HEIGHT=str(max(1, round(y1 - y0))))

    space = etree.SubElement(layout, "PrintSpace", ID="printspace_0", HPOS="0", VPOS="0", WIDTH=str(width),
                             HEIGHT=str(height))
    words = 0
    for block in root.iter("{*}block"):
        text_block = child(space, "TextBlock", block)
        for line in block.iter("{*}line"):
            text_line = child(text_block, "TextLine", line)
            for word in line.iter("{*}word"):
                content = unicodedata.normalize("NFC", (word.text or "").strip())
                if content:
                    child(text_line, "String", word).set("CONTENT", content)
                    words += 1
    data = etree.tostring(alto, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    text = textlayer.plain_text(textlayer.read_alto(data))
    share = vietnamese.not_syllable_share(text.split()) if "vie" in languages else None
    return OcrResult(text=text + "\n" if text else "", alto=data, confidence=None, words=words, not_syllables=share)


def as_drawn(pixels: np.ndarray) -> imaging.Prepared:
    """A page whose own text is kept, prepared as it is drawn: not turned, deskewed or cropped (the
    words stay where the PDF has them)."""
    height, width = pixels.shape[:2]
    return imaging.Prepared(display=pixels, ocr=imaging.to_gray(pixels), orientation=0, skew=0.0,
                            crop=(0, 0, width, height))
