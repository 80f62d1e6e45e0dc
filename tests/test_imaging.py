"""Geometry on generated pages with known truth: deskew accuracy and orientation."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CORPUS
from digitize.imaging import prepare_page
from digitize.models import Preprocessing
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


def test_measured_skew_is_within_a_fifth_of_a_degree(skewed_pages):
    folder, manifest = skewed_pages
    errors = []
    for entry in manifest:
        prepared = prepare_page(load(folder, entry), entry["dpi"], Preprocessing())
        assert prepared.orientation == 0
        errors.append(abs(prepared.skew - entry["skew_deg"]))
    assert statistics.median(errors) <= 0.2, errors
    assert max(errors) <= 0.5, errors


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
