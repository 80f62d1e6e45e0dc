"""Page image preparation: orientation, deskew, border crop, illumination and binarisation.

Everything here works on numpy arrays (OpenCV conventions) and is free of I/O, so each step can
be tested on its own. Angles follow PIL: positive is counter-clockwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitize.core.models import Preprocessing

ANALYSIS_WIDTH = 1000  # pixels; skew and orientation are measured on a reduced copy
MAX_SKEW = 10.0  # degrees searched either way
# Blank pages: ink is a mark at least 20 % darker than its paper (after smoothing, paper noise stays
# far above that); less than 1 mm² of it on the inner sheet is nothing to read (a full stop is about
# 0.4 mm², a page number "12" in faded ink 2-3 mm²).
INK_RATIO = 0.8
BLANK_INK_MM2 = 1.0


@dataclass
class Prepared:
    """The result of preparing one page."""

    display: np.ndarray  # upright, deskewed, cropped colour or grey image (what the PDF shows)
    ocr: np.ndarray  # same geometry, normalised grey (or binarised) for Tesseract
    orientation: int  # degrees the page was turned clockwise to make it upright (0/90/180/270)
    skew: float  # measured skew of the content, degrees counter-clockwise
    crop: tuple[int, int, int, int]  # x, y, width, height of the kept area after deskew
    ocr_scale: float = 1.0  # the OCR image is the display image scaled by this
    line_height: float | None = None  # median height of the text lines (width of the columns), pixels
    blank: bool = False  # no ink on the page: nothing for OCR to read
    direction: str = "horizontal"  # the text stands in horizontal lines or vertical columns


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def flatten_background(gray: np.ndarray, strength: int = 1) -> np.ndarray:
    """Divide out uneven illumination and paper tone, then stretch contrast to 0..255.

    The background is estimated by a large morphological closing on a reduced copy (text is
    dark and thin, so closing removes it), which makes faded ink on dark paper come out black
    on white without amplifying the paper texture.
    """
    flat = cv2.divide(gray, _background(gray), scale=255)
    if strength > 1:
        flat = cv2.GaussianBlur(flat, (3, 3), 0)
    sample = flat[:: 4, :: 4]
    lo, hi = np.percentile(sample, (0.5, 99.0))
    if hi - lo < 8:  # blank page: nothing to stretch
        return flat
    if (lo - np.percentile(sample, 0.01)) * 255.0 / (hi - lo) > 255:
        # Under about 0.5 % ink (a page of a few words) the 0.5 % darkest pixels are the paper's noise
        # or the ink's edges: the stretch would make the noise as dark as ink, and convertScaleAbs
        # mirrors what falls below 0, so the darkest ink would turn white. Instead the paper and its
        # noise become white and clear ink black.
        paper = float(np.median(sample))
        noise = 1.4826 * float(np.median(np.abs(sample.astype(np.float32) - paper)))
        white = min(0.95 * paper, paper - 3 * noise)
        black = 0.6 * white
        return cv2.LUT(flat, np.clip(np.rint((np.arange(256) - black) * (255.0 / (white - black))), 0, 255)
                       .astype(np.uint8))
    return cv2.convertScaleAbs(flat, alpha=255.0 / (hi - lo), beta=-lo * 255.0 / (hi - lo))


def _background(gray: np.ndarray) -> np.ndarray:
    """The paper under the ink: a large morphological closing on a reduced copy."""
    h, w = gray.shape
    scale = min(1.0, 800 / max(h, w))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    k = max(5, int(31 * scale * 2) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    background = cv2.medianBlur(background, 5)
    return cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)


def binarize(flat: np.ndarray, dpi: float) -> np.ndarray:
    """Ink (0) where a pixel is darker than its neighbourhood (a window of about 1/10 inch)
    and also darker than the page-wide Otsu threshold, so paper noise and bleed-through,
    lighter than real ink once the background is flat, stay white."""
    smooth = cv2.GaussianBlur(flat, (0, 0), max(0.5, dpi / 300))
    block = max(15, int(dpi / 10) | 1)
    local = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 10)
    _, global_ = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return cv2.bitwise_or(local, global_)


def _rotate(image: np.ndarray, angle: float, fill: int | tuple = 0, expand: bool = False,
            interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    if expand:
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        w, h = nw, nh
    return cv2.warpAffine(image, m, (w, h), flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=fill)


def _ink_points(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(ink)
    return ys.astype(np.float32), xs.astype(np.float32)


def _line_score(points: tuple[np.ndarray, np.ndarray], angle: float) -> float:
    """How sharply text lines stand out if the ink is turned by -angle: the sum of squared
    differences of successive row counts, large when rows alternate between text and gaps.
    Projecting the ink points directly is much cheaper than rotating the image."""
    ys, xs = points
    if len(ys) == 0:
        return 0.0
    theta = np.deg2rad(angle)
    rows = ys * np.float32(np.cos(theta)) + xs * np.float32(np.sin(theta))
    counts = np.bincount((rows - rows.min()).astype(np.int32))
    return float(np.sum(np.diff(counts).astype(np.float64) ** 2))


def _best_angle(points, lo: float, hi: float, step: float) -> tuple[float, float]:
    angles = np.arange(lo, hi + step / 2, step)
    scores = [_line_score(points, a) for a in angles]
    i = int(np.argmax(scores))
    return float(angles[i]), scores[i]


def measure_skew(ink: np.ndarray) -> tuple[float, float]:
    """Skew of the text lines in degrees (counter-clockwise), coarse-to-fine; and its score."""
    points = _ink_points(ink)
    angle, _ = _best_angle(points, -MAX_SKEW, MAX_SKEW, 0.5)
    angle, _ = _best_angle(points, angle - 0.5, angle + 0.5, 0.1)
    angle, score = _best_angle(points, angle - 0.1, angle + 0.1, 0.02)
    # parabolic refinement between the three best neighbouring samples
    s = [_line_score(points, angle + d) for d in (-0.02, 0.0, 0.02)]
    denom = s[0] - 2 * s[1] + s[2]
    if denom < 0:
        angle += 0.02 * 0.5 * (s[0] - s[2]) / denom
    return round(angle, 2), score


def _text_lines(rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows holding ink (text lines, from the top of accents to the bottom of descenders)."""
    if rows.max() <= 0:
        return []
    on = np.concatenate(([False], rows > 0.02 * rows.max(), [False]))
    edges = np.flatnonzero(np.diff(on.astype(np.int8)))
    return [(int(start), int(end)) for start, end in zip(edges[::2], edges[1::2]) if end - start >= 6]


