"""The page files of an item folder: listed in natural order, each frame checked (size before
decoding, resolution through digitize.capture.resolution), decoded to pixels, and what cannot be
used set aside in the quarantine.

Originals are only ever read: a bad file is copied, never moved, with a reason file beside it; the
quarantine holds only what is wrong now (an item stored since leaves it for its .resolved history).
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from digitize.capture import formats, imaging, pdfsource, resolution
from digitize.core.errors import BadInput
from digitize.core.files import (FULL_OR_READ_ONLY, copy_plain, inside, natural_key, nfc, safe_component, sha256_file,
                                 short_component, shown_name, write_atomic)
from digitize.core.i18n import N_, Reason
from digitize.core.models import FileFormat, PageSource, Problem, Profile, Severity

IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2", ".j2k", ".jpf", ".jpx"}
MIN_PAGE_SIDE = 100  # pixels: smaller is a thumbnail or an icon, not a scanned page
MAX_PAGE_SIDE = 65500  # pixels: the page image goes into the PDF as a JPEG, whose sides stop at 65535
MEASURE_SIDE = 1600  # pixels: the long side of the reduced copy a page's resolution is estimated on

Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, before decoding, with a clear message


def in_order(folder: Path) -> list[Path]:
    """What a folder holds, in natural order (page 2 before page 10)."""
    return sorted(folder.iterdir(), key=lambda p: natural_key(p.name))


@dataclass
class PageFile:
    """A page file that passed its checks, its frames read from the headers."""

    path: Path
    name: str  # as reports show it (shown_name)
    sha256: str
    frames: list[dict]  # each: frame, width, height, mode, format, resolution
    identified: FileFormat | None = None  # its format, by PRONOM signatures


def page_files(files: list[Path], batch: Path, profile: Profile, max_pixels: int, stated: int | None,
               problem: Callable[..., None], ignored: set[str]) -> list[PageFile]:
    """The page images among an item folder's ``files``, each checked from its headers (the pixels
    of a page whose resolution is in doubt, reduced). What is left out or refused is told to
    ``problem(reason, file=, severity=, path=)``; names in ``ignored`` (lower case) are passed over."""
    found = []
    for path in files:
        name = shown_name(path.name)
        if name.lower() in ignored or name == ".DS_Store" or name.startswith("._"):
            continue  # our own metadata, or what file managers leave behind
        if name.startswith("."):
            problem(N_("hidden file (name starts with '.'); left out"), file=name, severity="warning")
            continue
        if nfc(path.name) != path.name:
            problem(N_("file name is in decomposed Unicode (NFD); recorded in its NFC form"),
                    file=name, severity="warning")
        if name != nfc(path.name):
            problem(N_("file name holds control characters (shown here as '?'); rename the file"),
                    file=name, severity="warning")
        if path.is_symlink() and not inside(path, batch):
            problem(N_("is a link to a file outside the batch; refused"), file=name)
            continue
        if path.is_dir():
            problem(N_("sub-folder inside an item is not read"), file=name, severity="warning")
            continue
        if not path.is_file():
            problem(N_("is not a regular file (a pipe, socket or device); left out"), file=name,
                    severity="warning")
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES and not pdfsource.is_pdf(path):
            problem(N_("not a page image ({suffix}); left out", suffix=path.suffix) if path.suffix else
                    N_("not a page image (no extension); left out"),
                    file=name, severity="warning")
            continue
        try:
            identified, contradiction = identified_format(path, name, profile)
            # headers only here (the pixels of a page whose resolution is in doubt, reduced): the pixels
            # are decoded once, when the page is processed
            frames = _frames(path, profile, max_pixels, decode=False, stated=stated)
            digest = sha256_file(path)
        except BadInput as exc:
            problem(exc.words, file=name, path=path)
            continue
        except OSError as exc:
            problem(N_("cannot be read ({error})", error=exc.strerror), file=name, path=path)
            continue
        if contradiction is not None:
            problem(contradiction, file=name, severity="warning")
        found.append(PageFile(path, name, digest, frames, identified))
    return found


def identified_format(path: Path, name: str, profile: Profile):
    """The file's format by its content (PRONOM), and the warning when its extension says another;
    BadInput when the profile does not accept the format (the file is not decoded then)."""
    identified, contradiction = formats.check_extension(formats.identify(path), name)
    formats.check_accepted(identified, profile)
    return identified, contradiction


@contextmanager
def reading(path: Path):
    """Open an image, turning whatever the decoder says into a BadInput an operator can act on."""
    try:
        with Image.open(path) as image:
            yield image
    except UnidentifiedImageError:
        kind = _started_as(path)
        if kind:  # the start of an image whose rest (a TIFF's directory, a PNG's header) is missing
            raise BadInput(N_("the file starts as a {kind} image but is damaged or truncated ({size} bytes): its "
                              "image cannot be read", kind=kind, size=path.stat().st_size),
                           todo=N_("copy it again from the scanner or rescan the page")) from None
        raise BadInput(N_("not an image that can be read (the content is not {format})",
                          format=path.suffix.lstrip(".").upper()),
                       todo=N_("replace it with the scanner's image file")) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInput(N_("the image data is damaged or truncated ({detail})", detail=exc),
                       todo=N_("copy it again from the scanner or rescan the page")) from None


SIGNATURES = ((b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"),
              (b"\0\0\0\x0cjP  \r\n\x87\n", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000"))


def _started_as(path: Path) -> str | None:
    """The image format a file's first bytes announce, if any."""
    try:
        with open(path, "rb") as file:
            head = file.read(16)
    except OSError:
        return None
    return next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)


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


