"""Tesseract through its own API (tesserocr): one recognition per page gives the page's ALTO (words,
positions, confidences), from which the plain text and the PDF's invisible text layer are drawn, so
the words in the PDF are exactly the words OCR produced.

Why the API and not the `tesseract` command: each worker keeps its Tesseract with the language
model loaded, the prepared image goes over in memory, and the wheel's Tesseract 5.5 recognises the
same page about 20 % faster than Debian 12's 5.3 (measured in bench/throughput.py). The language
data stays Debian's (`tesseract-ocr-vie` and the others).
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import tesserocr
from lxml import etree
from tesserocr import RIL

from digitize.capture import textlayer
from digitize.core import vietnamese
from digitize.core.errors import ToolError

# one thread per page recognition: pages run in parallel instead (much faster overall)
os.environ["OMP_THREAD_LIMIT"] = "1"
TESSDATA = os.environ.get("TESSDATA_PREFIX", "/usr/share/tesseract-ocr/5/tessdata")
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v3#"
LEVELS = (RIL.BLOCK, RIL.PARA, RIL.TEXTLINE)
CJK = ("chi_", "jpn", "kor")  # language data of scripts set on a fixed pitch
INSTALL = "install it: apt-get install {packages} (the README's first command does this)"


@dataclass
class OcrResult:
    text: str
    alto: bytes  # in NFC, positions in the page image's pixels
    confidence: float | None  # mean word confidence, 0-100
    words: int
    corrections: int = 0  # words the diacritic correction changed
    not_syllables: float | None = None  # share of words that are not Vietnamese syllables (Vietnamese only)


@lru_cache
def tesseract_version() -> str:
    return tesserocr.tesseract_version().split()[1]


def installed_languages() -> frozenset[str]:  # not cached: data installed later counts at once
    return frozenset(tesserocr.get_languages(TESSDATA)[1])


def check_languages(languages: list[str]) -> None:
    missing = [lang for lang in languages if lang not in installed_languages()]
    if missing:
        packages = " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
        raise ToolError(f"Tesseract language data missing in {TESSDATA}: {', '.join(missing)}",
                        todo=INSTALL.format(packages=packages))


_idle: dict[tuple[str, int], list[tesserocr.PyTessBaseAPI]] = defaultdict(list)
_idle_lock = threading.Lock()


@contextmanager
def engine(languages: list[str], psm: int):
    """A Tesseract with these languages loaded, for one page at a time: taken from the idle ones,
    started if none is idle (once per worker), given back afterwards."""
    key = ("+".join(languages), psm)
    with _idle_lock:
        api = _idle[key].pop() if _idle[key] else None
    if api is None:
        check_languages(languages)
        api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang=key[0], psm=psm)
        if any(lang.startswith(CJK) for lang in languages):
            # Han is set on a fixed pitch; without this model the API (unlike the tesseract command)
            # loses whole lines: 29 % CER against 17 % on a horizontal page of chi_tra
            api.SetVariable("textord_use_cjk_fp_model", "1")
    try:
        yield api
    finally:
        api.Clear()
        with _idle_lock:
            _idle[key].append(api)


def _word(words) -> str:
    try:
        return unicodedata.normalize("NFC", words.GetUTF8Text(RIL.WORD) or "").strip()
    except RuntimeError:  # tesserocr's "No text returned": Tesseract found nothing on the page
        return ""


@dataclass
class _Word:
    text: str
    box: tuple[int, int, int, int]
    confidence: float
    starts: tuple[bool, bool, bool]  # whether it begins its block, paragraph, line
    boxes: tuple[tuple[int, int, int, int] | None, ...]  # of the block, paragraph, line it begins
    choices: list[list[tuple[str, float]]]


def _choices(symbol) -> list[tuple[str, float]]:
    """Tesseract's alternatives for the symbol at the iterator, with their confidences."""
    return [(unicodedata.normalize("NFC", c.GetUTF8Text() or ""), c.Confidence()) for c in symbol.GetChoiceIterator()]


def _words(api: tesserocr.PyTessBaseAPI, choices: bool) -> list[_Word]:
    """The recognised words in reading order. With ``choices`` (lstm_choice_mode set) each word keeps
    Tesseract's alternatives per character, which takes iterating symbol by symbol."""
    iterator, found = api.GetIterator(), []
    if iterator is None:
        return found
    for position in tesserocr.iterate_level(iterator, RIL.SYMBOL if choices else RIL.WORD):
        if choices and found and not position.IsAtBeginningOf(RIL.WORD):
            if found[-1] is not None:
                found[-1].choices.append(_choices(position))
            continue
        text = _word(position)
        if not text:
            found.append(None)
            continue
        starts = tuple(position.IsAtBeginningOf(level) for level in LEVELS)
        first = not any(found)  # its boxes are used even if Tesseract did not begin a block there
        word = _Word(text, position.BoundingBox(RIL.WORD), position.Confidence(RIL.WORD) / 100, starts,
                     tuple(position.BoundingBox(level) if start or first else None
                           for level, start in zip(LEVELS, starts)), [])
        if choices:
            word.choices.append(_choices(position))
        found.append(word)
    return [w for w in found if w is not None]


