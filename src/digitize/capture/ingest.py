"""Batch intake: find the items of a batch, read their metadata, validate every page file.

Originals are only ever read. What cannot be used is described in a Problem (what is wrong and
what to do) and copied, never moved, to the quarantine folder with a reason file.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import shutil
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from digitize.capture import imaging, resolution
from digitize.core.errors import BadInput, DigitizeError
from digitize.core.files import FULL_OR_READ_ONLY, copy_plain, natural_key, nfc, safe_component, sha256_file, short_component
from digitize.core.models import CONTROL, ItemMetadata, PageSource, Problem, Profile
from digitize.core.profiles import LIBRARIES

CATALOGUE_SUFFIXES = {".mrc", ".marc", ".xml", ".marcxml"}  # MARC21 exports in the batch folder
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2", ".j2k", ".jpf", ".jpx"}
ITEM_FILE = "item.toml"
BATCH_CSV = "items.csv"
IGNORED_FILES = {ITEM_FILE, "thumbs.db", "desktop.ini", "ready"}

Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, before decoding, with a clear message


@dataclass
class ItemPlan:
    """An item as found in the batch: its folder, metadata, pages and what is wrong with it."""

    folder: Path
    label: str  # how the item is named in reports before its metadata is known
    meta: ItemMetadata | None = None
    pages: list[PageSource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.meta is not None and bool(self.pages) and not any(
            p.severity == "error" for p in self.problems)

    def problem(self, reason: str, file: str | None = None, severity: str = "error",
                path: Path | None = None) -> None:
        self.problems.append(Problem(item=self.label, file=file, reason=reason, severity=severity, path=path))


def read_items_csv(path: Path) -> tuple[dict[str, dict], list[Problem]]:
    """Rows of a batch-level items.csv by their 'folder' column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Problem(item=path.name, file=path.name, reason=(
            f"cannot read the batch metadata file ({exc}); save it as UTF-8 CSV and run again"))]
    rows, problems = {}, []
    for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        folder = nfc((row.get("folder") or row.get("id") or "").strip())
        if not folder:
            problems.append(Problem(item=path.name, file=f"{path.name}:{number}",
                                    reason="row has no 'folder' (or 'id'): fill it in"))
            continue
        rows[folder] = {k: v for k, v in row.items() if k}
    return rows, problems


def unknown_keys(data: dict, where: str, also: tuple[str, ...] = ()) -> None:
    """Refuse keys the item metadata does not have, naming the nearest known one: a misspelt or
    mis-cased `access` must never be dropped and leave the item open."""
    known = [*ItemMetadata.model_fields, *also]
    for key in data:
        if key not in known:
            near = [k for k in known if k == str(key).strip().lower()] or difflib.get_close_matches(
                str(key).lower(), known, n=1, cutoff=0.6)
            hint = f"did you mean '{near[0]}'?" if near else f"the keys are: {', '.join(known)}"
            raise BadInput(f"unknown key '{key}' in the item metadata ({hint})", where,
                           "correct the key (keys are lower case) and run again")


def read_item_metadata(folder: Path, csv_row: dict | None, defaults: dict | None = None,
                       library_defaults: dict[str, dict] | None = None) -> ItemMetadata:
    """Item metadata from item.toml in the folder, else from the batch CSV row; ``defaults`` (e.g.
    the library of the whole batch) fill the fields the item leaves empty, then the defaults of
    its library (libraries.toml). An item whose access is stated nowhere is refused."""
    source = folder / ITEM_FILE
    if source.is_symlink() and not _inside(source, folder):
        raise BadInput("is a link to a file outside the item folder; refused", ITEM_FILE,
                       "put the item's own metadata file in its folder")
    if source.exists() or source.is_symlink():
        if not source.is_file():
            raise BadInput("is not a regular file (a folder, a pipe or a device)", ITEM_FILE,
                           "replace it with the item's metadata as a TOML text file")
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise BadInput("item metadata is not UTF-8 text", ITEM_FILE,
                           "save item.toml as UTF-8 and run again") from None
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"item metadata cannot be read: {exc}", ITEM_FILE,
                           'fix the TOML syntax (key = "value", one per line) and run again') from None
        except OSError as exc:
            raise BadInput(f"item metadata cannot be opened: {exc.strerror}", ITEM_FILE,
                           "check the file's permissions (the service user must be able to read it)") from None
        where = ITEM_FILE
        unknown_keys(data, where)
    elif csv_row is not None:
        data, where = csv_row, BATCH_CSV
        unknown_keys(data, where, also=("folder",))
        data = {k: v for k, v in data.items() if k != "folder"}
    else:
        raise BadInput("no item metadata", None,
                       f"add {ITEM_FILE} to the item folder or a row to the batch's {BATCH_CSV}")
    data = {**(defaults or {}), **{k: v for k, v in data.items() if v not in ("", None)}}
    library = data.get("library")
    if isinstance(library, str):
        data = {**(library_defaults or {}).get(library, {}), **data}
    if "access" not in data:
        raise BadInput("the item's access is not stated", where,
                       'add access = "open", "restricted" or "secret" (or set a default for the library '
                       f"{library or ''} in {LIBRARIES}); nothing is published without it")
    try:
        return ItemMetadata.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
        raise BadInput(f"item metadata is incomplete or wrong ({fields})", where,
                       "correct those fields and run again") from None