def _frames(path: Path, profile: Profile, max_pixels: int, decode: bool, stated: int | None = None,
            resolve: bool = True) -> list[dict]:
    """Every frame of a page file (size, mode, format and, with ``resolve``, its Resolution), checked
    for size before decoding and, with ``decode``, decoded in full; BadInput with a plain reason if
    the file cannot be used."""
    if pdfsource.is_pdf(path):
        return pdfsource.frames(path, profile, max_pixels, decode, stated, resolve)
    if path.stat().st_size == 0:
        raise BadInput(N_("the file is empty (0 bytes)"), todo=N_("copy it again from the scanner or rescan the page"))
    frames = []
    with reading(path) as image:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            width, height = image.size
            if width * height > max_pixels:
                megapixels, limit = round(width * height / 1e6), round(max_pixels / 1e6)
                raise BadInput(
                    N_("the image claims {width}x{height} pixels ({megapixels} megapixels), more than the "
                       "{limit} megapixel limit; refused as a possible decompression bomb", width=width,
                       height=height, megapixels=megapixels, limit=limit),
                    todo=N_("check the file; rescan at a sensible resolution"))
            which = N_("frame {number}: ", number=frame + 1) if frame else ""
            if min(width, height) < MIN_PAGE_SIDE:
                raise BadInput(N_("{frame}the image is only {width}x{height} pixels, too small to be a scanned "
                                  "page (at least {least} pixels on each side)", frame=which, width=width,
                                  height=height, least=MIN_PAGE_SIDE),
                               todo=N_("check that it is the scan and not a thumbnail or icon; put the full scan "
                                       "in its place or take the file out of the item folder"))
            if max(width, height) > MAX_PAGE_SIDE:
                raise BadInput(N_("{frame}the image is {width}x{height} pixels, longer than a page image can be "
                                  "({most} pixels at most on each side)", frame=which, width=width, height=height,
                                  most=MAX_PAGE_SIDE),
                               todo=N_("split it into pages or rescan it at a lower resolution"))
            found = {"frame": frame, "width": width, "height": height, "mode": image.mode,
                     "format": image.format or ""}
            if decode:
                image.load()  # truncated or corrupt data fails here
            if resolve:
                found["resolution"] = resolution.of_frame(image, profile, stated,
                                                          lambda lines: _measure(image, lines))
            frames.append(found)
    return frames


def judge_frames(frames: list[dict], profile: Profile) -> list[str]:
    """Judge the frames' resolutions (raises BadInput for the first the profile refuses); the warnings."""
    warnings = []
    for found in frames:
        which = f"frame {found['frame'] + 1} " if found["frame"] else ""
        warning = resolution.judge(found["resolution"], profile, which)
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
    resolution.share_estimate([found["resolution"] for found in frames])
    warnings = judge_frames(frames, profile)
    warnings += [reason for _, reason in resolution.estimate_warnings(
        [(f"frame {f['frame'] + 1}", f["resolution"]) for f in frames])]
    return frames, warnings


def decode_all(paths: list[Path], profile: Profile, max_pixels: int) -> list[tuple[Path, Reason]]:
    """Decode each file in full: (path, reason) for each that is damaged."""
    damaged = []
    for path in paths:
        try:
            _frames(path, profile, max_pixels, decode=True, resolve=False)
        except BadInput as exc:
            damaged.append((path, exc.words))
    return damaged


def load_page(page: PageSource) -> np.ndarray:
    """Pixels of one page as 8-bit grey or RGB (the full decode: damaged data fails here). What is
    transparent is laid on white paper."""
    if page.format == pdfsource.FORMAT:
        return pdfsource.load_page(page)
    with reading(page.path) as image:
        image.seek(page.frame)
        image.load()
        try:
            return _pixels(image)
        except (ValueError, TypeError, OSError, KeyError, IndexError, ArithmeticError):
            raise BadInput(N_("the image's pixels (colour mode {mode}) cannot be turned into a grey or colour "
                              "page", mode=image.mode),
                           todo=N_("save it again as an 8-bit grey or colour TIFF or PNG, or rescan the "
                                   "page")) from None


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


