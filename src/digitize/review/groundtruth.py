"""What review teaches: the lines of accepted items as ground truth for OCR training, in the layout
tesstrain reads (a line image and its text side by side: ``NAME.png`` + ``NAME.gt.txt``).

An accepted item's every ALTO line counts, whether the reviewer corrected it or left it as the OCR
read it: accepting the item said its text is right. Hán-Nôm items are the exception: their OCR
reads woodblock pages badly and the reviewer transcribes rather than corrects, so only the lines
a person wrote (a String with ``CS="true"``) are exported.

The line image is cut from the stored page image (``images/NNNN.jpg``, the page as shown: turned,
deskewed, cropped), the image whose pixels the ALTO coordinates count (``capture.ocr.alto_from``
divides Tesseract's boxes by the OCR scale back to it). A vertical line (a column of a page read
top to bottom) is turned a quarter anticlockwise, so that it reads left to right as tesstrain's
single-line mode (``--psm 13``) reads every line image; that is how Tesseract itself hands a
vertical line to its recogniser, and how its ``_vert`` models are trained."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

from lxml import etree
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core.errors import OutputUnwritable, StorageError, StorageUnavailable
from digitize.core.files import write_atomic
from digitize.core.vietnamese import strip_marks
from digitize.describe import mets
from digitize.ledger.database import Item
from digitize.ledger.review import ACCEPTED
from digitize.store.storage import Store

SECRET = "secret"


@dataclass(frozen=True)
class AltoWord:
    text: str  # CONTENT: the accepted reading
    ocr: str  # what the OCR read (its ALTERNATIVE PURPOSE="OCR", else the CONTENT)
    corrected: bool  # CS="true": a person wrote it


@dataclass(frozen=True)
class AltoLine:
    """One TextLine of an ALTO page: its ID, box in the page image's pixels and its words."""

    line_id: str
    box: tuple[int, int, int, int]  # HPOS, VPOS, WIDTH, HEIGHT
    words: tuple[AltoWord, ...]

    @property
    def text(self) -> str:
        return unicodedata.normalize("NFC", " ".join(w.text for w in self.words if w.text))

    @property
    def ocr_text(self) -> str:
        return unicodedata.normalize("NFC", " ".join(w.ocr for w in self.words if w.ocr))

    @property
    def corrected(self) -> bool:
        return any(w.corrected for w in self.words)


@dataclass(frozen=True)
class AcceptedPage:
    """A page of an accepted item, with its ALTO lines and the size the ALTO counts in."""

    item: Item
    number: int
    direction: str  # horizontal | vertical
    han_nom: bool
    image: str  # the page image's key in the store
    size: tuple[int, int]  # the ALTO Page's WIDTH, HEIGHT
    lines: list[AltoLine]

    @property
    def ground_truth(self) -> list[AltoLine]:
        """The lines that count as ground truth (see the module's text): those with text; of a
        Hán-Nôm item, those a person transcribed."""
        return [line for line in self.lines if line.text and (line.corrected or not self.han_nom)]


@dataclass
class ExportSummary:
    items: int = 0
    pages: int = 0
    lines: int = 0
    secret_left_out: int = 0  # accepted secret items not exported (no --include-secret)
    han_nom_items: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (library/item, reason)


def _string_words(line: etree._Element) -> tuple[AltoWord, ...]:
    words = []
    for string in line.iter("{*}String"):
        alternative = next((a.text or "" for a in string.iter("{*}ALTERNATIVE") if a.get("PURPOSE") == "OCR"), None)
        content = unicodedata.normalize("NFC", string.get("CONTENT", ""))
        words.append(AltoWord(text=content, ocr=unicodedata.normalize("NFC", alternative if alternative is not None
                                                                     else content),
                              corrected=string.get("CS", "").lower() == "true"))
    return tuple(words)