def _band_balance(rows: np.ndarray, lines: list[tuple[int, int]]) -> float:
    """Ink above the x-height band divided by ink below it, summed over the text lines.

    Latin script (and Vietnamese even more, with its stacked diacritics) carries more ink above
    the x-height band than below it: ascenders, capitals and accents against descenders. Upright
    pages measure about 1.5-3, pages upside down about 0.3-0.7.
    """
    above = below = 0.0
    for start, end in lines:
        line = rows[start:end]
        band = np.flatnonzero(line >= 0.5 * line.max())
        above += line[:band.min()].sum()
        below += line[band.max() + 1:].sum()
    return float(above / max(below, 1.0))


def _quarter_turn(ink: np.ndarray) -> int:
    """0 if the text lines run across the mask, 90 if they run down it."""
    _, across = _best_angle(_ink_points(ink), -MAX_SKEW, MAX_SKEW, 1.0)
    _, down = _best_angle(_ink_points(cv2.rotate(ink, cv2.ROTATE_90_CLOCKWISE)), -MAX_SKEW, MAX_SKEW, 1.0)
    return 0 if across >= down else 90


def turn(image: np.ndarray, clockwise: int) -> np.ndarray:
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(image, codes[clockwise]) if clockwise else image


def _sheet_mask(small: np.ndarray) -> np.ndarray:
    """The paper (255) in a reduced grey image: the largest bright region, which leaves out the
    dark scanner bed around the sheet. All paper if there is no clear sheet."""
    _, paper = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = cv2.morphologyEx(paper, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))  # text holes
    count, labels, stats, _ = cv2.connectedComponentsWithStats(paper, connectivity=4)
    if count > 1:
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        if stats[best, cv2.CC_STAT_AREA] >= 0.25 * small.size:
            return np.where(labels == best, 255, 0).astype(np.uint8)
    return np.full_like(small, 255)


def _bbox(mask: np.ndarray, inset: float = 0.0) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return 0, 0, mask.shape[1], mask.shape[0]
    dx, dy = int(w * inset), int(h * inset)
    return x + dx, y + dy, w - 2 * dx, h - 2 * dy


def _ink_mask(gray: np.ndarray, dpi: float) -> np.ndarray:
    return cv2.bitwise_not(binarize(flatten_background(gray), dpi))