# A resolution outside these is not believed (NaN from a 0/0 TIFF rational, 109 million dpi from a
# PNG's largest pHYs): it counts as missing, and every size drawn from it stays sensible.
BELIEVABLE_DPI = (50, 4800)
MIN_PAGE_SIDE = 100  # pixels: smaller is a thumbnail or an icon, not a scanned page
MAX_PAGE_SIDE = 65500  # pixels: the page image goes into the PDF as a JPEG, whose sides stop at 65535


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


MEASURE_SIDE = 1600  # pixels: the long side of the reduced copy a page's resolution is estimated on
ESTIMATED = "estimated from page size and text lines"
FROM_OTHER_PAGES = "estimated from the item's other pages"
ASSUMED = "assumed (the profile's minimum)"


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


def _measure(image: Image.Image, lines: bool) -> resolution.Measure:
    """The current frame measured on a reduced grey copy (a JPEG is decoded reduced, a JPEG 2000 at
    a lower level: far faster than the whole image)."""
    width, height = image.size
    factor = min(1.0, MEASURE_SIDE / max(width, height))
    if factor < 1 and image.format == "JPEG":
        image.draft("L", (math.ceil(width * factor), math.ceil(height * factor)))
    elif factor < 1 and image.format == "JPEG2000":
        image.reduce = int(math.log2(1 / factor))
    try:
        gray = cv2.resize(imaging.to_gray(_pixels(image)), (round(width * factor), round(height * factor)),
                          interpolation=cv2.INTER_AREA)
        return resolution.measure(gray, factor, lines)
    except (cv2.error, ValueError, TypeError, KeyError, IndexError, ArithmeticError):
        return resolution.Measure(tuple(sorted((width, height))))  # pixels it cannot read: its size alone


def _resolution(image: Image.Image, profile: Profile, stated: int | None) -> Resolution:
    """What a frame's resolution is: stated by the operator, recorded in the file, or, when the file
    records none or one that cannot be true for the page, estimated from the page (digitize.capture.resolution)."""
    tag = page_dpi(image)
    if stated is not None:
        return Resolution(tag, stated, "stated")
    if tag is not None and tag >= profile.min_dpi and max(image.size) / tag * 25.4 <= resolution.MAX_PAGE_MM:
        return Resolution(tag, tag)  # believed as it is: the pixels are not decoded at intake
    # rows of a vertical page are not text lines (the profile reads it at full resolution)
    page = _measure(image, lines=profile.preprocessing.ocr_line_height > 0)
    wrong = resolution.implausible(tag, page) if tag is not None else None
    if tag is not None and wrong is None:
        return Resolution(tag, tag)
    said = f"records {tag} dpi, but {wrong}" if tag is not None else _unrecorded(image)
    found = resolution.estimate(page)
    if found is None:
        why = ("it has too few text lines of one size" if page.line is None
               else "its size matches no paper format at the resolution its text lines give")
        return Resolution(tag, None, said=said, basis=why)
    return Resolution(tag, found.dpi, ESTIMATED, found.dpi, said, found.basis)


def _share_estimate(found: list[Resolution]) -> None:
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


def _judge(found: Resolution, profile: Profile, which: str = "") -> str | None:
    """A warning about a frame's resolution under the profile (``which`` frame, if not the first);
    raises BadInput if it refuses it. An estimate that passes is not warned about here (see
    _estimate_warnings)."""
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


def _estimate_warnings(pages: list[tuple[str, Resolution]]) -> list[tuple[str, str]]:
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