def read_alto(data: bytes) -> tuple[tuple[int, int], list[AltoLine]]:
    """The page size (WIDTH, HEIGHT of the ALTO Page) and the lines of an ALTO document."""
    root = etree.fromstring(data)
    page = next(root.iter("{*}Page"), None)
    size = (int(float(page.get("WIDTH", 0))), int(float(page.get("HEIGHT", 0)))) if page is not None else (0, 0)
    lines = []
    for line in root.iter("{*}TextLine"):
        box = tuple(int(float(line.get(name, 0))) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        lines.append(AltoLine(line_id=line.get("ID", f"line_{len(lines)}"), box=box, words=_string_words(line)))
    return size, lines


def accepted_items(session: Session, library: str | None = None, since: date | None = None,
                   include_secret: bool = False) -> tuple[list[Item], int]:
    """The accepted, stored, not withdrawn items (of ``library``, accepted on or after ``since``),
    and how many accepted secret items were left out (all of them without ``include_secret``)."""
    query = select(Item).where(Item.review_state == ACCEPTED, Item.status == "ok", Item.withdrawn.is_(None))
    if library:
        query = query.where(Item.library == library)
    if since is not None:
        query = query.where(Item.accepted >= datetime.combine(since, time(), timezone.utc))
    items = list(session.scalars(query.order_by(Item.library, Item.item_id)))
    kept = [item for item in items if include_secret or item.access != SECRET]
    return kept, len(items) - len(kept)


def is_han_nom(item: Item, package) -> bool:
    """Whether the item is read by transcription: the review's risk says so, or its pages are vertical."""
    return bool((item.review_risk or {}).get("han_nom")) or any(p.direction == "vertical" for p in package.pages)


def accepted_pages(store: Store, item: Item) -> Iterator[AcceptedPage]:
    """The item's pages with an ALTO and an image, as stored now (the latest version), in order."""
    prefix = f"{item.library}/{item.item_id}/"
    package = mets.read(store.read_bytes(prefix + "mets.xml"))
    files = {entry.id: entry for entry in package.files}
    han_nom = is_han_nom(item, package)
    for page in package.pages:
        if page.blank or page.alto not in files or page.image not in files:
            continue
        size, lines = read_alto(store.read_bytes(prefix + mets.stored_path(package, files[page.alto])))
        yield AcceptedPage(item=item, number=page.number, direction=page.direction, han_nom=han_nom,
                           image=prefix + mets.stored_path(package, files[page.image]), size=size, lines=lines)


def line_name(library: str, item_id: str, page: int, line_id: str) -> str:
    """A stable file stem for a line (``HD-TV_HD-DC-0001_0001_textline_0``): ASCII letters, digits and ``-`` ``_`` only (tesstrain's Makefile
    and every file system take it); a short hash of the true names keeps apart two names that read
    the same once folded."""
    parts = [library, item_id, f"{page:04d}", line_id]
    folded = [re.sub(r"[^A-Za-z0-9_-]+", "-", strip_marks(part)).strip("-") or "x" for part in parts]
    stem = "_".join(folded)
    if folded != parts:
        stem += "-" + hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:8]
    return stem


def line_image(page_image: Image.Image, page: AcceptedPage, line: AltoLine) -> Image.Image:
    """The line's box cut from the page image (scaled if the image and the ALTO count differently);
    a vertical line turned to read left to right."""
    left, top, width, height = line.box
    sx = page_image.width / page.size[0] if page.size[0] else 1.0
    sy = page_image.height / page.size[1] if page.size[1] else 1.0
    box = (max(0, round(left * sx)), max(0, round(top * sy)),
           min(page_image.width, round((left + width) * sx)), min(page_image.height, round((top + height) * sy)))
    crop = page_image.crop(box)
    return crop.rotate(90, expand=True) if page.direction == "vertical" else crop


def export(session: Session, store: Store, out: Path, library: str | None = None, since: date | None = None,
           include_secret: bool = False) -> ExportSummary:
    """Write every ground-truth line of the accepted items to ``out`` (``NAME.png`` + ``NAME.gt.txt``,
    one line of NFC text ending in a newline, as tesstrain's Makefile concatenates them). Writing
    again writes the same names: an export can be refreshed in place."""
    summary = ExportSummary()
    items, summary.secret_left_out = accepted_items(session, library, since, include_secret)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputUnwritable(f"the ground-truth folder cannot be made ({exc.strerror})", str(out),
                               "give a folder you may write to") from None
    for item in items:
        where = f"{item.library}/{item.item_id}"
        try:
            pages = list(accepted_pages(store, item))
        except StorageUnavailable:
            raise
        except (StorageError, OSError, ValueError, KeyError, etree.LxmlError) as exc:
            summary.unreadable.append((where, f"its METS or ALTO cannot be read ({type(exc).__name__}); "
                                              "run digitize audit"))
            continue
        written = 0
        for page in pages:
            lines = page.ground_truth
            if not lines:
                continue
            try:
                with Image.open(io.BytesIO(store.read_bytes(page.image))) as opened:
                    picture = opened.convert("L")
            except StorageUnavailable:
                raise
            except (StorageError, OSError) as exc:
                summary.unreadable.append((f"{where} page {page.number}", f"its image cannot be read "
                                           f"({type(exc).__name__}); run digitize audit"))
                continue
            for line in lines:
                stem = line_name(item.library, item.item_id, page.number, line.line_id)
                crop = line_image(picture, page, line)
                if crop.width == 0 or crop.height == 0:
                    continue
                png = io.BytesIO()
                crop.save(png, "PNG")
                write_atomic(out / f"{stem}.png", png.getvalue())
                write_atomic(out / f"{stem}.gt.txt", (line.text + "\n").encode("utf-8"))
                written += 1
            summary.pages += 1
        summary.lines += written
        summary.items += bool(written)
        summary.han_nom_items += bool(written) and pages[0].han_nom
    return summary
