"""The transcription of a Hán-Nôm page: its columns in reading order (right to left on a vertical
page), each a list of characters (a Unicode character, or one outside Unicode given by a
description) and an optional phiên âm (its reading in Quốc ngữ); where the columns are on the page
(the OCR's vertical lines, or the page split evenly); and saving it as a new version of the page's
text in the store.

What is stored for a transcribed page (each earlier object kept by the store as a previous version):
- ``alto/NNNN.xml``: one vertical TextLine per column, in column order, one String per character;
  a character outside Unicode is the geta mark 〓 with its description as
  ``<ALTERNATIVE PURPOSE="description">``; what the OCR read at a character's place is kept as
  ``<ALTERNATIVE PURPOSE="OCR">`` (the OCR-only ALTO itself is the previous version).
- ``text/NNNN.phienam.txt``: the phiên âm, one line per column in column order (a column without
  one is an empty line). A file of its own rather than inside the ALTO: the phiên âm reads a whole
  column (its syllables need not match the characters one for one, some may be unknown), and ALTO
  holds alternatives only inside a String, never for a line.
- ``text/NNNN.txt`` (what the search index reads of the page) and the item's text: the columns'
  characters, a line each, then the phiên âm lines, so that the page is found by either, folded
  like any Vietnamese search, and ``digitize index --rebuild`` finds the same.
The ledger gets the new sizes and checksums (``digitize audit`` stays clean), a ``transcribed``
review event and the page's review state ``transcribed``; the item's index entry is made again."""

from __future__ import annotations

import re
import tempfile
from copy import deepcopy
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core.files import sha256_file
from digitize.core.models import FileFacts, ItemPackage, StoredManifest
from digitize.describe import mets
from digitize.describe.mets import stored_path
from digitize.ledger.database import Item, Output
from digitize.ledger.review import PageReview, ReviewEvent
from digitize.search import indexing
from digitize.store.storage import MANIFEST, Store, read_manifest

from digitize.review import hannom

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v3#"
OUTSIDE_UNICODE = "\u3013"  # 〓 GETA MARK: the typesetter's sign for a character there is no type for
TRANSCRIBED = "transcribed"
MOST_COLUMNS = 60
MOST_CHARACTERS = 120  # in a column
LONGEST_DESCRIPTION = 300
LONGEST_PHIEN_AM = 2000
EVEN_COLUMNS = 8  # a page whose OCR found no vertical line is split into this many columns
_TYPED = re.compile(r"\{([^{}]*)\}|(\S)", re.S)


class TranscriptionRefused(ValueError):
    """A transcription that cannot be saved as given: the message says what, where and what to do."""


@dataclass(frozen=True)
class Glyph:
    """A character of a column: ``char`` (one Unicode character), or ``description`` of one
    outside Unicode (``char`` then empty)."""

    char: str = ""
    description: str = ""
    ocr: str = ""  # what the OCR read at its place (only as read back from a stored transcription)


@dataclass
class Column:
    glyphs: list[Glyph] = field(default_factory=list)
    phien_am: str = ""

    @property
    def text(self) -> str:
        return "".join(g.char or OUTSIDE_UNICODE for g in self.glyphs)

    @property
    def typed(self) -> str:
        """The column as a person types it: characters, and ``{description}`` for one outside Unicode."""
        return "".join(g.char or "{" + g.description + "}" for g in self.glyphs)

    def suggested(self) -> str:
        """The phiên âm the characters' Hán-Việt readings suggest."""
        return hannom.suggested_reading([g.char or None for g in self.glyphs])


@dataclass
class PageTranscription:
    columns: list[Column] = field(default_factory=list)

    @property
    def characters(self) -> int:
        return sum(len(c.glyphs) for c in self.columns)

    def as_json(self) -> dict:
        return {"columns": [{"characters": [{"char": g.char} if g.char else {"description": g.description}
                                            for g in c.glyphs], "phien_am": c.phien_am} for c in self.columns]}


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    def region(self) -> str:
        """The IIIF Image API region of the box."""
        return f"{self.x},{self.y},{self.width},{self.height}"


# ---- reading what a person typed ---------------------------------------------------------------

