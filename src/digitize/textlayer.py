"""The invisible text layer of the PDF, drawn from a page's ALTO, and the page's plain text.

The words are written in Tesseract's GlyphLessFont (every character code is its Unicode value,
every glyph is blank), as Tesseract's own PDF renderer does; so the PDF carries exactly the OCR's
words, diacritics included, and a reader can search, select and copy them. Drawing the layer
ourselves lets Tesseract produce ALTO only, which saves it a second and third renderer per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import pikepdf
from lxml import etree
from pikepdf import Name

# Tesseract's pdf.ttf, shipped in the package (data/fonts/SOURCES.md: its source and licence).
GLYPHLESS_FONT = files("digitize") / "data" / "fonts" / "pdf.ttf"
CHAR_WIDTH = 500  # glyph advance in font units (of 1000): every glyph of GlyphLessFont
TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


@dataclass
class Line:
    top: float  # pixels from the top of the page image
    height: float
    words: list[tuple[float, float, str]]  # left, width, text


def read_alto(alto: bytes) -> list[list[Line]]:
    """Blocks of lines of words (positions in pixels) from an ALTO document."""
    root = etree.fromstring(alto)
    blocks = []
    for block in root.iter("{*}TextBlock"):
        lines = []
        for line in block.iter("{*}TextLine"):
            words = [(float(s.get("HPOS")), float(s.get("WIDTH")), s.get("CONTENT", ""))
                     for s in line.iter("{*}String") if s.get("CONTENT")]
            if words:
                lines.append(Line(float(line.get("VPOS")), float(line.get("HEIGHT")), words))
        if lines:
            blocks.append(lines)
    return blocks


def plain_text(blocks: list[list[Line]]) -> str:
    """One line of text per line of print, a blank line between blocks."""
    return "\n\n".join("\n".join(" ".join(w[2] for w in line.words) for line in lines) for lines in blocks)


def _codes(text: str) -> str:
    return "".join(f"{ord(ch) if ord(ch) <= 0xFFFF else 0xFFFD:04X}" for ch in text)


def content(blocks: list[list[Line]], page_height_px: float, dpi: float) -> bytes:
    """Page content drawing every word invisibly (render mode 3) over its place on the image."""
    scale = 72.0 / dpi
    parts = ["BT 3 Tr"]
    for lines in blocks:
        for line in lines:
            size = max(line.height * scale, 1.0)
            baseline = (page_height_px - line.top - line.height * 0.8) * scale
            parts.append(f"/GlyphLess {size:.2f} Tf")  # once a line: every word of a line has its size
            for number, (left, width, text) in enumerate(line.words):
                text = text + (" " if number < len(line.words) - 1 else "")
                advance = len(text) * CHAR_WIDTH / 1000 * size
                stretch = 100.0 * width * scale / advance if advance else 100.0
                parts.append(f"{stretch:.2f} Tz 1 0 0 1 {left * scale:.2f} {baseline:.2f} Tm <{_codes(text)}> Tj")
    parts.append("ET")
    return "\n".join(parts).encode("ascii")


@lru_cache
def _font_program() -> bytes:
    return GLYPHLESS_FONT.read_bytes()


def font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """GlyphLessFont as a Type0 font with identity encoding (embedded once per document)."""
    descriptor = pdf.make_indirect(pikepdf.Dictionary(
        Type=Name.FontDescriptor, FontName=Name.GlyphLessFont, Flags=5, FontBBox=[0, 0, CHAR_WIDTH, 1000],
        ItalicAngle=0, Ascent=1000, Descent=-1, CapHeight=1000, StemV=80,
        FontFile2=pikepdf.Stream(pdf, _font_program())))
    cid_to_gid = pikepdf.Stream(pdf, b"\x00\x01" * 65536)  # every code to glyph 1
    descendant = pdf.make_indirect(pikepdf.Dictionary(
        Type=Name.Font, Subtype=Name.CIDFontType2, BaseFont=Name.GlyphLessFont,
        CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                         Supplement=0),
        FontDescriptor=descriptor, DW=CHAR_WIDTH, W=[0, [CHAR_WIDTH]], CIDToGIDMap=cid_to_gid))
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=Name.Font, Subtype=Name.Type0, BaseFont=Name.GlyphLessFont, Encoding=Name("/Identity-H"),
        DescendantFonts=[descendant], ToUnicode=pikepdf.Stream(pdf, TO_UNICODE)))
