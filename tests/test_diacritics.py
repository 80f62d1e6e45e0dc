"""Vietnamese diacritics after OCR: the syllable validator, the corrector, and the per-page quality
figure (share of words that are not Vietnamese syllables) with its "to review" listing."""

from __future__ import annotations

import random
import unicodedata

import pytest
from lxml import etree
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from conftest import ROOT, invoke_cli, register_library
from digitize.describe import mets
from digitize.capture.intake import plan_item
from digitize.core.models import PageRecord
from digitize.engine.pipeline import process_page
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings
from digitize.core.vietnamese import Word, correct_line, is_syllable, not_syllable_share, strip_marks
from vnpages import render_pages

HELD_OUT = ROOT / "bench" / "texts" / "ke-hoach-vinh-phuc.txt"  # not in the frequencies
ALTO = "{http://www.loc.gov/standards/alto/ns-v3#}"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
BASES = {"a": "aăâ", "e": "eê", "o": "oôơ", "u": "uư", "i": "i", "y": "y", "d": "dđ"}


@pytest.mark.parametrize("word", ["thế", "ở", "đất", "dân", "quyền", "tồn", "kết", "nối", "nguồn", "đầu", "cấp",
                                  "quốc", "quý", "quýt", "quyết", "gì", "giữ", "giếng", "nghiêng", "kỳ", "hòa", "hoà",
                                  "thuỷ", "thủy", "khuya", "người", "hươu", "xoăn", "Việt", "NAM", "TRIỂN", "oanh"])
def test_valid_syllables(word):
    assert is_syllable(word)


@pytest.mark.parametrize("word", ["đât", "nguòn", "ngiêng", "cì", "kan", "ghư", "taì", "hoaà", "qúa", "bnm",
                                  "xyz", "tuýên", "chuyểnn", "thàt", "hỏc", "abc", "ww", "strong", "q"])
def test_invalid_syllables(word):
    assert not is_syllable(word)


def tesseract_like(text: str, read: str | None = None, second: dict[int, tuple[str, float]] | None = None) -> Word:
    """A word as Tesseract gives it: ``read`` (default ``text``) at high confidence, every other mark
    of each letter as an alternative at confidence 0, and ``second`` alternatives at given positions."""
    read = read or text
    choices = []
    for index, char in enumerate(read):
        base = strip_marks(char).lower()
        others = {unicodedata.normalize("NFC", b + t) for b in BASES.get(base, "") for t in TONES if b != "đ" or not t}
        others = [o.upper() if char.isupper() else o for o in sorted(others) if o != char.lower()]
        extra = [second[index]] if second and index in second else []
        choices.append([(char, 93.0)] + extra + [(o, 0.0) for o in others])
    return Word(read, choices)


@pytest.mark.parametrize("read,meant", [
    ("két nói các nguòn dữ liệu", "kết nối các nguồn dữ liệu"),
    ("chuyến đối số ngành thư viện", "chuyển đổi số ngành thư viện"),
    ("đàu tư hạ tầng", "đầu tư hạ tầng"),
    ("nâng cao nhận thức của các cáp, các ngành", "nâng cao nhận thức của các cấp, các ngành"),
    ("phục vụ người đân", "phục vụ người dân"),
    ("công tác thông tín, tuyên truyền", "công tác thông tin, tuyên truyền"),
])
def test_corrector_fixes_typical_confusions(read, meant):
    words = [tesseract_like(m, r) for r, m in zip(read.split(), meant.split())]
    assert " ".join(correct_line(words)) == meant


def test_corrector_keeps_correct_words():
    """Every word of a held-out text, offered with every other diacritic as an alternative: practically
    nothing changes (one word in the whole document is allowed); sentences with words that other
    spellings would also fit are kept exactly."""
    for sentence in ("quyền và nghĩa vụ của công dân", "sự tồn tại của thư viện", "ở đâu có đất ở",
                     "thế giới số", "kết quả tổn thất", "các cấp các ngành"):
        words = [tesseract_like(w) for w in sentence.split()]
        assert correct_line(words) == sentence.split()
    text = HELD_OUT.read_text(encoding="utf-8").split()
    changed = [(a, b) for a, b in zip(text, correct_line([tesseract_like(w) for w in text])) if a != b]
    assert len(changed) <= len(text) // 1000, changed


def test_quality_figure_of_clean_text_and_noise():
    assert not_syllable_share(HELD_OUT.read_text(encoding="utf-8").split()) < 0.01
    assert not_syllable_share("UBND tỉnh 206/QĐ-TTg b) II. ngày 11/02/2021".split()) == 0
    assert not_syllable_share("xqzt bwrk flemp Dorvk".split()) == 1
    assert not_syllable_share(["2021", "--"]) is None