def parse_column(typed: str, phien_am: str = "", where: str = "column") -> Column:
    """A column from what was typed: each character, ``{description}`` for one outside Unicode
    (spaces between characters are ignored)."""
    typed = unicodedata.normalize("NFC", typed)
    glyphs = []
    for match in _TYPED.finditer(typed):
        described, char = match.group(1), match.group(2)
        if described is not None:
            described = " ".join(described.split())
            if not described:
                raise TranscriptionRefused(f"{where}: an empty {{}}: write the description of the character "
                                           "inside the braces, or remove them")
            if len(described) > LONGEST_DESCRIPTION:
                raise TranscriptionRefused(f"{where}: a description is longer than {LONGEST_DESCRIPTION} "
                                           "characters: shorten it")
            glyphs.append(Glyph(description=described))
        elif char in "{}":
            raise TranscriptionRefused(f"{where}: a brace without its pair: a character outside Unicode is "
                                       "written {its description}")
        elif unicodedata.category(char)[0] in "CZ":
            raise TranscriptionRefused(f"{where}: a control character (U+{ord(char):04X}): type the characters only")
        else:
            glyphs.append(Glyph(char=char))
    if len(glyphs) > MOST_CHARACTERS:
        raise TranscriptionRefused(f"{where}: {len(glyphs)} characters, more than {MOST_CHARACTERS}: a column "
                                   "this long is two columns")
    phien_am = " ".join(unicodedata.normalize("NFC", phien_am).split())
    if len(phien_am) > LONGEST_PHIEN_AM:
        raise TranscriptionRefused(f"{where}: the phiên âm is longer than {LONGEST_PHIEN_AM} characters")
    return Column(glyphs, phien_am)


def from_form(fields: dict[str, str]) -> PageTranscription:
    """The transcription of the editor's form: ``chars-N`` and ``phienam-N`` for columns 1, 2, ...
    (in reading order); empty columns at the end are dropped."""
    columns = []
    for number in range(1, MOST_COLUMNS + 1):
        if f"chars-{number}" not in fields and f"phienam-{number}" not in fields:
            break
        columns.append(parse_column(fields.get(f"chars-{number}", ""), fields.get(f"phienam-{number}", ""),
                                    f"column {number}"))
    while columns and not columns[-1].glyphs and not columns[-1].phien_am:
        columns.pop()
    if not columns:
        raise TranscriptionRefused("no column has a character: type the reading of the first character of "
                                   "the rightmost column and pick it")
    return PageTranscription(columns)


# ---- the columns of a page ---------------------------------------------------------------------

def _q(name: str) -> str:
    return f"{{{ALTO_NS}}}{name}"


