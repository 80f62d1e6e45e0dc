"""Reading order of the PDF's text layer: `pdftotext`, in its default mode (which orders the text by
its layout on the page) as with -raw (the order of the content), gives each line's words in order
and the lines in the order of the ALTO, on two-column and typewriter (monospaced) pages as on an
ordinary page."""

from __future__ import annotations

import re
import subprocess
import unicodedata

import pikepdf
import pytest
from fontTools.ttLib import TTFont
from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from conftest import CORPUS, invoke_cli
from digitize.capture.pdf import validate_pdfa

pytestmark = pytest.mark.slow  # a batch run (OCR) of rendered pages

FONTS = "/usr/share/fonts/truetype"
SERIF, SANS = f"{FONTS}/noto/NotoSerif-Regular.ttf", f"{FONTS}/noto/NotoSans-Regular.ttf"
MONO = f"{FONTS}/dejavu/DejaVuSansMono.ttf"
DPI = 300
WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi
MARGIN, GUTTER = 250, 100
# kind of page: font, size in pixels (10 pt is 42), text, columns, line pitch in pixels
PAGES = {"one column": (SERIF, 42, "ke-hoach-hai-duong.txt", 1, 64),
         "two columns": (SERIF, 42, "truyen-kieu-1866.txt", 2, 64),
         "two columns, sans": (SANS, 38, "ke-hoach-hai-duong.txt", 2, 56),
         "typewriter": (MONO, 50, "ke-hoach-hai-duong.txt", 1, 100)}  # 12 pt pica, double spaced
# DejaVu Sans Mono lacks the letters with two marks (ế, ở, ...): its page has the words it can draw
MONO_GLYPHS = TTFont(MONO).getBestCmap()


def corpus_words(name: str) -> list[str]:
    """The words of a Vietnamese text, less those ending in a hyphen: pdftotext joins a line ending
    in a hyphen with the next (dehyphenation), which is no matter of order."""
    text = unicodedata.normalize("NFC", (CORPUS / name).read_text(encoding="utf-8"))
    return [word for word in re.sub(r"[*#|\\“”]+", " ", text).split() if not word.endswith("-")]


def set_column(draw, words: list[str], font, left: int, width: int, pitch: int) -> None:
    """Words set ragged right into a column, taken from the front of ``words``, until the column is full."""
    y = MARGIN
    while words and y + pitch <= HEIGHT - MARGIN:
        line = words.pop(0)
        while words and draw.textlength(f"{line} {words[0]}", font=font) <= width:
            line += " " + words.pop(0)
        draw.text((left, y), line, font=font, fill=0)
        y += pitch


def page(kind: str) -> Image.Image:
    path, size, text, columns, pitch = PAGES[kind]
    image = Image.new("L", (WIDTH, HEIGHT), 255)
    draw, font, words = ImageDraw.Draw(image), ImageFont.truetype(path, size), corpus_words(text)
    if path == MONO:
        words = [word for word in words if all(ord(ch) in MONO_GLYPHS for ch in word)]
    width = (WIDTH - 2 * MARGIN - (columns - 1) * GUTTER) // columns
    for column in range(columns):
        set_column(draw, words, font, MARGIN + column * (width + GUTTER), width, pitch)
    return image


@pytest.fixture(scope="module")
def item(tmp_path_factory):
    """The pages run through `digitize run`: (the item's output folder, completed process)."""
    root = tmp_path_factory.mktemp("reading-order")
    folder = root / "batch" / "RO-1"
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text('id = "RO-1"\ntitle = "Thứ tự đọc"\nlibrary = "TEST"\naccess = "open"\n',
                                      encoding="utf-8")
    for number, kind in enumerate(PAGES, 1):
        page(kind).save(folder / f"p{number}.png", dpi=(DPI, DPI), compress_level=1)  # written fast
    result = invoke_cli("run", str(root / "batch"), "--out", str(root / "out"), "--workers", "2")
    return root / "out" / "TEST" / "RO-1", result


def alto_lines(alto) -> list[list[str]]:
    return [[s.get("CONTENT") for s in line.iter("{*}String") if s.get("CONTENT")]
            for line in etree.parse(str(alto)).iter("{*}TextLine")]


def pdftotext(pdf, number: int, *options: str) -> list[list[str]]:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", *options, "-f", str(number), "-l", str(number), str(pdf),
                           "-"], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in text.splitlines() if line.split()]


@pytest.mark.parametrize("number", range(1, len(PAGES) + 1), ids=PAGES)
def test_pdftotext_gives_lines_and_words_in_reading_order(item, number):
    folder, result = item
    assert result.returncode == 0, result.stdout + result.stderr
    alto = [line for line in alto_lines(folder / "alto" / f"{number:04d}.xml") if line]
    assert len(alto) >= 30  # the page was read (32 typewriter lines, 47 in a column)
    pdf = folder / "RO-1.pdf"
    assert pdftotext(pdf, number) == alto
    assert pdftotext(pdf, number, "-raw") == alto


def test_text_layer_stays_invisible_and_pdfa(item):
    """The page is still its image alone: the words, one text object per line, are drawn invisibly."""
    folder, _ = item
    pdf = folder / "RO-1.pdf"
    assert validate_pdfa(pdf) == []
    with pikepdf.open(pdf) as doc:
        for number, page_ in enumerate(doc.pages, 1):
            drawing = pikepdf.parse_content_stream(page_)
            operators = [str(op) for _, op in drawing]
            assert operators.count("Do") == 1  # the page image, drawn once
            assert {int(operands[0]) for operands, op in drawing if str(op) == "Tr"} == {3}
            lines = [line for line in alto_lines(folder / "alto" / f"{number:04d}.xml") if line]
            assert operators.count("BT") == len(lines)