def render_page(folder, seed: int):
    manifest = render_pages(HELD_OUT, folder, 1, seed=seed, level="hard", dpi=200, paper="A5", fmt="png",
                            font="/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf", border=False)
    return folder / manifest[0]["image"], (folder / manifest[0]["gt"]).read_text(encoding="utf-8")


def words_wrong(text: str, truth: str) -> int:
    return Levenshtein.distance(text.split(), truth.split())


@pytest.mark.slow  # OCR of a rendered page
def test_real_page_counts_corrections_and_keeps_originals_in_the_alto(tmp_path):
    item = tmp_path / "batch" / "DIA-1"
    image, truth = render_page(item, seed=7)
    (item / "item.toml").write_text('id = "DIA-1"\ntitle = "Dấu"\nlibrary = "TEST"\naccess = "open"\n',
                                    encoding="utf-8")
    settings = get_settings()
    profile = get_profile(settings.profiles, "quoc-ngu-modern")
    assert profile.correct_diacritics and profile.review_above == 0.15
    plan = plan_item(item, tmp_path / "batch", None, lambda meta: profile, settings.max_pixels)
    page = plan.pages[0]
    plain = process_page(page, profile.model_copy(update={"correct_diacritics": False}), tmp_path / "plain")
    fixed = process_page(page, profile, tmp_path / "fixed")
    assert plain.corrections == 0 and fixed.corrections > 0
    alto = etree.parse(str(tmp_path / "fixed" / fixed.alto_file))
    strings = [s for s in alto.iter(f"{ALTO}String") if s.find(f"{ALTO}ALTERNATIVE") is not None]
    assert len(strings) == fixed.corrections
    for string in strings:
        original = string.find(f"{ALTO}ALTERNATIVE").text
        assert original != string.get("CONTENT") and strip_marks(original) == strip_marks(string.get("CONTENT"))
    assert not list(etree.parse(str(tmp_path / "plain" / plain.alto_file)).iter(f"{ALTO}ALTERNATIVE"))
    texts = {name: (tmp_path / name / record.text_file).read_text(encoding="utf-8")
             for name, record in (("plain", plain), ("fixed", fixed))}
    assert words_wrong(texts["fixed"], truth) < words_wrong(texts["plain"], truth)
    saved = PageRecord.model_validate_json((tmp_path / "fixed" / "pages" / "0001.json").read_text(encoding="utf-8"))
    assert saved.corrections == fixed.corrections
    assert saved.not_syllables is not None and saved.not_syllables < 0.05


def noise_page(path, seed: int = 3) -> None:
    """An A5 page at 300 dpi of random Latin letters in word-like groups: not Vietnamese."""
    rng = random.Random(seed)
    image = Image.new("L", (1748, 2480), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 46)
    for row in range(28):
        line = " ".join("".join(rng.choice("bcdfghjklmnpqrstvwxzaeiou") for _ in range(rng.randint(3, 7)))
                        for _ in range(9))
        draw.text((170, 200 + row * 72), line, font=font, fill=20)
    image.save(path, dpi=(300, 300))


@pytest.mark.slow  # a batch run (OCR)
def test_noise_page_is_listed_to_review_and_the_figure_is_in_the_records_and_mets(tmp_path):
    batch = tmp_path / "batch"
    item = batch / "REV-1"
    image, _ = render_page(item, seed=8)
    image.rename(item / "0001.png")
    noise_page(item / "0002.png")
    for extra in item.glob("p0*"):
        extra.unlink()
    (item / "manifest.json").unlink()
    (item / "item.toml").write_text('id = "REV-1"\ntitle = "Trang lạ"\nlibrary = "TEST"\naccess = "open"\n',
                                    encoding="utf-8")
    register_library(tmp_path, "TEST")
    result = invoke_cli("run", str(batch), "--out", str(tmp_path / "out"), "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    output = " ".join(result.stdout.split())
    assert "to review" in result.stdout and "0002.png" in output
    assert "0001.png: to review" not in output
    folder = tmp_path / "out" / "TEST" / "REV-1"
    records = [PageRecord.model_validate_json((folder / "pages" / f"000{n}.json").read_text(encoding="utf-8"))
               for n in (1, 2)]
    assert records[0].not_syllables < 0.05 and records[1].not_syllables > 0.5
    pages = mets.read(folder / "mets.xml").pages
    assert [round(p.not_syllables, 4) for p in pages] == [r.not_syllables for r in records]
