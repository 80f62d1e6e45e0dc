"""Tesseract through pytesseract: one run per page gives its ALTO (words, positions, confidences),
from which the plain text and the PDF's invisible text layer are drawn, so the words in the PDF are
exactly the words OCR produced."""

from __future__ import annotations

import os
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytesseract
from lxml import etree

from digitize import textlayer
from digitize.errors import ToolError

# one thread per Tesseract process: pages run in parallel instead (much faster overall)
os.environ["OMP_THREAD_LIMIT"] = "1"


@dataclass
class OcrResult:
    text: str
    alto: bytes  # in NFC, positions in the page image's pixels
    confidence: float | None  # mean word confidence, 0-100
    words: int


@lru_cache
def tesseract_version() -> str:
    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError):
        raise ToolError("Tesseract is not installed", todo="install it: apt-get install tesseract-ocr "
                        "tesseract-ocr-vie (the README's first command does this)") from None


@lru_cache
def installed_languages() -> frozenset[str]:
    return frozenset(pytesseract.get_languages(config=""))


def check_languages(languages: list[str]) -> None:
    missing = [lang for lang in languages if lang not in installed_languages()]
    if missing:
        packages = " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
        raise ToolError(f"Tesseract language data missing: {', '.join(missing)}",
                        todo=f"install it: apt-get install {packages}")


POSITIONS = ("HPOS", "VPOS", "WIDTH", "HEIGHT")


def nfc_alto(alto: bytes, scale: float = 1.0) -> tuple[bytes, float | None, int]:
    """ALTO with every word in NFC and positions in the page image's pixels (the OCR image was
    that image times ``scale``), the mean word confidence (0-100) and the word count."""
    root = etree.fromstring(alto)
    if scale != 1.0:
        for element in root.iter():
            for name in POSITIONS:
                if element.get(name) is not None:
                    element.set(name, str(round(float(element.get(name)) / scale)))
    confidences = []
    for string in root.iter("{*}String"):
        string.set("CONTENT", unicodedata.normalize("NFC", string.get("CONTENT", "")))
        if string.get("WC") is not None:
            confidences.append(float(string.get("WC")))
    mean = round(100 * sum(confidences) / len(confidences), 2) if confidences else None
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), mean, len(confidences)


def recognize(image: Path, base: Path, languages: list[str], dpi: int, psm: int = 3,
              timeout: int = 600, scale: float = 1.0) -> OcrResult:
    """OCR one prepared page image (the page image reduced by ``scale``, at ``dpi`` once reduced).
    Tesseract writes ALTO only (base.xml); the plain text and the PDF text layer are drawn from it."""
    config = f"--psm {psm} --dpi {dpi}"
    try:
        pytesseract.pytesseract.run_tesseract(str(image), str(base), extension="alto",
                                              lang="+".join(languages), config=config, timeout=timeout)
    except RuntimeError as exc:  # pytesseract's TesseractError and its timeout
        raise ToolError(f"Tesseract failed: {exc}", str(image), "the page is retried; if it keeps "
                        "failing, check the image") from None
    except (subprocess.SubprocessError, OSError) as exc:
        raise ToolError(f"Tesseract could not run: {exc}", str(image)) from None
    alto, confidence, words = nfc_alto(base.with_suffix(".xml").read_bytes(), scale)
    text = textlayer.plain_text(textlayer.read_alto(alto))
    return OcrResult(text=text + "\n" if text else "", alto=alto, confidence=confidence, words=words)