@contextmanager
def reading(path: Path):
    """Open an image, turning whatever the decoder says into a BadInput an operator can act on."""
    try:
        with Image.open(path) as image:
            yield image
    except UnidentifiedImageError:
        raise BadInput(f"not an image that can be read (the content is not {path.suffix.lstrip('.').upper()})",
                       todo="replace it with the scanner's image file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInput(f"the image data is damaged or truncated ({exc})",
                       todo="copy it again from the scanner or rescan the page") from None


def _frames(path: Path, profile: Profile, max_pixels: int, decode: bool, stated: int | None = None,
            resolve: bool = True) -> list[dict]:
    """Every frame of a page file (size, mode, format and, with ``resolve``, its Resolution), checked
    for size before decoding and, with ``decode``, decoded in full; BadInput with a plain reason if
    the file cannot be used."""
    if path.stat().st_size == 0:
        raise BadInput("the file is empty (0 bytes)", todo="copy it again from the scanner or rescan the page")
    frames = []
    with reading(path) as image:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            width, height = image.size
            if width * height > max_pixels:
                raise BadInput(
                    f"the image claims {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), "
                    f"more than the {max_pixels / 1e6:.0f} megapixel limit; refused as a possible "
                    "decompression bomb", todo="check the file; rescan at a sensible resolution")
            which = f"frame {frame + 1}: " if frame else ""
            if min(width, height) < MIN_PAGE_SIDE:
                raise BadInput(f"{which}the image is only {width}x{height} pixels, too small to be a scanned page "
                               f"(at least {MIN_PAGE_SIDE} pixels on each side)",
                               todo="check that it is the scan and not a thumbnail or icon; put the full scan in "
                                    "its place or take the file out of the item folder")
            if max(width, height) > MAX_PAGE_SIDE:
                raise BadInput(f"{which}the image is {width}x{height} pixels, longer than a page image can be "
                               f"({MAX_PAGE_SIDE} pixels at most on each side)",
                               todo="split it into pages or rescan it at a lower resolution")
            found = {"frame": frame, "width": width, "height": height, "mode": image.mode,
                     "format": image.format or ""}
            if decode:
                image.load()  # truncated or corrupt data fails here
            if resolve:
                found["resolution"] = _resolution(image, profile, stated)
            frames.append(found)
    return frames


def _settle(frames: list[dict], profile: Profile) -> list[str]:
    """Judge the frames' resolutions (raises BadInput for the first the profile refuses); the warnings."""
    warnings = []
    for found in frames:
        warning = _judge(found["resolution"], profile, f"frame {found['frame'] + 1} " if found["frame"] else "")
        if warning:
            warnings.append(warning)
    return warnings


def check_page_file(path: Path, profile: Profile, max_pixels: int, decode: bool = True,
                    stated: int | None = None) -> tuple[list[dict], list[str]]:
    """Check every frame of a page file: size (before decoding), resolution (``stated`` by the
    operator, recorded, or estimated from the page) and, with ``decode``, the pixel data itself.
    Returns the frames (size, mode, format, Resolution) and warnings; raises BadInput with a plain
    reason if the file cannot be used."""
    frames = _frames(path, profile, max_pixels, decode, stated)
    _share_estimate([found["resolution"] for found in frames])
    warnings = _settle(frames, profile)
    warnings += [reason for _, reason in _estimate_warnings(
        [(f"frame {f['frame'] + 1}", f["resolution"]) for f in frames])]
    return frames, warnings