def alto_from(api: tesserocr.PyTessBaseAPI | None, width: int, height: int, scale: float,
              source: str, correct: bool = False) -> tuple[bytes, list, int]:
    """The recognised page as ALTO v3, laid out as Tesseract's own renderer does (a ComposedBlock per
    block, a TextBlock per paragraph), positions divided by ``scale``, words in NFC; the word
    confidences (0-1); and how many words the diacritic correction changed (with ``correct``; each
    keeps what Tesseract read as its ALTERNATIVE). Without ``api``: the page with no words."""
    alto = etree.Element(f"{{{ALTO_NS}}}alto", nsmap={None: ALTO_NS})
    description = etree.SubElement(alto, "Description")
    etree.SubElement(description, "MeasurementUnit").text = "pixel"
    etree.SubElement(etree.SubElement(description, "sourceImageInformation"), "fileName").text = source
    software = etree.SubElement(etree.SubElement(etree.SubElement(
        description, "OCRProcessing", ID="OCR_0"), "ocrProcessingStep"), "processingSoftware")
    etree.SubElement(software, "softwareName").text = f"tesseract {tesseract_version()}"
    page = etree.SubElement(etree.SubElement(alto, "Layout"), "Page", ID="page_0", PHYSICAL_IMG_NR="0",
                            WIDTH=str(round(width / scale)), HEIGHT=str(round(height / scale)))
    counts: dict[str, int] = defaultdict(int)

    def child(parent, tag: str, box: tuple[int, int, int, int]):
        left, top, right, bottom = (round(v / scale) for v in box)
        element = etree.SubElement(parent, tag, ID=f"{tag.lower()}_{counts[tag]}", HPOS=str(left),
                                   VPOS=str(top), WIDTH=str(right - left), HEIGHT=str(bottom - top))
        counts[tag] += 1
        return element

    space, confidences, corrections = child(page, "PrintSpace", (0, 0, width, height)), [], 0
    words = _words(api, correct) if api is not None else []
    texts = [w.text for w in words]
    if correct and words:
        texts = vietnamese.correct_line([vietnamese.Word(w.text, w.choices) for w in words])
    block = paragraph = line = None
    for word, text in zip(words, texts):
        if block is None or word.starts[0]:
            block = paragraph = child(space, "ComposedBlock", word.boxes[0])
        if paragraph is block or word.starts[1]:
            paragraph = line = child(block, "TextBlock", word.boxes[1])
        if line is paragraph or word.starts[2]:
            line = child(paragraph, "TextLine", word.boxes[2])
        string = child(line, "String", word.box)
        string.set("WC", f"{word.confidence:.2f}")
        string.set("CONTENT", text)
        if text != word.text:  # what Tesseract read, kept beside the correction
            etree.SubElement(string, "ALTERNATIVE", PURPOSE="OCR").text = word.text
            corrections += 1
        confidences.append(word.confidence)
    return (etree.tostring(alto, xml_declaration=True, encoding="UTF-8", pretty_print=True), confidences,
            corrections)


def recognize(image: np.ndarray, languages: list[str], dpi: int, psm: int = 3, timeout: int = 600,
              scale: float = 1.0, source: str = "", correct_diacritics: bool = False) -> OcrResult:
    """OCR one prepared page image (8-bit grey: the page image reduced by ``scale``, at ``dpi`` once
    reduced). ``source`` names the page image in the ALTO. With ``correct_diacritics`` (Vietnamese)
    words that differ from a likelier syllable only in diacritics are corrected (digitize.core.vietnamese);
    for Vietnamese the result has the share of words that are not Vietnamese syllables."""
    height, width = image.shape[:2]
    correct = correct_diacritics and "vie" in languages
    with engine(languages, psm) as api:
        api.SetVariable("lstm_choice_mode", "1" if correct else "0")
        api.SetImageBytes(np.ascontiguousarray(image, dtype=np.uint8).tobytes(), width, height, 1, width)
        api.SetSourceResolution(dpi)
        if not api.Recognize(timeout * 1000):
            raise ToolError(f"Tesseract gave up on the page (no result within {timeout} s or an internal "
                            "error)", source, "the page is retried; if it keeps failing, check the image")
        alto, confidences, corrections = alto_from(api, width, height, scale, source, correct)
    text = textlayer.plain_text(textlayer.read_alto(alto))
    mean = round(100 * sum(confidences) / len(confidences), 2) if confidences else None
    share = vietnamese.not_syllable_share(text.split()) if "vie" in languages else None
    return OcrResult(text=text + "\n" if text else "", alto=alto, confidence=mean, words=len(confidences),
                     corrections=corrections, not_syllables=share)


def blank_page(width: int, height: int, source: str = "") -> OcrResult:
    """The result of a blank page, which OCR does not read: no text, an ALTO with no words."""
    alto, _, _ = alto_from(None, width, height, 1.0, source)
    return OcrResult(text="", alto=alto, confidence=None, words=0)
