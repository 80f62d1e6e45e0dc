"""The invisible text layer of the PDF, drawn from a page's ALTO, and the page's plain text.

The words are written in Tesseract's GlyphLessFont (every character code is its Unicode value,
every glyph is blank), as Tesseract's own PDF renderer does; so the PDF carries exactly the OCR's
words, diacritics included, and a reader can search, select and copy them. Drawing the layer
ourselves lets Tesseract produce ALTO only, which saves it a second and third renderer per page.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """Page content drawing every word invisibly (render mode 3) over its place on the image.

    As Tesseract's PDF renderer: one text object per line, each word stretched (Tz) to its box on
    the line's baseline, and a space stretched over the gap to the next word; so text extraction
    (pdftotext, a viewer's copy) finds each line's words where the reader sees them."""
    scale = 72.0 / dpi
    size_of = _font_sizes(blocks)
    parts = []
    for lines in blocks:
        for line in lines:
            size = max(size_of(line), 1.0)
            baseline = (page_height_px - line.top - line.height * 0.8) * scale
            lefts = [round(left * scale, 2) for left, _, _ in line.words]
            parts.append(f"BT 3 Tr /GlyphLess {size * scale:.2f} Tf 1 0 0 1 {lefts[0]:.2f} {baseline:.2f} Tm")
            for number, (left, width, text) in enumerate(line.words):
                if number:
                    parts.append(f"{lefts[number] - lefts[number - 1]:.2f} 0 Td")
                last = number == len(line.words) - 1
                right = left + width
                if not last:
                    # pdftotext puts a space only where it sees a gap (-raw: 0.15 of the font size),
                    # and OCR boxes may touch or overlap: the word then ends a little earlier
                    right = min(right, line.words[number + 1][0] - 0.2 * size)
                width = max(right - left, 1.0)
                parts.append(f"{_stretch(width, len(text), size):.2f} Tz <{_codes(text)}> Tj")
                if not last:
                    gap = max(line.words[number + 1][0] - left - width, 1.0)
                    parts.append(f"{_stretch(gap, 1, size):.2f} Tz <0020> Tj")
            parts.append("ET")
    return "\n".join(parts).encode("ascii")


def _font_sizes(blocks: list[list[Line]]) -> Callable[[Line], float]:
    """The font size (pixels) of each line of a page, as text extraction needs it.

    pdftotext (poppler) joins lines into a paragraph only if their font sizes agree within 5 % and
    their baselines are less than 1.5 font sizes apart; otherwise every line is a paragraph of its
    own, and on a two-column page those of both columns get interleaved. Vietnamese line heights
    vary more than that (stacked diacritics, descenders), so lines near the page's usual height get
    that height; and where lines are far apart (a double-spaced typescript) every size grows to the
    usual line pitch / 1.3, so that the next line is in reach."""
    heights = sorted(line.height for lines in blocks for line in lines)
    pitches = sorted(below.top - above.top for lines in blocks for above, below in zip(lines, lines[1:])
                     if below.top > above.top)
    usual = max(heights[len(heights) // 2], 1.0) if heights else 1.0
    grow = max(1.0, pitches[len(pitches) // 2] / 1.3 / usual) if pitches else 1.0
    return lambda line: grow * (usual if abs(line.height - usual) <= 0.25 * usual else line.height)


def _stretch(width: float, characters: int, size: float) -> float:
    """Horizontal scaling (percent) that makes ``characters`` glyphs of GlyphLessFont ``width`` long."""
    return 100.0 * width / (characters * CHAR_WIDTH / 1000 * size)


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
