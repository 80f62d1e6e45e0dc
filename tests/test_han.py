"""Hán both ways: pages printed in horizontal lines and pages set in vertical columns (right to left)
are each read in their own direction, by han-horizontal and by han-nom, which decides per page."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from conftest import CORPUS
from digitize.capture.imaging import prepare_page
from digitize.capture.intake import plan_item
from digitize.engine.pipeline import process_page
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings
from hanpages import DEFAULT_FONT, render_pages

pytestmark = pytest.mark.slow  # OCR of rendered Hán pages

OCRMYPDF = Path(sys.executable).parent / "ocrmypdf"
# (text, seed) of each page, 14 pt at 300 dpi on A5: about 400 characters a page
PAGES = [("han-qianziwen.txt", 1), ("han-daxue.txt", 4)]


def han_cer(hypothesis: str, reference: str) -> float:
    """CER for Han text: no spaces (Han has no word spaces; Tesseract puts some between characters) and
    NFKC, so that Tesseract's ASCII ',' equals the fullwidth '，' of the text."""
    hyp, ref = (re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)) for s in (hypothesis, reference))
    return Levenshtein.distance(hyp, ref) / max(1, len(ref))


def item(batch: Path, name: str, direction: str) -> tuple[Path, list[str]]:
    """One item of the two pages set in ``direction``; its folder and the pages' ground truth."""
    folder, truths = batch / name, []
    for number, (text, seed) in enumerate(PAGES, start=1):
        [entry] = render_pages(CORPUS / text, batch / "render" / f"{name}-{number}", 1, seed, direction,
                               fmt="png", border=False)
        image = batch / "render" / f"{name}-{number}" / entry["image"]
        folder.mkdir(parents=True, exist_ok=True)
        image.rename(folder / f"p{number}.png")
        truths.append((image.parent / entry["gt"]).read_text(encoding="utf-8"))
    (folder / "item.toml").write_text(f'id = "{name}"\ntitle = "Thiên tự văn"\nlibrary = "TEST"\n'
                                      'access = "open"\n', encoding="utf-8")
    return folder, truths


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The horizontal and the vertical pages, each read with han-horizontal and with han-nom: per
    direction and profile, the page records and their CER."""
    assert Path(DEFAULT_FONT).exists(), "the Han test pages need Debian's fonts-noto-cjk"
    batch, settings = tmp_path_factory.mktemp("han"), get_settings()
    found = {}
    for direction in ("horizontal", "vertical"):
        folder, truths = item(batch, f"HAN-{direction[0].upper()}", direction)
        for name in ("han-horizontal", "han-nom") if direction == "horizontal" else ("han-nom",):
            profile = get_profile(settings.profiles, name)
            plan = plan_item(folder, batch, None, lambda meta: profile, settings.max_pixels)
            assert plan.ok, plan.problems
            out = batch / "out" / name
            records = [process_page(page, profile, out) for page in plan.pages]
            texts = [(out / r.text_file).read_text(encoding="utf-8") for r in records]
            found[direction, name] = records, [han_cer(t, truth) for t, truth in zip(texts, truths)]
        found[direction] = [folder / f"p{n}.png" for n in (1, 2)], truths
    return found


def test_horizontal_han_reads_at_or_below_ocrmypdfs_cer(pages, tmp_path):
    images, truths = pages["horizontal"]
    records, ours = pages["horizontal", "han-horizontal"]
    theirs = []
    for image, truth in zip(images, truths):
        sidecar = tmp_path / f"{image.stem}.txt"
        subprocess.run([OCRMYPDF, "-l", "chi_tra", "--deskew", "--sidecar", sidecar, "--output-type", "pdf",
                        "--jobs", "1", "--quiet", image, tmp_path / f"{image.stem}.pdf"], check=True, timeout=600)
        theirs.append(han_cer(sidecar.read_text(encoding="utf-8"), truth))
    assert np.mean(ours) <= np.mean(theirs), (ours, theirs)
    assert max(ours) <= 0.15, ours  # the characters are read, not 179 % of garbage
    assert [r.direction for r in records] == ["horizontal", "horizontal"]
    assert all(r.words > 100 for r in records)


def test_han_nom_reads_horizontal_pages_in_lines_and_vertical_pages_in_columns(pages):
    lines, lines_cer = pages["horizontal", "han-nom"]
    columns, columns_cer = pages["vertical", "han-nom"]
    assert [r.direction for r in lines] == ["horizontal", "horizontal"]
    assert [r.direction for r in columns] == ["vertical", "vertical"]
    assert max(lines_cer) <= 0.15, lines_cer
    assert max(columns_cer) <= 0.25, columns_cer  # vertical OCR is weaker, but it reads the columns in order
    # the same reading as the profile made for horizontal print
    assert np.mean(lines_cer) <= np.mean(pages["horizontal", "han-horizontal"][1]) + 0.01


def test_a_profile_that_fixes_the_direction_is_followed(pages):
    """A library's own profile with direction = "vertical" (or "horizontal") is never second-guessed."""
    han_nom = get_profile(get_settings().profiles, "han-nom")
    for fixed, image in (("vertical", pages["horizontal"][0][0]), ("horizontal", pages["vertical"][0][0])):
        profile = han_nom.model_copy(update={"direction": fixed})
        prepared = prepare_page(np.asarray(Image.open(image).convert("L")), 300, profile.preprocessing,
                                profile.direction)
        assert prepared.direction == fixed
        assert profile.reading(fixed).page_segmentation == (5 if fixed == "vertical" else 6)
