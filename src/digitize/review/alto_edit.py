"""A page's ALTO as the page editor shows and changes it: its lines, each with its words, their
confidences and the OCR's own alternatives; and a corrected line put back into the ALTO.

A corrected word follows the project's convention (capture/ocr.py writes the ALTO): its String gets
the new CONTENT and ``CS="true"``, and keeps what it read before as an ``ALTERNATIVE`` (``PURPOSE="OCR"``
for Tesseract's reading; a reading the diacritic correction made is kept as ``PURPOSE="diacritics"``).
Texts are stored in NFC. When a reviewer splits or joins words, the new words share the boxes of the
words they replace (in proportion to their letters), and the replaced reading stays on the first.

Tesseract's other choices per character are not kept in the ALTO (capture/ocr.py asks for them only
to correct diacritics): the alternatives offered are the ALTERNATIVE readings the ALTO carries.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field

from lxml import etree

LOW_CONFIDENCE = 0.8  # word confidence (WC, 0-1) under which the editor marks a word
OCR, DIACRITICS = "OCR", "diacritics"  # ALTERNATIVE PURPOSEs: Tesseract's reading, the diacritic correction's


class LineNotFound(ValueError):
    """The ALTO holds no TextLine of that ID."""


@dataclass
class Word:
    id: str
    text: str
    confidence: float | None  # 0-1, None when the ALTO gives none
    alternatives: list[str] = field(default_factory=list)  # the OCR's other readings, in the ALTO's order
    corrected: bool = False  # CS="true": a person set this word

    @property
    def low(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE and not self.corrected


@dataclass
class Line:
    id: str
    box: tuple[int, int, int, int]  # HPOS, VPOS, WIDTH, HEIGHT in the page image's pixels
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _parse(alto: bytes) -> etree._Element:
    return etree.fromstring(alto, etree.XMLParser(no_network=True, resolve_entities=False, remove_blank_text=False))


def _box(element) -> tuple[int, int, int, int]:
    return tuple(round(float(element.get(k, "0"))) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))


def _word(string) -> Word:
    confidence = string.get("WC")
    alternatives = [nfc(a.text or "") for a in string.iter("{*}ALTERNATIVE") if (a.text or "").strip()]
    text = nfc(string.get("CONTENT", ""))
    return Word(id=string.get("ID", ""), text=text, confidence=float(confidence) if confidence else None,
                alternatives=[a for a in dict.fromkeys(alternatives) if a != text],
                corrected=string.get("CS") == "true")


def read_lines(alto: bytes) -> list[Line]:
    """The page's lines in the ALTO's (reading) order, lines without words left out."""
    root = _parse(alto)
    lines = []
    for line in root.iter("{*}TextLine"):
        words = [_word(s) for s in line.iter("{*}String")]
        if words:
            lines.append(Line(id=line.get("ID", ""), box=_box(line), words=words))
    return lines


def line_text(alto: bytes, line_id: str) -> str:
    """The text of one line as stored (its words joined by spaces); LineNotFound if there is none."""
    for line in read_lines(alto):
        if line.id == line_id:
            return line.text
    raise LineNotFound(line_id)


def _find_line(root, line_id: str):
    for line in root.iter("{*}TextLine"):
        if line.get("ID") == line_id:
            return line
    raise LineNotFound(line_id)


def _keep_reading(string, old: str) -> None:
    """Keep ``old`` (the reading being replaced) as an ALTERNATIVE of ``string``, unless it is a
    person's earlier reading (the previous version of the ALTO keeps that) or is already there."""
    if not old or string.get("CS") == "true":
        return
    tag = etree.QName(string).namespace
    present = {(a.text or "") for a in string.iter("{*}ALTERNATIVE")}
    if old in present:
        return
    purpose = DIACRITICS if any(a.get("PURPOSE") == OCR for a in string.iter("{*}ALTERNATIVE")) else OCR
    etree.SubElement(string, f"{{{tag}}}ALTERNATIVE" if tag else "ALTERNATIVE", PURPOSE=purpose).text = old


def _set(string, text: str) -> None:
    old = nfc(string.get("CONTENT", ""))
    if old == text:
        return
    _keep_reading(string, old)
    string.set("CONTENT", text)
    string.set("CS", "true")


def _spread(strings: list, texts: list[str], line) -> None:
    """Replace the Strings ``strings`` (adjacent, in ``line``) by one String per text of ``texts``,
    their boxes shared out of the old ones' span in proportion to their letters; the old reading
    is kept on the first."""
    tag = strings[0].tag if strings else f"{{{etree.QName(line).namespace}}}String"
    boxes = [_box(s) for s in strings] or [_box(line)]
    left = min(b[0] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    top = min(b[1] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    old = " ".join(nfc(s.get("CONTENT", "")) for s in strings if s.get("CONTENT"))
    corrected = any(s.get("CS") == "true" for s in strings)
    alternatives = [a for s in strings for a in s.iter("{*}ALTERNATIVE")]
    confidences = [float(s.get("WC")) for s in strings if s.get("WC")]
    place = list(line).index(strings[0]) if strings else len(line)
    base_id = strings[0].get("ID") if strings else f"{line.get('ID')}_new"
    for s in strings:
        line.remove(s)
    letters = sum(max(len(t), 1) for t in texts) or 1
    position = left
    for number, text in enumerate(texts):
        share = (right - left) * max(len(text), 1) / letters
        string = etree.Element(tag, ID=base_id if number == 0 else f"{base_id}_{number}", HPOS=str(round(position)),
                               VPOS=str(top), WIDTH=str(max(round(share), 1)), HEIGHT=str(bottom - top))
        if confidences:
            string.set("WC", f"{min(confidences):.2f}")
        string.set("CONTENT", text)
        string.set("CS", "true")
        if number == 0:
            if not corrected:  # Tesseract's readings and the replaced one, on the first new word
                for alternative in alternatives:
                    string.append(alternative)
                if old and old not in {(a.text or "") for a in alternatives}:
                    tag_ns = etree.QName(tag).namespace
                    etree.SubElement(string, f"{{{tag_ns}}}ALTERNATIVE" if tag_ns else "ALTERNATIVE",
                                     PURPOSE=DIACRITICS if alternatives else OCR).text = old
        line.insert(place + number, string)
        position += share


def apply_line(alto: bytes, line_id: str, text: str) -> bytes:
    """The ALTO with line ``line_id`` reading ``text`` (NFC; words split at white space). Words
    that stay keep their String; changed ones are marked corrected and keep what they read; an
    emptied line keeps one empty corrected String (holding the old reading), as ALTO wants a word."""
    root = _parse(alto)
    line = _find_line(root, line_id)
    strings = list(line.iter("{*}String"))
    old = [nfc(s.get("CONTENT", "")) for s in strings]
    new = nfc(text).split()
    if not new:
        new = [""]
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):  # from the end: indexes stay right
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for string, word in zip(strings[i1:i2], new[j1:j2]):
                _set(string, word)
            continue
        if op == "insert" and strings:  # new words join a neighbour: they share its box
            neighbour = i1 - 1 if i1 > 0 else i1
            texts = [*new[j1:j2], old[neighbour]] if neighbour == i1 else [old[neighbour], *new[j1:j2]]
            _spread([strings[neighbour]], texts, line)
            continue
        _spread(strings[i1:i2], new[j1:j2], line)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
