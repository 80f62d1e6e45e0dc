"""Geometry on generated pages with known truth: deskew accuracy and orientation; blank pages."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CORPUS
from digitize.capture.imaging import prepare_page
from digitize.core.models import Preprocessing
import vnpages
from vnpages import render_pages

SKEWS = [-6.0, -4.7, -3.1, -1.6, -0.4, 0.9, 2.2, 3.6, 4.8, 5.9]


def load(folder: Path, entry: dict) -> np.ndarray:
    return np.asarray(Image.open(folder / entry["image"]).convert("L"))


@pytest.fixture(scope="module")
def skewed_pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("skewed")
    levels = ["moderate", "hard"] * (len(SKEWS) // 2)
    return folder, render_pages(CORPUS / "truyen-kieu-1866.txt", folder, len(SKEWS), seed=11,
                                level=levels, paper="A5", skew=SKEWS)


@pytest.mark.slow  # renders and deskews pages: 23 s on 2 idle cores, no OCR
def test_measured_skew_is_within_a_fifth_of_a_degree(skewed_pages):
    folder, manifest = skewed_pages
    errors = []
    for entry in manifest:
        prepared = prepare_page(load(folder, entry), entry["dpi"], Preprocessing())
        assert prepared.orientation == 0
        errors.append(abs(prepared.skew - entry["skew_deg"]))
    assert statistics.median(errors) <= 0.2, errors
    assert max(errors) <= 0.5, errors


@pytest.mark.slow  # several seconds: pages rendered or several commands run
@pytest.mark.parametrize("turned", [90, 180, 270])
def test_turned_pages_come_out_upright(tmp_path, turned):
    manifest = render_pages(CORPUS / "ke-hoach-hai-duong.txt", tmp_path, 2, seed=turned, paper="A5",
                            turn=turned, fmt="png", level=["moderate", "hard"])
    for entry in manifest:
        prepared = prepare_page(load(tmp_path, entry), entry["dpi"], Preprocessing())
        assert prepared.orientation == (360 - turned) % 360, entry
        assert abs(prepared.skew - entry["skew_deg"]) <= 0.3
        # upright text: lines run across the page (a portrait A5 page stays portrait)
        height, width = prepared.display.shape[:2]
        assert height > width


def test_crop_removes_the_dark_scanner_border(tmp_path):
    [entry] = render_pages(CORPUS / "ke-hoach-hai-duong.txt", tmp_path, 1, seed=5, paper="A5",
                           border=True, skew=2.0, fmt="png")
    prepared = prepare_page(load(tmp_path, entry), entry["dpi"], Preprocessing())
    ocr = prepared.ocr
    # no black band left along any edge of the OCR image
    for edge in (ocr[:5, :], ocr[-5:, :], ocr[:, :5], ocr[:, -5:]):
        assert (edge == 0).mean() < 0.05


def test_switched_off_steps_leave_the_page_alone(tmp_path):
    [entry] = render_pages(CORPUS / "ke-hoach-hai-duong.txt", tmp_path, 1, seed=6, paper="A5",
                           skew=3.0, border=False, fmt="png")
    image = load(tmp_path, entry)
    prepared = prepare_page(image, 300, Preprocessing(orientation=False, deskew=False, crop=False))
    assert prepared.skew == 0 and prepared.orientation == 0
    assert prepared.display.shape == image.shape


def a5(tone: float = 255, noise: float = 0.0, seed: int = 1) -> np.ndarray:
    """A blank A5 sheet at 300 dpi: paper tone with scanner noise."""
    values = np.random.default_rng(seed).normal(tone, noise, (2480, 1748)) if noise else np.full((2480, 1748), tone)
    return np.clip(values, 0, 255).astype(np.uint8)


def with_words(sheet: np.ndarray, words: str, ink: int = 30, at=(600, 800)) -> np.ndarray:
    from PIL import ImageDraw, ImageFont

    image = Image.fromarray(sheet)
    ImageDraw.Draw(image).text(at, words, font=ImageFont.truetype(vnpages.DEFAULT_FONT, 46), fill=ink)
    return np.asarray(image)


def degraded(sheet: np.ndarray, level: str, seed: int) -> np.ndarray:
    import random

    image, _ = vnpages.degrade(Image.fromarray(sheet), random.Random(seed), level, skew=0.0, border=False)
    return np.asarray(image)


def specks(count: int) -> np.ndarray:
    sheet = a5()
    sheet.flat[np.random.default_rng(2).integers(0, sheet.size, count)] = 0  # dust on a bilevel scan
    return sheet


@pytest.mark.parametrize("name,sheet", [
    ("white", lambda: a5()),
    ("paper tone with noise", lambda: a5(214, 6)),
    ("yellowed, noisy, uneven light, on the scanner bed", lambda: degraded(a5(), "hard", 3)),
    ("light from one side", lambda: np.tile(np.linspace(150, 235, 1748), (2480, 1)).astype(np.uint8)),
    ("bilevel with dust", lambda: specks(3000)),
])
def test_blank_pages_are_found_and_left_as_scanned(name, sheet):
    prepared = prepare_page(sheet(), 300, Preprocessing())
    assert prepared.blank, name
    assert prepared.orientation == 0 and prepared.skew == 0.0  # noise is not turned or deskewed


@pytest.mark.parametrize("name,sheet", [
    ("a line of words", lambda: with_words(a5(230, 3), "Trang này cố ý để trắng")),
    ("a word in faded ink on noisy paper", lambda: degraded(with_words(a5(), "Hết", ink=20), "hard", 4)),
    ("a page number", lambda: degraded(with_words(a5(), "12", at=(800, 2300)), "moderate", 5)),
    ("a dark plate", lambda: np.where(np.add.outer(np.arange(2480), np.arange(1748)) % 300 < 150, 60, 235)
     .astype(np.uint8)),
])
def test_pages_with_little_on_them_are_not_blank(name, sheet):
    assert not prepare_page(sheet(), 300, Preprocessing()).blank, name


def test_a_page_of_few_words_reaches_ocr_dark_on_white():
    sheet = with_words(a5(200, 8), "Trang này cố ý để trắng")
    prepared = prepare_page(sheet, 300, Preprocessing())
    text = prepared.ocr[int(800 * prepared.ocr_scale):int(870 * prepared.ocr_scale)]
    assert np.median(prepared.ocr) == 255  # the paper's noise is not stretched into grey specks
    assert np.percentile(text, 1) < 64  # and the ink is black, not mirrored to white
