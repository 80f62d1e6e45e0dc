"""What resolution to believe for a page (the file's tag, the operator's statement, an estimate
from the page, or the profile's minimum), and how that estimate is made.

The scan resolution of a page whose file does not state it, or states one that cannot be true
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
from typing import Callable

import numpy as np
from PIL import Image

from digitize.capture import imaging
from digitize.core.errors import BadInput
from digitize.core.models import Profile

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


# --- what resolution to believe ---

# A resolution outside these is not believed (NaN from a 0/0 TIFF rational, 109 million dpi from a
# PNG's largest pHYs): it counts as missing, and every size drawn from it stays sensible.
BELIEVABLE_DPI = (50, 4800)
ESTIMATED = "estimated from page size and text lines"
FROM_OTHER_PAGES = "estimated from the item's other pages"
ASSUMED = "assumed (the profile's minimum)"


def recorded_dpi(image: Image.Image) -> float | None:
    """The horizontal resolution the file states, believable or not."""
    try:
        return float(image.info["dpi"][0])
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None


def page_dpi(image: Image.Image) -> int | None:
    """The file's resolution, if it is believable (BELIEVABLE_DPI)."""
    value = recorded_dpi(image)
    if value is None or not math.isfinite(value) or not BELIEVABLE_DPI[0] <= value <= BELIEVABLE_DPI[1]:
        return None
    return round(value)


@dataclass
class Resolution:
    """The resolution of one frame: what its file records and what is used."""

    tag: int | None  # what the file records, if believable
    dpi: int | None  # what is used; None: not known (yet)
    method: str = "tag"
    estimate: int | None = None  # from this frame's own size and text lines
    said: str = ""  # what is wrong with the file's resolution ("" if nothing)
    basis: str = ""  # what the estimate was made from, or why there is none

    def note(self) -> str:
        """What was wrong with the file's resolution and what this page's own estimate is."""
        if not self.said:
            return ""
        own = (f"this page's own estimate: {self.estimate} dpi ({self.basis})" if self.estimate is not None
               else f"no estimate from this page alone ({self.basis})")
        return f"{self.said}; {own}"


def _unrecorded(image: Image.Image) -> str:
    value = recorded_dpi(image)
    if value is None:
        return "has no resolution (dpi) recorded"
    shown = ("not a number" if math.isnan(value) else "infinite" if math.isinf(value)
             else f"{value:,.0f} dpi" if abs(value) >= 1 else f"{value:g} dpi")
    return (f"records an unbelievable resolution ({shown}; a scan has {BELIEVABLE_DPI[0]} to "
            f"{BELIEVABLE_DPI[1]} dpi)")


def of_frame(image: Image.Image, profile: Profile, stated: int | None,
             measured: Callable[[bool], Measure]) -> Resolution:
    """What a frame's resolution is: stated by the operator, recorded in the file, or, when the file
    records none or one that cannot be true for the page, estimated from the page.
    ``measured(lines)`` measures the frame's pixels; it is called only when the tag is in doubt."""
    tag = page_dpi(image)
    if stated is not None:
        return Resolution(tag, stated, "stated")
    if tag is not None and tag >= profile.min_dpi and max(image.size) / tag * 25.4 <= MAX_PAGE_MM:
        return Resolution(tag, tag)  # believed as it is: the pixels are not decoded at intake
    # rows of a vertical page are not text lines (the profile reads it at full resolution)
    page = measured(profile.preprocessing.ocr_line_height > 0)
    wrong = implausible(tag, page) if tag is not None else None
    if tag is not None and wrong is None:
        return Resolution(tag, tag)
    said = f"records {tag} dpi, but {wrong}" if tag is not None else _unrecorded(image)
    found = estimate(page)
    if found is None:
        why = ("it has too few text lines of one size" if page.line is None
               else "its size matches no paper format at the resolution its text lines give")
        return Resolution(tag, None, said=said, basis=why)
    return Resolution(tag, found.dpi, ESTIMATED, found.dpi, said, found.basis)


def share_estimate(found: list[Resolution]) -> None:
    """The pages of an item are scanned alike: each page whose file's resolution is not used takes
    the median of the item's estimates, so one odd page (a title page) does not stray and a page
    with no estimate of its own (a blank verso) has one."""
    estimates = [r.estimate for r in found if r.estimate is not None]
    if not estimates:
        return
    shared = round(float(np.median(estimates)))
    for r in found:
        if r.said:
            r.dpi, r.method = shared, ESTIMATED if r.estimate is not None else FROM_OTHER_PAGES


def judge(found: Resolution, profile: Profile, which: str = "") -> str | None:
    """A warning about a frame's resolution under the profile (``which`` frame, if not the first);
    raises BadInput if it refuses it. An estimate that passes is not warned about here (see
    estimate_warnings)."""
    asks = f"profile {profile.name} asks for at least {profile.min_dpi} dpi"
    todo = (f"rescan at {profile.min_dpi} dpi or more; if the scan's true resolution is known, state it "
            "(dpi = N in item.toml, a dpi column in items.csv, or digitize run --dpi N)")
    if found.dpi is None:
        reason = f"{which}{found.said}; the resolution cannot be estimated from the page ({found.basis}); {asks}"
        if profile.dpi_policy == "error":
            raise BadInput(reason, todo=todo)
        found.dpi, found.method = profile.min_dpi, ASSUMED
        return f"{reason}; {profile.min_dpi} dpi is assumed"
    if found.dpi >= profile.min_dpi:
        return None
    said = which + {"tag": f"is {found.dpi} dpi",
                    "stated": f"is stated to be {found.dpi} dpi (dpi in the item metadata or digitize run --dpi)"
                    }.get(found.method, f"{found.said}; estimated from the page: {found.dpi} dpi ({found.basis})")
    if profile.dpi_policy == "error":
        raise BadInput(f"{said}; {asks}", todo=todo)
    return f"{said}; {asks}"


def estimate_warnings(pages: list[tuple[str, Resolution]]) -> list[tuple[str, str]]:
    """One warning (first file, reason) for each group of pages whose resolution was estimated
    alike: a book of 300 pages tagged 96 dpi gets one line in the summary, not 300."""
    groups: dict[tuple, list[tuple[str, Resolution]]] = {}
    for name, found in pages:
        if found.method in (ESTIMATED, FROM_OTHER_PAGES):
            groups.setdefault((found.tag, found.dpi), []).append((name, found))
    warnings = []
    for (_, dpi), group in groups.items():
        (first, found), (last, _) = group[0], group[-1]
        more = {1: "", 2: f" (as does {last})"}.get(len(group), f" (as do {len(group) - 1} more pages, to {last})")
        basis = next((r.basis for _, r in group if r.estimate is not None), "")
        warnings.append((first, f"{found.said}{more}; the resolution is estimated from the page size and text "
                                f"lines: {dpi} dpi ({basis})"))
    return warnings
