"""Pages that lie: transparent backgrounds, blank pages, impossible resolutions, thumbnails and odd
pixel formats. Each is read or refused with a plain reason, quickly, by the real `digitize run`."""

from __future__ import annotations

import io
import json
import math
import struct
import time
import zlib

import numpy as np
import pikepdf
import pytest
from lxml import etree
from PIL import Image, ImageDraw, ImageFont
from PIL.TiffImagePlugin import IFDRational

from conftest import latest_report, report_reasons, report_statuses, run_cli, tree_hashes
from digitize.describe import mets
from digitize.core.errors import BadInput
from digitize.capture.resolution import page_dpi
from digitize.core.models import PageSource
from digitize.describe.schemas import validate_file

FONT = "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf"
LINES = ["Trăm năm trong cõi người ta,", "Chữ tài chữ mệnh khéo là ghét nhau.", "Trải qua một cuộc bể dâu,",
         "Những điều trông thấy mà đau đớn lòng.", "Lạ gì bỉ sắc tư phong,", "Trời xanh quen thói má hồng đánh ghen."]
SIZE = (1240, 900)  # pixels at 300 dpi: a strip of a page, enough for six lines
DPI = {"dpi": (300, 300)}
RAW_WORDS = ("Traceback", "NaN to integer", "OpenCV", "error:", "cannot identify", "unexpected failure")


def text_layer() -> Image.Image:
    """Black Vietnamese text on a fully transparent canvas (what a 'remove background' tool leaves)."""
    canvas = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw, font = ImageDraw.Draw(canvas), ImageFont.truetype(FONT, 46)  # 11 pt at 300 dpi
    for number, line in enumerate(LINES):
        draw.text((120, 100 + number * 110), line, font=font, fill=(0, 0, 0, 255))
    return canvas


def on_paper(layer: Image.Image, tone: int = 255) -> Image.Image:
    paper = Image.new("RGBA", layer.size, (tone, tone, tone, 255))
    paper.alpha_composite(layer)
    return paper.convert("L")


def paper(tone: int, noise: float, size=SIZE, seed: int = 1) -> Image.Image:
    values = np.random.default_rng(seed).normal(tone, noise, (size[1], size[0]))
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))