def shown_name(name: str) -> str:
    """A file or folder name as reports and metadata show it: NFC, control characters as '?'."""
    return CONTROL.sub("?", nfc(name))


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def plan_item(folder: Path, batch: Path, csv_row: dict | None, profile_for, max_pixels: int,
              defaults: dict | None = None, library_defaults: dict[str, dict] | None = None) -> ItemPlan:
    """Validate one item folder. ``profile_for(meta)`` gives the material profile to check with;
    ``defaults``, then ``library_defaults`` of the item's library, fill the metadata fields the
    item leaves empty."""
    plan = ItemPlan(folder=folder, label=shown_name(folder.name))
    if nfc(folder.name) != folder.name:
        plan.problem("folder name is in decomposed Unicode (NFD); it is recorded in its NFC form",
                     severity="warning")
    if folder.is_symlink() and not _inside(folder, batch):
        plan.problem("the item folder is a link to a folder outside the batch; refused (nothing was read "
                     "or copied from it)")
        return plan
    try:
        plan.meta = read_item_metadata(folder, csv_row, defaults, library_defaults)
    except BadInput as exc:
        plan.problem(exc.reason, file=exc.where)
        return plan
    plan.label = plan.meta.id
    try:
        profile = profile_for(plan.meta)
        files = sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
    except DigitizeError as exc:  # e.g. an unknown profile named in the metadata
        plan.problem(exc.message, file=ITEM_FILE)
        return plan
    except OSError as exc:
        plan.problem(f"item folder cannot be read ({exc.strerror}); check its permissions")
        return plan
    found = []  # (path, name, SHA-256, frames) of each page file
    for path in files:
        name = shown_name(path.name)
        if name.lower() in IGNORED_FILES or name == ".DS_Store" or name.startswith("._"):
            continue  # our own metadata, or what file managers leave behind
        if name.startswith("."):
            plan.problem("hidden file (name starts with '.'); left out", file=name, severity="warning")
            continue
        if nfc(path.name) != path.name:
            plan.problem("file name is in decomposed Unicode (NFD); recorded in its NFC form",
                         file=name, severity="warning")
        if name != nfc(path.name):
            plan.problem("file name holds control characters (shown here as '?'); rename the file",
                         file=name, severity="warning")
        if path.is_symlink() and not _inside(path, batch):
            plan.problem("is a link to a file outside the batch; refused", file=name)
            continue
        if path.is_dir():
            plan.problem("sub-folder inside an item is not read", file=name, severity="warning")
            continue
        if not path.is_file():
            plan.problem("is not a regular file (a pipe, socket or device); left out", file=name,
                         severity="warning")
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            plan.problem(f"not a page image ({path.suffix or 'no extension'}); left out",
                         file=name, severity="warning")
            continue
        try:
            # headers only here (the pixels of a page whose resolution is in doubt, reduced): the pixels
            # are decoded once, when the page is processed
            frames = _frames(path, profile, max_pixels, decode=False, stated=plan.meta.dpi)
            digest = sha256_file(path)
        except BadInput as exc:
            plan.problem(exc.message, file=name, path=path)
            continue
        except OSError as exc:
            plan.problem(f"cannot be read ({exc.strerror})", file=name, path=path)
            continue
        found.append((path, name, digest, frames))
    _share_estimate([frame["resolution"] for *_, frames in found for frame in frames])
    resolutions = []
    for path, name, digest, frames in found:
        try:
            warnings = _settle(frames, profile)
        except BadInput as exc:
            plan.problem(exc.message, file=name, path=path)
            continue
        for warning in warnings:
            plan.problem(warning, file=name, severity="warning")
        for frame in frames:
            label = name if len(frames) == 1 else f"{name}#{frame['frame'] + 1}"
            res = frame["resolution"]
            resolutions.append((label, res))
            plan.pages.append(PageSource(number=len(plan.pages) + 1, path=path, frame=frame["frame"],
                                         name=label, sha256=digest, size=path.stat().st_size,
                                         dpi=res.dpi, dpi_tag=res.tag, dpi_method=res.method,
                                         dpi_estimate=res.estimate, dpi_note=res.note(), width=frame["width"],
                                         height=frame["height"], mode=frame["mode"], format=frame["format"]))
    for name, warning in _estimate_warnings(resolutions):
        plan.problem(warning, file=name, severity="warning")
    if not plan.pages and not any(p.severity == "error" for p in plan.problems):
        plan.problem("no page images found (TIFF, JPEG, PNG or JPEG 2000)")
    if not plan.ok:
        _report_damaged_pages(plan, profile, max_pixels)
    return plan


def _report_damaged_pages(plan: ItemPlan, profile: Profile, max_pixels: int) -> None:
    """An item that already failed is not processed, so decode its remaining pages now: the
    operator learns about every damaged file in one run."""
    for path in dict.fromkeys(page.path for page in plan.pages):
        try:
            _frames(path, profile, max_pixels, decode=True, resolve=False)
        except BadInput as exc:
            plan.problem(exc.message, file=nfc(path.name), path=path)