QUARANTINE_NOTE = "REASON.txt"
RESOLVED = ".resolved"  # in the quarantine: what left it (items stored since, files no longer bad)


def quarantine_entry(quarantine: Path, folder: Path) -> Path:
    """Where the quarantine keeps what is wrong with the item of ``folder``."""
    return quarantine / short_component(safe_component(shown_name(folder.name)))


def quarantine_item(quarantine: Path, folder: Path, label: str, problems: list[Problem]) -> Path:
    """Write the quarantine entry of a refused item as this run found it, anew on every run (so it
    never grows and never keeps a reason that is no longer true): REASON.txt with every error once,
    a copy of each bad file (a page, item.toml) with NAME.reason.txt beside it, and the item's other
    files named, not copied: a metadata fault does not copy a book's pages, whose originals stay
    untouched in the item folder. What an earlier run put there that is no longer bad is moved to
    the quarantine's .resolved history. Links are never followed and only regular files are copied.
    A full or read-only disk raises (OSError): that stops the run."""
    entry = quarantine_entry(quarantine, folder)
    entry.mkdir(parents=True, exist_ok=True)
    errors = [p for p in problems if p.severity == Severity.error]
    bad: dict[Path, list[str]] = {}
    for problem in errors:
        if problem.path is not None and problem.reason not in bad.setdefault(problem.path, []):
            bad[problem.path].append(problem.reason)
    kept, copied = {QUARANTINE_NOTE}, []
    for source, reasons in bad.items():
        name = short_component(safe_component(shown_name(source.name)), len(".reason.txt"))
        state = _copy_bad(source, entry / name)
        write_atomic(entry / f"{name}.reason.txt",
                     "".join(f"{shown_name(str(source))}{state}: {reason}\n" for reason in reasons))
        kept |= {name, f"{name}.reason.txt"}
        copied.append(f"  {name}{state}")
    others = [f"  {shown_name(path.name)}" for path in _item_files(folder) if path not in bad]
    lines = [f"{label} is refused (item folder {shown_name(str(folder))}). What to fix:",
             *dict.fromkeys(f"- {p.file}: {p.reason}" if p.file else f"- {p.reason}" for p in errors)]
    if copied:
        lines += ["", "The bad files, copied here with their reasons in NAME.reason.txt:", *copied]
    if others:
        lines += ["", "Not copied (the originals stay in the item folder, untouched):", *others]
    write_atomic(entry / QUARANTINE_NOTE, "\n".join(lines) + "\n")
    stale = [path for path in entry.iterdir() if path.name not in kept and not path.name.startswith(".")]
    if stale:
        history = _history(quarantine, entry)
        history.mkdir(parents=True)
        for path in stale:
            os.replace(path, history / path.name)
    return entry


def release(quarantine: Path, folder: Path) -> Path | None:
    """The item of ``folder`` is no longer refused: its quarantine entry moves to the quarantine's
    .resolved history (what was wrong stays in the reports of the runs that refused it). Returns
    where it went, or None if it had no entry. The batch's quarantine folder goes once empty."""
    entry = quarantine_entry(quarantine, folder)
    if entry.is_symlink() or not entry.is_dir():
        return None
    history = _history(quarantine, entry)
    history.parent.mkdir(parents=True, exist_ok=True)
    os.replace(entry, history)
    try:
        quarantine.rmdir()
    except OSError:
        pass  # other items are still refused
    return history


def _history(quarantine: Path, entry: Path) -> Path:
    """A new folder of the .resolved history for ``entry``, named by the time (UTC)."""
    base = quarantine.parent / RESOLVED / quarantine.name / entry.name
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    found, number = base / stamp, 1
    while found.exists():
        number += 1
        found = base / f"{stamp}-{number}"
    return found


def _copy_bad(source: Path, target: Path) -> str:
    """Copy a bad file into the quarantine: "" when copied, else why not (said in its reason file)."""
    if source.is_symlink() or not source.is_file():
        return " (not copied: a link, pipe or device)"
    try:
        copy_plain(source, target)
    except OSError as exc:
        if exc.errno in FULL_OR_READ_ONLY:  # the disk's fault: the run stops
            raise
        return " (could not be copied: check the file's permissions)"
    return ""


def _item_files(folder: Path) -> list[Path]:
    """The regular files of an item folder, in natural order (nothing of a linked folder: never read)."""
    if folder.is_symlink():
        return []
    try:
        return [path for path in in_order(folder)
                if not path.name.startswith(".") and not path.is_symlink() and path.is_file()]
    except OSError:
        return []
