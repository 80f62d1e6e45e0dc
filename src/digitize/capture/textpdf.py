"""A PDF/A-2b of words a person reads (a report, a record): A4 pages of headings, lines of text
and simple tables, in Noto Sans (data/fonts), so Vietnamese prints with every diacritic and the
text can be searched and copied. The font is embedded as a subset (only the glyphs used) under
a Type 0 font with Identity-H encoding and a ToUnicode map, as PDF/A asks."""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files as package_files
from pathlib import Path

import pikepdf
from pikepdf import Name

from digitize.capture.pdf import FLAVOUR, PdfInfo, _describe
from digitize.core import files
from digitize.core.errors import OutputInvalid
from digitize.core.models import FileFacts

# Noto Sans Regular, unmodified (data/fonts/SOURCES.md: its source and licence)
TEXT_FONT = package_files("digitize") / "data" / "fonts" / "NotoSans-Regular.ttf"
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 595.28, 841.89, 50.0  # A4, points
BODY, HEADING, TITLE = 9.5, 12.0, 16.0  # font sizes, points
LEADING = 1.35  # line height / font size


@dataclass
class Heading:
    text: str
    size: float = HEADING


@dataclass
class Paragraph:
    text: str
    size: float = BODY


@dataclass
class Table:
    """A table: a header row and rows of cells; ``widths`` share out the line (any units)."""

    headers: list[str]
    rows: list[list[str]]
    widths: list[float] = field(default_factory=list)
    size: float = BODY - 1


Block = Heading | Paragraph | Table


@lru_cache(maxsize=1)
def _font() -> tuple[bytes, dict[int, int], dict[int, int], int]:
    """The font's bytes, its character map (code point -> glyph), its advances (glyph -> width in
    font units) and units per em."""
    from fontTools.ttLib import TTFont

    data = TEXT_FONT.read_bytes()
    font = TTFont(io.BytesIO(data))
    order = font.getGlyphOrder()
    glyph_id = {name: number for number, name in enumerate(order)}
    cmap = {code: glyph_id[name] for code, name in font.getBestCmap().items()}
    advances = {glyph_id[name]: width for name, (width, _) in font["hmtx"].metrics.items()}
    return data, cmap, advances, font["head"].unitsPerEm