def _analysis_masks(gray: np.ndarray, sheet: np.ndarray, dpi: int) -> tuple[np.ndarray, np.ndarray]:
    """Ink masks of the inner sheet, small and at about 150 dpi. Whatever lies off the sheet
    (scanner bed, the edges of the paper) is blanked: its straight edges would pass for lines."""
    sx, sy, sw, sh = _bbox(sheet, inset=0.02)
    scale = gray.shape[1] / sheet.shape[1]
    x, y, w, h = (int(v * scale) for v in (sx, sy, sw, sh))
    inner = gray[y:y + h, x:x + w]
    inner_sheet = cv2.erode(sheet, np.ones((25, 25), np.uint8))[sy:sy + sh, sx:sx + sw]
    masks = []
    for target in (min(1.0, ANALYSIS_WIDTH / max(inner.shape)), min(1.0, 150 / dpi)):
        reduced = cv2.resize(inner, None, fx=target, fy=target, interpolation=cv2.INTER_AREA)
        on_sheet = cv2.resize(inner_sheet, (reduced.shape[1], reduced.shape[0]),
                              interpolation=cv2.INTER_NEAREST)
        masks.append(cv2.bitwise_and(_ink_mask(reduced, dpi * target), on_sheet))
    return masks[0], masks[1]


def _upright_rows(gray: np.ndarray, sheet: np.ndarray, dpi: float,
                  orientation: bool) -> tuple[int, float, np.ndarray, list[tuple[int, int]]]:
    """The quarter turn (0 or 90; with ``orientation``) and skew of the inner sheet's text, measured
    on the small ink mask; then the ink per row of the fine mask (about 150 dpi), turned upright and
    straight, and its text lines."""
    ink, fine_ink = _analysis_masks(gray, sheet, dpi)
    turned = _quarter_turn(ink) if orientation else 0
    ink, fine_ink = turn(ink, turned), turn(fine_ink, turned)
    skew, _ = measure_skew(ink)
    rows = _rotate(fine_ink, -skew, interpolation=cv2.INTER_NEAREST).sum(axis=1, dtype=np.float64)
    return turned, skew, rows, _text_lines(rows)


def _gap_share(lines: list[tuple[int, int]]) -> float:
    """The share of the space from the first text line to the last that lies between lines."""
    span = lines[-1][1] - lines[0][0]
    return 1 - sum(end - start for start, end in lines) / span


def _lines_or_columns(gray: np.ndarray, sheet: np.ndarray, dpi: float,
                      direction: str) -> tuple[str, float, np.ndarray, list[tuple[int, int]]]:
    """Whether the inner sheet's text stands in horizontal lines or vertical columns (``direction``
    "auto"; else as it says), its skew, and its ink per line across the text, straight (per column,
    right to left, for vertical text), with its lines (columns).

    Han characters are set about as close along a line as across it, so rows and columns of ink
    both alternate between text and gaps; what tells them apart is the space between lines, several
    times that between characters. On generated pages the gaps take 0.41-0.48 of the span across
    the lines and 0.08-0.14 along them, whatever the size, skew and degradation. A single line or
    column has no gaps across it: there the direction with fewer lines is the one it runs in."""
    ink, fine_ink = _analysis_masks(gray, sheet, dpi)
    found = {}
    for way, turned in (("horizontal", 0), ("vertical", 90)):
        if direction in ("auto", way):
            skew, _ = measure_skew(turn(ink, turned))  # turns commute: the same angle on the page
            rows = _rotate(turn(fine_ink, turned), -skew, interpolation=cv2.INTER_NEAREST).sum(
                axis=1, dtype=np.float64)
            found[way] = (skew, rows, _text_lines(rows))
    if len(found) == 2:
        across, down = found["horizontal"][2], found["vertical"][2]
        if min(len(across), len(down)) < 2:
            direction = "horizontal" if len(across) < len(down) else "vertical"
        else:
            direction = "horizontal" if _gap_share(across) > _gap_share(down) else "vertical"
    return (direction, *found[direction])