def _box(element) -> Box:
    return Box(*(int(float(element.get(k, "0"))) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")))


def ocr_columns(alto: bytes | None) -> list[Box]:
    """The vertical lines of the page's ALTO, right to left: the columns as the OCR found them."""
    if not alto:
        return []
    root = etree.fromstring(alto)
    boxes = [_box(line) for line in root.iter(_q("TextLine"))]
    vertical = [b for b in boxes if b.height > b.width]
    return sorted(vertical, key=lambda b: -(b.x + b.width / 2))


def column_boxes(alto: bytes | None, width: int, height: int, count: int = 0) -> list[Box]:
    """Where the columns of a page are, in reading order: the ALTO's vertical lines; or, when it has
    none, the page split evenly into ``count`` (or EVEN_COLUMNS) columns from the right."""
    found = ocr_columns(alto)
    if found:
        return found
    count = max(1, count or EVEN_COLUMNS)
    step = width / count
    return [Box(round(width - (k + 1) * step), 0, round(step), height) for k in range(count)]


# ---- the ALTO of a transcription ---------------------------------------------------------------

def is_transcription(alto: bytes) -> bool:
    root = etree.fromstring(alto)
    return root.find(f".//{_q('TextBlock')}[@ID='transcription']") is not None


def _in_transcription(element) -> bool:
    block = next(element.iterancestors(_q("TextBlock")), None)
    return block is not None and block.get("ID") == "transcription"


def _ocr_strings(root) -> list[tuple[float, float, str]]:
    """What the OCR read, with the centre of each reading: the Strings of an OCR ALTO (or of the
    columns a transcription left to the OCR), and the OCR alternatives of a transcription's Strings."""
    found = []
    for string in root.iter(_q("String")):
        if _in_transcription(string):
            text = "".join(a.text or "" for a in string.findall(_q("ALTERNATIVE")) if a.get("PURPOSE") == "OCR")
        else:
            text = string.get("CONTENT", "")
        if text:
            b = _box(string)
            found.append((b.x + b.width / 2, b.y + b.height / 2, text))
    return found


def _untranscribed_lines(root, places: list[Box]) -> list:
    """The OCR's vertical lines no transcribed column covers (their centre outside every column)."""
    lines = []
    for line in root.iter(_q("TextLine")):
        b = _box(line)
        centre = b.x + b.width / 2
        if not _in_transcription(line) and b.height > b.width and \
                not any(p.x <= centre < p.x + p.width for p in places):
            lines.append(line)
    return lines


def _character_boxes(column: Box, count: int) -> list[Box]:
    step = column.height / max(1, count)
    return [Box(column.x, round(column.y + k * step), column.width, max(1, round(step))) for k in range(count)]


def transcription_alto(current: bytes, transcription: PageTranscription, boxes: list[Box], who: str,
                       now: datetime) -> bytes:
    """The page's ALTO made from its transcription: the Description and Page of ``current`` (the
    OCR's ALTO, or an earlier transcription), its text replaced by one vertical TextLine a column
    (in ``boxes``' places; a column past them beside the last), one String a character, each with
    what the OCR read there as ``ALTERNATIVE PURPOSE="OCR"``."""
    root = etree.fromstring(current)
    ocr = _ocr_strings(root)
    page = root.find(f"{_q('Layout')}/{_q('Page')}")
    space = page.find(_q("PrintSpace"))
    if space is None:
        space = etree.SubElement(page, _q("PrintSpace"))
    description = root.find(_q("Description"))
    processing = etree.SubElement(description, _q("OCRProcessing"), ID="TRANSCRIPTION")
    step = etree.SubElement(processing, _q("postProcessingStep"))
    etree.SubElement(step, _q("processingDateTime")).text = now.strftime("%Y-%m-%dT%H:%M:%S")
    etree.SubElement(step, _q("processingAgency")).text = who
    etree.SubElement(step, _q("processingStepDescription")).text = (
        "Hán-Nôm transcription: characters picked by their readings (Unihan kVietnamese); the OCR's reading "
        "kept as ALTERNATIVE PURPOSE=\"OCR\"")
    places: list[Box] = []
    for k in range(len(transcription.columns)):
        if k < len(boxes):
            places.append(boxes[k])
        else:
            last = places[-1] if places else Box(int(page.get("WIDTH", "100")), 0, 50, int(page.get("HEIGHT", "100")))
            places.append(Box(max(0, last.x - last.width), last.y, last.width, last.height))
    rest = [deepcopy(line) for line in _untranscribed_lines(root, places)]
    for child in list(space):
        space.remove(child)
    left = min((b.x for b in places), default=0)
    right = max((b.x + b.width for b in places), default=0)
    top = min((b.y for b in places), default=0)
    bottom = max((b.y + b.height for b in places), default=0)
    block = etree.SubElement(space, _q("TextBlock"), ID="transcription", HPOS=str(left), VPOS=str(top),
                             WIDTH=str(right - left), HEIGHT=str(bottom - top))
    placed: dict[tuple[int, int], list[str]] = {}
    char_boxes = [_character_boxes(place, len(column.glyphs)) for place, column in zip(places, transcription.columns)]
    for cx, cy, text in ocr:
        for c, column_chars in enumerate(char_boxes):
            hit = next((i for i, b in enumerate(column_chars)
                        if b.x <= cx < b.x + b.width and b.y <= cy < b.y + b.height), None)
            if hit is not None:
                placed.setdefault((c, hit), []).append(text)
                break
    for c, (place, column) in enumerate(zip(places, transcription.columns), start=1):
        line = etree.SubElement(block, _q("TextLine"), ID=f"column_{c}", HPOS=str(place.x), VPOS=str(place.y),
                                WIDTH=str(place.width), HEIGHT=str(place.height))
        for i, (glyph, b) in enumerate(zip(column.glyphs, char_boxes[c - 1]), start=1):
            string = etree.SubElement(line, _q("String"), ID=f"column_{c}_{i}", HPOS=str(b.x), VPOS=str(b.y),
                                      WIDTH=str(b.width), HEIGHT=str(b.height),
                                      CONTENT=glyph.char or OUTSIDE_UNICODE, CS="true")
            if not glyph.char:
                etree.SubElement(string, _q("ALTERNATIVE"), PURPOSE="description").text = glyph.description
            if (read := "".join(placed.get((c - 1, i - 1), []))):
                etree.SubElement(string, _q("ALTERNATIVE"), PURPOSE="OCR").text = read
    if rest:  # the columns not transcribed yet keep the OCR's draft (and their places, for the editor)
        untranscribed = etree.SubElement(space, _q("TextBlock"), ID="untranscribed")
        untranscribed.extend(rest)
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_transcription(alto: bytes, phien_am: str = "") -> PageTranscription | None:
    """The transcription a page's ALTO holds (None for an OCR-only ALTO), with the phiên âm lines."""
    root = etree.fromstring(alto)
    block = root.find(f".//{_q('TextBlock')}[@ID='transcription']")
    if block is None:
        return None
    readings = phien_am.split("\n")
    columns = []
    for k, line in enumerate(block.findall(_q("TextLine"))):
        glyphs = []
        for string in line.findall(_q("String")):
            alternatives = {a.get("PURPOSE"): a.text or "" for a in string.findall(_q("ALTERNATIVE"))}
            char = string.get("CONTENT", "")
            if "description" in alternatives:
                glyphs.append(Glyph(description=alternatives["description"], ocr=alternatives.get("OCR", "")))
            else:
                glyphs.append(Glyph(char=char, ocr=alternatives.get("OCR", "")))
        columns.append(Column(glyphs, readings[k].strip() if k < len(readings) else ""))
    return PageTranscription(columns)


def page_text(transcription: PageTranscription) -> str:
    """The plain text of a transcribed page: a line of characters a column, then the phiên âm."""
    lines = [c.text for c in transcription.columns]
    readings = [c.phien_am for c in transcription.columns if c.phien_am]
    return "\n".join(lines) + ("\n\n" + "\n".join(readings) if readings else "") + "\n"


def phien_am_text(transcription: PageTranscription) -> str:
    return "\n".join(c.phien_am for c in transcription.columns) + "\n"


# ---- where it is stored ------------------------------------------------------------------------

@dataclass(frozen=True)
class PageFiles:
    """The stored paths (in the item) of a page's ALTO, text and phiên âm."""

    number: int
    alto: str
    text: str
    phien_am: str
    width: int
    height: int


def page_files(package: ItemPackage, number: int) -> PageFiles | None:
    page = next((p for p in package.pages if p.number == number), None)
    if page is None:
        return None
    files = {entry.id: entry for entry in package.files}
    alto = stored_path(package, files[page.alto]) if page.alto in files else f"alto/{number:04d}.xml"
    text = stored_path(package, files[page.text]) if page.text in files else f"text/{number:04d}.txt"
    return PageFiles(number, alto, text, str(Path(text).with_suffix(".phienam.txt")), page.image_width,
                     page.image_height)


def stored_transcription(store: Store, prefix: str, files: PageFiles,
                         objects: dict[str, FileFacts]) -> PageTranscription | None:
    """The page's transcription as stored (None when it has none); ``objects`` from stored.json."""
    if files.phien_am not in objects or files.alto not in objects:
        return None
    return read_transcription(store.read_bytes(prefix + files.alto),
                              store.read_bytes(prefix + files.phien_am).decode("utf-8"))


def is_han_nom(item: Item) -> bool:
    """Whether the item is transcribed (its profile needs transcription: review_risk's han_nom)."""
    return bool((item.review_risk or {}).get("han_nom"))


def save_transcription(session: Session, store: Store, item: Item, number: int, transcription: PageTranscription,
                       who: str, now: datetime | None = None) -> PageFiles:
    """Store the page's transcription as a new version of its text (see the module's docstring),
    record it in the ledger and index the item again. Raises TranscriptionRefused for a page the
    item does not have."""
    now = now or datetime.now(timezone.utc)
    prefix = f"{item.library}/{item.item_id}/"
    package = mets.read(store.read_bytes(prefix + "mets.xml"))
    files = page_files(package, number)
    if files is None:
        raise TranscriptionRefused(f"{item.library}/{item.item_id}: there is no page {number}: open a page "
                                   "from the item's list")
    manifest = read_manifest(store, prefix + MANIFEST)
    current = store.read_bytes(prefix + files.alto) if files.alto in manifest.objects else b""
    boxes = column_boxes(current, files.width, files.height, len(transcription.columns))
    if not current:
        current = _empty_alto(files)
    texts = {files.alto: transcription_alto(current, transcription, boxes, who, now),
             files.text: page_text(transcription).encode("utf-8"),
             files.phien_am: phien_am_text(transcription).encode("utf-8")}
    item_text = f"{item.item_id}.txt"
    if item_text in manifest.objects:
        pages = []
        for page in sorted(package.pages, key=lambda p: p.number):
            other = page_files(package, page.number)
            if other.text == files.text:
                pages.append(texts[files.text].decode("utf-8"))
            elif other.text in manifest.objects:
                pages.append(store.read_bytes(prefix + other.text).decode("utf-8"))
        texts[item_text] = "\f".join(pages).encode("utf-8")
    objects = dict(manifest.objects)
    with tempfile.TemporaryDirectory(prefix="digitize-transcription-") as folder:
        for relative, data in {**texts, MANIFEST: b""}.items():
            if relative == MANIFEST:
                data = StoredManifest(store=manifest.store, objects=objects).model_dump_json(indent=1).encode()
            path = Path(folder) / relative.replace("/", "_")
            path.write_bytes(data)
            facts = FileFacts(size=len(data), sha256=sha256_file(path))
            store.put(path, prefix + relative, facts.sha256, new_version=True)
            if relative != MANIFEST:
                objects[relative] = facts
            else:
                manifest_facts = facts
    _record(session, item, number, transcription, {**objects, MANIFEST: manifest_facts}, who, now)
    indexing.index_recorded(session, store, item.library, item.item_id)
    return files


def _empty_alto(files: PageFiles) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><alto xmlns="{ALTO_NS}"><Description><MeasurementUnit>pixel'
            f'</MeasurementUnit></Description><Layout><Page ID="page_0" PHYSICAL_IMG_NR="{files.number}" '
            f'WIDTH="{files.width}" HEIGHT="{files.height}"><PrintSpace/></Page></Layout></alto>').encode()


def _record(session: Session, item: Item, number: int, transcription: PageTranscription,
            objects: dict[str, FileFacts], who: str, now: datetime) -> None:
    outputs = {o.path: o for o in session.scalars(select(Output).where(Output.item == item.id))}
    for relative, facts in objects.items():
        if relative in outputs:
            outputs[relative].size, outputs[relative].sha256 = facts.size, facts.sha256
        elif outputs:  # an item recorded with its outputs gets the new file too (the audit checks it)
            session.add(Output(item=item.id, path=relative, size=facts.size, sha256=facts.sha256, extra={}))
    review = session.get(PageReview, (item.id, number))
    before = review.state if review else ""
    if review is None:
        review = PageReview(item=item.id, page=number, state=TRANSCRIBED, flags=None)
        session.add(review)
    review.state, review.updated, review.updated_by = TRANSCRIBED, now, who
    session.add(ReviewEvent(
        item=item.id, at=now, actor=who, action=TRANSCRIBED, state_from=item.review_state or "",
        state_to=item.review_state or "", pages=[number],
        detail={"page": number, "columns": len(transcription.columns), "characters": transcription.characters,
                "described": sum(not g.char for c in transcription.columns for g in c.glyphs),
                "page_state_before": before}))
    item.updated = now
    session.commit()