class _Writer:
    """Lays the blocks out on pages, top to bottom, and remembers every glyph used."""

    def __init__(self):
        _, self.cmap, self.advances, self.units = _font()
        self.used: dict[int, str] = {}  # glyph -> the text it stands for
        self.pages: list[list[str]] = [[]]
        self.y = PAGE_HEIGHT - MARGIN

    def glyphs(self, text: str) -> list[int]:
        shown = []
        for char in unicodedata.normalize("NFC", text):
            glyph = self.cmap.get(ord(char)) or self.cmap.get(ord("?"), 0)
            self.used.setdefault(glyph, char if ord(char) in self.cmap else "?")
            shown.append(glyph)
        return shown

    def width(self, text: str, size: float) -> float:
        return sum(self.advances.get(g, 0) for g in self.glyphs(text)) * size / self.units

    def wrap(self, text: str, size: float, room: float) -> list[str]:
        """The text in lines no wider than ``room`` (words broken only where one alone is wider)."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                trial = f"{line} {word}" if line else word
                if self.width(trial, size) <= room or not line:
                    line = trial
                else:
                    lines.append(line)
                    line = word
                while self.width(line, size) > room and len(line) > 1:  # a word wider than the room
                    cut = len(line)
                    while cut > 1 and self.width(line[:cut], size) > room:
                        cut -= 1
                    lines.append(line[:cut])
                    line = line[cut:]
            lines.append(line)
        return lines

    def room_for(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.pages.append([])
            self.y = PAGE_HEIGHT - MARGIN

    def text_at(self, x: float, text: str, size: float) -> None:
        codes = "".join(f"{g:04X}" for g in self.glyphs(text))
        self.pages[-1].append(f"BT /F1 {size:.2f} Tf 1 0 0 1 {x:.2f} {self.y:.2f} Tm <{codes}> Tj ET")

    def rule(self) -> None:
        self.pages[-1].append(f"0.6 G 0.5 w {MARGIN:.2f} {self.y:.2f} m {PAGE_WIDTH - MARGIN:.2f} {self.y:.2f} l S 0 G")

    def lines(self, lines: list[str], size: float, x: float = MARGIN) -> None:
        for line in lines:
            self.room_for(size * LEADING)
            self.y -= size * LEADING
            self.text_at(x, line, size)

    def block(self, block: Block) -> None:
        room = PAGE_WIDTH - 2 * MARGIN
        if isinstance(block, Heading):
            self.room_for(block.size * LEADING * 3)  # a heading is not left alone at a page's foot
            self.y -= block.size * 0.6
            self.lines(self.wrap(block.text, block.size, room), block.size)
            self.y -= block.size * 0.3
        elif isinstance(block, Paragraph):
            self.lines(self.wrap(block.text, block.size, room), block.size)
            self.y -= block.size * 0.5
        else:
            self.table(block, room)

    def table(self, table: Table, room: float) -> None:
        shares = table.widths or [1.0] * len(table.headers)
        widths = [room * share / sum(shares) for share in shares]
        gap = 6.0

        def row(cells: list[str], header: bool) -> None:
            wrapped = [self.wrap(str(cell), table.size, width - gap) for cell, width in zip(cells, widths)]
            height = max(len(lines) for lines in wrapped) * table.size * LEADING
            pages = len(self.pages)
            self.room_for(height + 4)
            if not header and len(self.pages) != pages:  # the table goes on on a new page: its header again
                row(table.headers, True)
            top, x = self.y, MARGIN
            for lines, width in zip(wrapped, widths):
                self.y = top
                self.lines(lines, table.size, x)
                x += width
            self.y = top - height - 3
            if header:
                self.rule()
                self.y -= 1

        row(table.headers, True)
        for cells in table.rows:
            row(cells, False)
        self.y -= BODY * 0.5


def _embedded_font(pdf: pikepdf.Pdf, used: dict[int, str]) -> pikepdf.Object:
    """The Type 0 font of the glyphs used: a subset of the TrueType program that keeps the glyph
    numbers (so character code = glyph number, Identity), their widths and their Unicode text."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    data, _, advances, units = _font()
    font = TTFont(io.BytesIO(data))
    options = subset.Options()
    options.retain_gids = True
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = []
    subsetter = subset.Subsetter(options)
    glyph_order = font.getGlyphOrder()
    subsetter.populate(glyphs=[glyph_order[g] for g in sorted(used)])
    subsetter.subset(font)
    program = io.BytesIO()
    font.save(program)
    program_bytes = program.getvalue()
    tag = "".join(chr(ord("A") + b % 26) for b in hashlib.sha256(program_bytes).digest()[:6])
    name = Name(f"/{tag}+NotoSans-Regular")
    scale = 1000.0 / units
    head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
    descriptor = pikepdf.Dictionary(
        Type=Name.FontDescriptor, FontName=name, Flags=32,
        FontBBox=[round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        ItalicAngle=0, Ascent=round(hhea.ascent * scale), Descent=round(hhea.descent * scale),
        CapHeight=round(getattr(os2, "sCapHeight", hhea.ascent) * scale), StemV=80,
        FontFile2=pikepdf.Stream(pdf, program_bytes))
    widths = pikepdf.Array()
    for glyph in sorted(used):
        widths.extend([glyph, pikepdf.Array([round(advances.get(glyph, 0) * scale, 3)])])
    cid_font = pikepdf.Dictionary(
        Type=Name.Font, Subtype=Name.CIDFontType2, BaseFont=name,
        CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                         Supplement=0),
        FontDescriptor=pdf.make_indirect(descriptor), DW=1000, W=widths, CIDToGIDMap=Name.Identity)
    to_unicode = _to_unicode(used)
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=Name.Font, Subtype=Name.Type0, BaseFont=name, Encoding=Name("/Identity-H"),
        DescendantFonts=pikepdf.Array([pdf.make_indirect(cid_font)]),
        ToUnicode=pikepdf.Stream(pdf, to_unicode)))


def _to_unicode(used: dict[int, str]) -> bytes:
    entries = sorted(used.items())
    chunks = []
    for start in range(0, len(entries), 100):  # at most 100 entries in a bfchar section
        part = entries[start:start + 100]
        chunks.append(f"{len(part)} beginbfchar\n" + "\n".join(
            f"<{glyph:04X}> <{text.encode('utf-16-be').hex().upper()}>" for glyph, text in part) + "\nendbfchar")
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n" + "\n".join(chunks) +
            "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")


def write_text_pdfa(blocks: list[Block], target: Path, info: PdfInfo) -> FileFacts:
    """Write the blocks as a PDF/A-2b at ``target`` (atomically, hashed as written); raises
    OutputInvalid (and writes nothing) if it does not validate."""
    import pikepdf.pdfa

    writer = _Writer()
    for block in blocks:
        writer.block(block)
    pdf = pikepdf.new()
    font = _embedded_font(pdf, writer.used)
    for drawing in writer.pages:
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=Name.Page, MediaBox=[0, 0, PAGE_WIDTH, PAGE_HEIGHT],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            Contents=pikepdf.Stream(pdf, "\n".join(drawing).encode("ascii")))))
    _describe(pdf, info)
    try:
        with files.atomic_writer(target) as out:
            pikepdf.pdfa.save(pdf, out, FLAVOUR, output_intent="sRGB", deterministic_id=True)
        return out.written
    except pikepdf.pdfa.PdfaError as exc:
        raise OutputInvalid(f"PDF/A-{FLAVOUR} validation failed: {exc}", str(target),
                            "report this to the maintainers") from None
