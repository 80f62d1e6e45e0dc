"""The scan resolution of a page whose file does not state it, or states one that cannot be true
for the page: scanner software often writes 72 or 96 dpi, or nothing, on pages scanned at 300 dpi
or more.

A recorded resolution is not believed when, at that resolution, the sheet would be larger than any
page we scan (MAX_PAGE_MM) or its text lines would be set in type no body text uses
(BODY_LIMITS_PT).

The estimate sets two measures of the page, taken in pixels, against what is known in inches:
- the sheet (the paper without the scanner bed, its skew taken out) against paper formats
  (PAPER_MM): each format whose proportions match the sheet's within ASPECT_TOLERANCE (trimming,
  margins) gives one candidate resolution, the sheet's pixels over the format's inches;
- the text lines: a line's ink, from the top of its accents to the bottom of its descenders, is
  LINE_EM of the type size (0.97-1.11 measured over Noto and DejaVu, serif and sans, 9-12 pt);
  body text is set in BODY_PT, most often about TYPICAL_PT in a book. The median line height
  gives a range of resolutions and the one the typical size would give.
The lines pick the format and the format gives the resolution: of the candidates inside the range,
one within ROUND_TOLERANCE of a usual scanner setting (USUAL_DPI; then taken as that setting) comes
first, then the one nearest the typical size's. No candidate inside the range, or too few text lines
of one size (a blank page, a title page), is no estimate.

Type sizes differ by half their size, and neighbouring formats by a fifth (A4, B5, A5), so the lines
alone cannot always tell the format. Measured on generated pages (7 formats x 9-14 pt): at usual
settings 192 of 196 cases come within 10 %; at other resolutions (a camera's: 240, 340 dpi) about
half do, most of the rest are one format off (B5 at 250 dpi in 11 pt type reads as A5 at 300 dpi).
An operator who knows the resolution states it (item metadata `dpi`, `digitize run --dpi`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from digitize.capture import imaging

PAPER_MM = {"A4": (210, 297), "A5": (148, 210), "B5": (176, 250), "letter": (215.9, 279.4),
            "13 x 19 cm": (130, 190), "14.5 x 20.5 cm": (145, 205), "16 x 24 cm": (160, 240)}
ASPECT_TOLERANCE = 0.05
BODY_PT = (9.0, 14.0)  # books 9-12, official documents 13-14 (Decree 30/2020)
TYPICAL_PT = 10.5  # a book's body text
LINE_EM = 1.05
FONT_TOLERANCE = 0.07  # LINE_EM differs this much between typefaces
BODY_LIMITS_PT = (6.0, 20.0)
MAX_PAGE_MM = 600  # longer than A2: no book page, so no true resolution makes one
USUAL_DPI = (150, 200, 300, 400, 600, 1200)
ROUND_TOLERANCE = 0.02
MIN_LINES = 5
MEASURE_DPI = 150  # what the ink filters are sized for: the page is measured on a copy of about this


@dataclass
class Measure:
    """A page as measured: its sheet's short and long side and its body text line height, pixels."""

    sheet: tuple[float, float]
    line: float | None = None

    def size_at(self, dpi: float) -> str:
        return " x ".join(f"{side / dpi * 2.54:.0f}" for side in self.sheet) + " cm"

    def type_at(self, dpi: float) -> float:
        return self.line * 72 / (LINE_EM * dpi)


@dataclass
class Estimate:
    dpi: int
    basis: str  # how it was found, in words


def measure(gray: np.ndarray, scale: float, lines: bool = True) -> Measure:
    """Measure a page from a grey copy of it reduced by ``scale``; with ``lines`` false (rows that
    are not text lines: vertical script) only the sheet."""
    sheet, heights = imaging.measure_page(gray, MEASURE_DPI, lines)
    sides = (sheet[0] / scale, sheet[1] / scale)
    if len(heights) < MIN_LINES:
        return Measure(sides)
    median = float(np.median(heights))
    if np.mean(np.abs(np.array(heights) / median - 1) <= 0.2) < 0.5:  # no body text of one size
        return Measure(sides)
    return Measure(sides, median / scale)


def implausible(dpi: int, page: Measure) -> str | None:
    """Why ``dpi`` cannot be the resolution of the page, or None."""
    if max(page.sheet) / dpi * 25.4 > MAX_PAGE_MM:
        return f"the page would be {page.size_at(dpi)}"
    if page.line is not None and not BODY_LIMITS_PT[0] <= page.type_at(dpi) <= BODY_LIMITS_PT[1]:
        return f"its text would be set in {page.type_at(dpi):.0f} pt type"
    return None


def candidates(page: Measure) -> list[tuple[str, float]]:
    """The paper formats the sheet can be, each with the resolution that makes it so."""
    short, long = page.sheet
    found = []
    for name, (width, height) in PAPER_MM.items():
        across, down = short / (width / 25.4), long / (height / 25.4)
        if abs(across / down - 1) <= ASPECT_TOLERANCE:
            found.append((name, math.sqrt(across * down)))
    return found


def usual(dpi: float) -> int | None:
    return next((u for u in USUAL_DPI if abs(dpi / u - 1) <= ROUND_TOLERANCE), None)


def estimate(page: Measure) -> Estimate | None:
    if page.line is None:
        return None
    lowest = page.line * 72 / (LINE_EM * BODY_PT[1]) * (1 - FONT_TOLERANCE)
    highest = page.line * 72 / (LINE_EM * BODY_PT[0]) * (1 + FONT_TOLERANCE)
    middle = page.line * 72 / (LINE_EM * TYPICAL_PT)
    inside = [(name, dpi) for name, dpi in candidates(page) if lowest <= dpi <= highest]
    if not inside:
        return None
    name, dpi = min(inside, key=lambda c: (usual(c[1]) is None, abs(math.log(c[1] / middle))))
    dpi = usual(dpi) or round(dpi)
    return Estimate(dpi, f"{name} sheet, text in {page.type_at(dpi):.0f} pt type")