def find_items(batch: Path) -> tuple[list[tuple[Path, dict | None]], list[Problem]]:
    """The item folders of a batch (one sub-folder per item; folders starting with '.' or '_'
    are not items) with their row of items.csv, if the batch has one."""
    if not batch.is_dir():
        raise BadInput("batch folder not found", str(batch), "give the path of a folder holding one folder per item")
    rows, problems = ({}, [])
    table = batch / BATCH_CSV
    if table.is_symlink() and not _inside(table, batch) or table.exists() and not table.is_file():
        problems.append(Problem(item=batch.name, file=BATCH_CSV, reason=(
            "is not a regular file of the batch (a link outside it, a pipe or a folder); not read")))
    elif table.exists():
        rows, problems = read_items_csv(table)
    folders = sorted((p for p in batch.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))),
                     key=lambda p: natural_key(p.name))
    known = {nfc(p.name) for p in folders}
    for folder_name in rows:
        if not _inside(batch / folder_name, batch):
            problems.append(Problem(item=folder_name, file=BATCH_CSV,
                                    reason="folder points outside the batch; refused (use the item folder's own name)"))
        elif folder_name not in known:
            problems.append(Problem(item=folder_name, file=BATCH_CSV,
                                    reason="no such item folder in the batch; check the 'folder' column"))
    if not folders and not problems:
        problems.append(Problem(item=batch.name, reason="the batch holds no item folders"))
    return [(folder, rows.get(nfc(folder.name))) for folder in folders], problems


def load_page(page: PageSource) -> np.ndarray:
    """Pixels of one page as 8-bit grey or RGB (the full decode: damaged data fails here). What is
    transparent is laid on white paper."""
    with reading(page.path) as image:
        image.seek(page.frame)
        image.load()
        try:
            return _pixels(image)
        except (ValueError, TypeError, OSError, KeyError, IndexError, ArithmeticError):
            raise BadInput(f"the image's pixels (colour mode {image.mode}) cannot be turned into a grey or colour "
                           "page", todo="save it again as an 8-bit grey or colour TIFF or PNG, or rescan the "
                                        "page") from None


def _pixels(image: Image.Image) -> np.ndarray:
    deep = image.mode.startswith("I;16") or image.mode in ("I", "F")
    if image.has_transparency_data and not deep:
        # transparent pixels hold any colour (often black): laid on white, they are paper
        paper = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA"))
        grey = image.mode in ("1", "L", "LA", "La")
        return np.asarray(paper.convert("L" if grey else "RGB"))
    if deep:
        data = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = float(data.max())
        if image.mode != "F" or top <= 0:  # float pages are scaled to their brightest pixel
            top = 65535.0 if top > 4095 else 4095.0
        return np.clip(data * (255.0 / top), 0, 255).astype(np.uint8)
    if image.mode in ("1", "L", "P;L"):
        return np.asarray(image.convert("L"))
    if image.mode == "RGB":
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _regular_files_only(folder: str, names: list[str]) -> set[str]:
    """For copytree: leave out links, pipes, sockets and devices (a pipe would block the copy)."""
    return {name for name in names if os.path.islink(os.path.join(folder, name))
            or not (os.path.isfile(os.path.join(folder, name)) or os.path.isdir(os.path.join(folder, name)))}


def quarantine(folder: Path, item: str, source: Path | None, reason: str) -> Path:
    """Copy a bad file (or a whole item folder) into the quarantine with a reason file beside it.
    Links are never followed and only regular files are copied; what cannot be copied is said in
    the reason file. A full or read-only disk raises (OSError): that stops the run."""
    target_dir = folder / short_component(safe_component(item))
    target_dir.mkdir(parents=True, exist_ok=True)
    note, copied = target_dir / "REASON.txt", ""
    try:
        if source is None or source.is_symlink() or not (source.is_dir() or source.is_file()):
            copied = "" if source is None else " (not copied: a link, pipe or device)"
        elif source.is_dir():
            shutil.copytree(source, target_dir / "original", dirs_exist_ok=True, ignore=_regular_files_only,
                            copy_function=copy_plain)
        else:
            name = short_component(safe_component(shown_name(source.name)), len(".reason.txt"))
            copy_plain(source, target_dir / name)
            note = target_dir / f"{name}.reason.txt"
    except (OSError, shutil.Error) as exc:
        if isinstance(exc, OSError) and exc.errno in FULL_OR_READ_ONLY:  # the disk's fault: the run stops
            raise
        copied = " (could not be copied: check the file's permissions)"
    with note.open("a", encoding="utf-8") as handle:
        handle.write(f"{shown_name(str(source or item))}{copied}: {reason}\n")
    return note


def catalogue_files(batch: Path) -> list[Path]:
    """MARC21 catalogue records (binary or MARCXML) the batch carries beside its item folders."""
    return sorted((p for p in batch.iterdir() if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES
                   and _inside(p, batch)), key=lambda p: natural_key(p.name))