def png(width: int, height: int, colour_type: int, depth: int, rows: bytes, ppm: int | None = None) -> bytes:
    """A PNG written byte by byte: what Pillow will not write (16-bit grey with alpha, any pHYs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    stride = len(rows) // height
    data = b"".join(b"\0" + rows[i * stride:(i + 1) * stride] for i in range(height))
    phys = chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)) if ppm is not None else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
            + phys + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


def grey_alpha_16() -> bytes:
    alpha = np.asarray(text_layer())[..., 3].astype(">u2") * 257
    pixels = np.zeros(alpha.shape + (2,), ">u2")
    pixels[..., 1] = alpha  # grey 0 everywhere: only the alpha draws the text
    return png(SIZE[0], SIZE[1], 4, 16, pixels.tobytes(), ppm=round(300 / 0.0254))


def palette_with_transparent_black() -> Image.Image:
    """Palette image whose background entry is black and transparent, its text entry black."""
    ink = np.asarray(text_layer())[..., 3] > 127
    image = Image.fromarray(ink.astype(np.uint8), "P")
    image.putpalette([0, 0, 0, 0, 0, 0])
    image.info["transparency"] = 0
    return image


def big_endian_tiff_16(image: Image.Image) -> bytes:
    """An uncompressed big-endian ('MM') 16-bit grey TIFF, which Pillow opens as mode I;16B."""
    width, height = image.size
    pixels = (np.asarray(image).astype(">u2") * 257).tobytes()
    entries = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1), (273, 4, 0),
               (277, 3, 1), (278, 4, height), (279, 4, len(pixels)), (282, 5, 0), (283, 5, 0), (296, 3, 2)]
    ifd_size = 2 + 12 * len(entries) + 4
    resolution, data = 8 + ifd_size, 8 + ifd_size + 16
    out = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", len(entries))
    for tag, kind, value in entries:
        value = {273: data, 282: resolution, 283: resolution + 8}.get(tag, value)
        packed = struct.pack(">HI", value, 0)[:4] if kind == 3 else struct.pack(">I", value)
        out += struct.pack(">HHI", tag, kind, 1) + packed
    return out + b"\0\0\0\0" + struct.pack(">IIII", 300, 1, 300, 1) + pixels


def save(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def item_toml(item_id: str, profile: str = "quoc-ngu-modern") -> str:
    return (f'id = "{item_id}"\ntitle = "Trang thử {item_id}"\nlibrary = "TEST"\naccess = "open"\n'
            f'profile = "{profile}"\n')


def write_batch(batch, items: dict) -> None:
    for item_id, (profile, files) in items.items():
        folder = batch / item_id
        folder.mkdir(parents=True)
        (folder / "item.toml").write_text(item_toml(item_id, profile), encoding="utf-8")
        for name, data in files.items():
            (folder / name).write_bytes(data)


def run(root, items: dict):
    batch, out = root / "batch", root / "out"
    write_batch(batch, items)
    originals = tree_hashes(batch)
    started = time.perf_counter()
    result = run_cli("run", str(batch), "--out", str(out), "--workers", "2")
    seconds = time.perf_counter() - started
    assert tree_hashes(batch) == originals  # only read
    assert sorted(p.name for p in root.iterdir()) == ["batch", "ledger.sqlite", "out", "store"]  # nothing elsewhere
    return out, result, latest_report(out), seconds


def page_records(out, item_id: str) -> list[dict]:
    folder = out / "TEST" / item_id / "pages"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def pdf_images(pdf) -> list[np.ndarray]:
    with pikepdf.open(pdf) as doc:
        return [np.asarray(pikepdf.PdfImage(page.get_images()["/Im0"]).as_pil_image().convert("L"))
                for page in doc.pages]


@pytest.fixture(scope="module")
def read_batch(tmp_path_factory):
    """Pages that are readable once they are understood: transparency, a blank verso, odd formats."""
    layer = text_layer()
    text, few_words = on_paper(layer, 235), paper(232, 3)
    font = ImageFont.truetype(FONT, 46)
    ImageDraw.Draw(few_words).text((200, 400), "Trang này cố ý để trắng", font=font, fill=30)
    items = {
        "ALPHA-1": ("quoc-ngu-modern", {
            "0001.png": save(layer, format="PNG", **DPI),  # RGBA, background fully transparent
            "0002.png": save(layer.convert("LA"), format="PNG", **DPI),
            "0003.png": save(palette_with_transparent_black(), format="PNG", **DPI),
            "0004.png": grey_alpha_16(),
            "0005.tif": save(layer, format="TIFF", **DPI)}),
        "BOOK-1": ("quoc-ngu-modern", {
            "0001.tif": save(text, format="TIFF", compression="tiff_lzw", **DPI),
            "0002.jpg": save(paper(226, 4), format="JPEG", quality=80, **DPI),  # the blank verso
            "0003.png": save(few_words, format="PNG", **DPI)}),
        "STRANGE-1": ("quoc-ngu-modern", {
            "0001.jpg": save(on_paper(layer).convert("RGB").convert("CMYK"), format="JPEG", **DPI),
            "0002.tif": save(on_paper(layer).convert("1").crop((0, 0, 1237, 899)), format="TIFF",
                             compression="group4", **DPI),  # 1-bit, odd width
            "0003.png": save(on_paper(layer).convert("P"), format="PNG", **DPI),
            "0004.tif": big_endian_tiff_16(on_paper(layer))}),
    }
    return run(tmp_path_factory.mktemp("read"), items)


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    """Pages that cannot be believed: impossible resolutions and thumbnails."""
    page = on_paper(text_layer())
    nan_resolution = {282: IFDRational(0, 0), 283: IFDRational(0, 0), 296: 2}  # 0/0 inch: NaN dpi
    items = {
        "DPI-NAN": ("quoc-ngu-modern", {"0001.tif": save(page, format="TIFF", tiffinfo=nan_resolution)}),
        "DPI-HUGE": ("quoc-ngu-modern", {"0001.png": save(page, format="PNG", dpi=(109e6, 109e6))}),
        "DPI-ZERO": ("quoc-ngu-modern", {"0001.png": save(page, format="PNG", dpi=(0, 0))}),
        # a profile that only warns: the page goes on at the profile's minimum (a blank page: no OCR)
        "DPI-WARN": ("han-nom", {"0001.png": save(paper(240, 3), format="PNG", dpi=(109e6, 109e6))}),
        "TINY-1": ("quoc-ngu-modern", {
            "0001.png": save(Image.new("L", (1, 1), 255), format="PNG", **DPI),
            "0002.png": save(Image.new("L", (10, 10), 0), format="PNG", **DPI),
            "0003.tif": save(Image.new("1", (50, 30), 1), format="TIFF", **DPI)}),
    }
    return run(tmp_path_factory.mktemp("hostile"), items)


@pytest.mark.slow  # a batch run (OCR)
def test_transparent_pages_are_read_on_white(read_batch):
    out, result, report, _ = read_batch
    status = report_statuses(report)
    assert status["ALPHA-1"] == "ok", result.stdout
    for record in page_records(out, "ALPHA-1"):
        assert record["words"] >= 30, record["source"]  # six lines of text, not a black page with no words
        text = (out / "TEST" / "ALPHA-1" / record["text_file"]).read_text(encoding="utf-8")
        assert "Trăm năm trong cõi người ta" in text, record["source"]
    for image in pdf_images(out / "TEST" / "ALPHA-1" / "ALPHA-1.pdf"):
        assert np.median(image) > 240  # white paper in the PDF, not black


@pytest.mark.slow  # a batch run (OCR)
def test_a_blank_page_is_accepted_and_marked_blank(read_batch):
    out, result, report, _ = read_batch
    [book] = [item for item in report["items"] if item["item_id"] == "BOOK-1"]
    assert book["status"] == "ok" and book["pages"] == 3, result.stdout
    folder = out / "TEST" / "BOOK-1"
    first, blank, last = page_records(out, "BOOK-1")
    assert (first["blank"], blank["blank"], last["blank"]) == (False, True, False)
    assert blank["words"] == 0 and blank["timings"]["ocr"] < 0.05  # no OCR time spent on it
    assert (folder / blank["text_file"]).read_text(encoding="utf-8") == ""
    assert not etree.parse(str(folder / blank["alto_file"])).getroot().xpath("//*[local-name()='String']")
    assert first["words"] >= 30
    # the few words of a page that is not blank are read
    assert "để trắng" in (folder / last["text_file"]).read_text(encoding="utf-8")
    assert (folder / "BOOK-1.txt").read_text(encoding="utf-8").split("\f")[1] == ""
    assert len(pdf_images(folder / "BOOK-1.pdf")) == 3


@pytest.mark.slow  # a batch run (OCR)
def test_the_mets_says_which_page_is_blank(read_batch):
    out, _, _, _ = read_batch
    path = out / "TEST" / "BOOK-1" / "mets.xml"
    validate_file(path)
    assert [page.blank for page in mets.read(path).pages] == [False, True, False]
    divs = etree.parse(str(path)).getroot().xpath(
        "//mets:structMap[@TYPE='PHYSICAL']//mets:div[@TYPE='page']", namespaces=mets.NS)
    assert [div.get("LABEL") for div in divs] == [None, "blank page", None]


@pytest.mark.slow  # a batch run (OCR)
def test_odd_pixel_formats_are_read(read_batch):
    out, result, report, _ = read_batch
    status = report_statuses(report)
    assert status["STRANGE-1"] == "ok", result.stdout
    assert [record["words"] >= 30 for record in page_records(out, "STRANGE-1")] == [True] * 4
    assert not any(word in result.stdout + result.stderr for word in RAW_WORDS)


@pytest.mark.parametrize("where,words", [
    ("DPI-NAN/0001.tif", "unbelievable resolution (not a number"),
    ("DPI-HUGE/0001.png", "unbelievable resolution (109,000,000 dpi"),
    ("DPI-ZERO/0001.png", "unbelievable resolution (0 dpi"),
    ("TINY-1/0001.png", "the image is only 1x1 pixels, too small to be a scanned page"),
    ("TINY-1/0002.png", "the image is only 10x10 pixels, too small to be a scanned page"),
    ("TINY-1/0003.tif", "the image is only 50x30 pixels, too small to be a scanned page"),
])
def test_pages_that_cannot_be_believed_have_a_plain_reason(hostile_batch, where, words):
    _, result, report, _ = hostile_batch
    found = report_reasons(report, "error")
    assert where in found, sorted(found)
    assert words in found[where]
    if where.startswith("DPI"):
        assert "profile quoc-ngu-modern asks for at least 200 dpi" in found[where]
        assert "rescan at 200 dpi or more" in found[where].lower()
    else:
        assert "thumbnail" in found[where]
    assert where.split("/")[-1] in result.stdout
    assert not any(word in result.stdout + result.stderr for word in RAW_WORDS)


def test_hostile_pages_end_in_seconds(hostile_batch):
    out, result, report, seconds = hostile_batch
    assert seconds < 60, seconds  # 109 million dpi used to run without end
    status = report_statuses(report)
    assert status == {"DPI-NAN": "failed", "DPI-HUGE": "failed", "DPI-ZERO": "failed", "TINY-1": "failed",
                      "DPI-WARN": "ok"}, result.stdout
    assert result.returncode != 0


def test_a_profile_that_warns_uses_its_minimum_for_an_unbelievable_resolution(hostile_batch):
    out, _, report, _ = hostile_batch
    warning = report_reasons(report, "warning")["DPI-WARN/0001.png"]
    assert "109,000,000 dpi" in warning and "300 dpi is assumed" in warning
    [record] = page_records(out, "DPI-WARN")
    assert record["dpi"] == 300 and record["blank"]


@pytest.mark.parametrize("recorded,believed", [
    ((300, 300), 300), ((299.9994, 299.9994), 300), ((50, 50), 50), ((4800, 4800), 4800),
    ((math.nan, math.nan), None), ((math.inf, math.inf), None), ((-300, -300), None), ((0, 0), None),
    ((10, 10), None), ((109e6, 109e6), None), (("abc", "abc"), None), ((), None)])
def test_only_a_believable_resolution_is_used(recorded, believed):
    image = Image.new("L", (200, 200))
    image.info["dpi"] = recorded
    assert page_dpi(image) == believed


def test_pixels_the_image_library_cannot_work_on_give_a_plain_reason(tmp_path):
    from digitize.engine.pipeline import prepare
    from digitize.core.profiles import get_profile
    from digitize.core.settings import get_settings

    page = PageSource(number=1, path=tmp_path / "0001.tif", name="0001.tif", sha256="0" * 64, size=1, dpi=300,
                      width=300, height=200, mode="CMYK", format="TIFF")
    two_channels = np.zeros((200, 300, 2), np.uint8)  # OpenCV refuses to turn it grey
    with pytest.raises(BadInput) as caught:
        prepare(two_channels, page, get_profile(get_settings().profiles, "quoc-ngu-modern"))
    message = caught.value.message
    assert "300x200 pixels, colour mode CMYK" in message and "could not be prepared for OCR" in message
    assert "save it again as an 8-bit grey or colour TIFF or PNG" in message
    assert "OpenCV" not in message and "error" not in message