def measure_page(gray: np.ndarray, dpi: float, lines: bool = True) -> tuple[tuple[float, float], list[float]]:
    """The sheet's short and long side (pixels; the scanner bed and the skew left out) and the
    height of each text line (pixels, accents to descenders; none without ``lines``, or on a
    blank page). ``dpi`` only sizes the ink filters: any value near the truth will do."""
    small = _reduce(gray)
    sheet = _sheet_mask(small)
    contours, _ = cv2.findContours(sheet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    _, sides, _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    scale = gray.shape[1] / small.shape[1]
    short, long = sorted(side * scale for side in sides)
    if not lines or is_blank(gray, sheet, round(dpi)):
        return (short, long), []
    _, _, _, found = _upright_rows(gray, sheet, dpi, True)
    return (short, long), [(end - start) * dpi / min(dpi, 150) for start, end in found]


def is_blank(gray: np.ndarray, sheet: np.ndarray, dpi: int) -> bool:
    """True if the inner sheet holds (almost) no ink: a blank verso, a flat paper tone, noise or a
    few specks of dust. Measured at 150 dpi at most, against the page's own paper (divided out),
    leaving out the sheet's edges. A dark page or one with large dark areas (a photograph, a lamp
    that failed) is never blank: it goes to OCR like any other."""
    sx, sy, sw, sh = _bbox(sheet, inset=0.03)
    scale = gray.shape[1] / sheet.shape[1]
    x, y, w, h = (int(v * scale) for v in (sx, sy, sw, sh))
    target = min(1.0, 150 / dpi)
    inner = cv2.resize(gray[y:y + h, x:x + w], None, fx=target, fy=target, interpolation=cv2.INTER_AREA)
    whole = np.zeros_like(sheet)  # holes in the sheet (a dark plate, a photograph) are on the page
    cv2.drawContours(whole, cv2.findContours(sheet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0], -1, 255,
                     cv2.FILLED)
    on_sheet = cv2.resize(cv2.erode(whole, np.ones((25, 25), np.uint8))[sy:sy + sh, sx:sx + sw],
                          (inner.shape[1], inner.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    if inner.size == 0 or not on_sheet.any():
        return False
    paper = float(np.percentile(inner[on_sheet], 95))
    if paper < 100 or np.mean(inner[on_sheet] < 0.5 * paper) > 0.01:
        return False
    smooth = cv2.GaussianBlur(inner, (0, 0), 1.0)
    flat = cv2.divide(smooth, _background(smooth), scale=255)
    ink = ((flat < INK_RATIO * np.median(flat[on_sheet])) & on_sheet).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    mm2 = stats[1:, cv2.CC_STAT_AREA] / (dpi * target / 25.4) ** 2
    return float(mm2[mm2 >= 0.05].sum()) < BLANK_INK_MM2  # smaller specks: dust and noise


def _reduce(gray: np.ndarray) -> np.ndarray:
    scale = min(1.0, ANALYSIS_WIDTH / max(gray.shape))
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def prepare_page(image: np.ndarray, dpi: int, settings: Preprocessing, direction: str = "horizontal") -> Prepared:
    """Run the switched-on steps of a profile over one page image (grey or RGB, 8-bit). ``direction``
    is the profile's writing direction: "vertical" or "auto" (decided here) for Han script."""
    gray = to_gray(image)
    small = _reduce(gray)
    sheet = _sheet_mask(small) if settings.crop else np.full_like(small, 255)
    blank = is_blank(gray, sheet, dpi)

    orientation, skew, line_height = 0, 0.0, None
    if direction != "horizontal" and not blank:
        direction, skew, rows, lines = _lines_or_columns(gray, sheet, dpi, direction)
        if len(lines) >= 3:
            line_height = float(np.median([end - start for start, end in lines])) * dpi / min(dpi, 150)
        if not settings.deskew:
            skew = 0.0
    elif not blank and (settings.orientation or settings.deskew or settings.ocr_line_height):
        orientation, skew, rows, lines = _upright_rows(gray, sheet, dpi, settings.orientation)
        # one or two lines (a title, "HẾT") are too few to tell upside down from upright
        if settings.orientation and len(lines) >= 3 and _band_balance(rows, lines) < 1.0:
            orientation += 180  # upside down; a half turn keeps the slope of the lines
        if len(lines) >= 3:
            line_height = float(np.median([end - start for start, end in lines])) * dpi / min(dpi, 150)
        if not settings.deskew:
            skew = 0.0
    image, sheet = turn(image, orientation), turn(sheet, orientation)

    if abs(skew) >= 0.05:
        white = 255 if image.ndim == 2 else (255, 255, 255)
        image = _rotate(image, -skew, fill=white, expand=True, interpolation=cv2.INTER_CUBIC)
        sheet = _rotate(sheet, -skew, fill=0, expand=True, interpolation=cv2.INTER_NEAREST)
    sheet = cv2.resize(sheet, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)

    crop = (0, 0, image.shape[1], image.shape[0])
    if settings.crop:
        sheet = cv2.erode(sheet, np.ones((9, 9), np.uint8))
        crop = _bbox(sheet)
        x, y, w, h = crop
        image, sheet = image[y:y + h, x:x + w], sheet[y:y + h, x:x + w]

    gray = to_gray(image)
    flat = flatten_background(gray, strength=settings.cleanup) if settings.normalize else gray
    ocr = binarize(flat, dpi) if settings.binarize else flat.copy()
    ocr[sheet == 0] = 255  # whatever is not paper (scanner bed, fill) is not text
    scale = 1.0
    if settings.ocr_line_height and line_height and line_height * 0.95 > settings.ocr_line_height:
        scale = settings.ocr_line_height / line_height
        ocr = cv2.resize(ocr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return Prepared(display=np.ascontiguousarray(image), ocr=ocr, orientation=orientation,
                    skew=skew, crop=crop, ocr_scale=scale, line_height=line_height, blank=blank,
                    direction="horizontal" if direction == "auto" else direction)  # auto: a blank page
