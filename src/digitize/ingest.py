"""Batch intake: find the items of a batch, read their metadata, validate every page file.

Originals are only ever read. What cannot be used is described in a Problem (what is wrong and
what to do) and copied, never moved, to the quarantine folder with a reason file.
"""

from __future__ import annotations

import csv
from contextlib import contextmanager
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from digitize.errors import BadInput, DigitizeError
from digitize.files import natural_key, nfc, safe_component, sha256_file
from digitize.models import ItemMetadata, PageSource, Problem, Profile

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


def read_item_metadata(folder: Path, csv_row: dict | None, defaults: dict | None = None) -> ItemMetadata:
    """Item metadata from item.toml in the folder, else from the batch CSV row; ``defaults`` (e.g.
    the library of the whole batch) fill the fields the item leaves empty."""
    source = folder / ITEM_FILE
    if source.exists():
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
                           "check the file's permissions") from None
        where = ITEM_FILE
    elif csv_row is not None:
        data, where = csv_row, BATCH_CSV
    else:
        raise BadInput("no item metadata", None,
                       f"add {ITEM_FILE} to the item folder or a row to the batch's {BATCH_CSV}")
    data = {**(defaults or {}), **{k: v for k, v in data.items() if v not in ("", None)}}
    try:
        return ItemMetadata.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
        raise BadInput(f"item metadata is incomplete or wrong ({fields})", where,
                       "correct those fields and run again") from None


def page_dpi(image: Image.Image) -> int | None:
    dpi = image.info.get("dpi")
    if not dpi:
        return None
    value = int(round(float(dpi[0])))
    return value if value > 1 else None


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


def check_page_file(path: Path, profile: Profile, max_pixels: int,
                    decode: bool = True) -> tuple[list[dict], list[str]]:
    """Check every frame of a page file: size (before decoding), resolution and, with ``decode``,
    the pixel data itself. Returns the frames (size, mode, dpi) and warnings; raises BadInput
    with a plain reason if the file cannot be used."""
    if path.stat().st_size == 0:
        raise BadInput("the file is empty (0 bytes)", todo="copy it again from the scanner or rescan the page")
    frames, warnings = [], []
    with reading(path) as image:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            width, height = image.size
            if width * height > max_pixels:
                raise BadInput(
                    f"the image claims {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), "
                    f"more than the {max_pixels / 1e6:.0f} megapixel limit; refused as a possible "
                    "decompression bomb", todo="check the file; rescan at a sensible resolution")
            if decode:
                image.load()  # truncated or corrupt data fails here
            dpi = page_dpi(image)
            if dpi is None or dpi < profile.min_dpi:
                said = "has no resolution (dpi) recorded" if dpi is None else f"is {dpi} dpi"
                reason = (f"frame {frame + 1} " if frame else "") + (
                    f"{said}; profile {profile.name} asks for at least {profile.min_dpi} dpi")
                if profile.dpi_policy == "error":
                    raise BadInput(reason, todo=f"rescan at {profile.min_dpi} dpi or more")
                warnings.append(reason)
            frames.append({"frame": frame, "width": width, "height": height, "mode": image.mode,
                           "format": image.format or "", "dpi": dpi or profile.min_dpi})
    return frames, warnings


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def plan_item(folder: Path, batch: Path, csv_row: dict | None, profile_for, max_pixels: int,
              defaults: dict | None = None) -> ItemPlan:
    """Validate one item folder. ``profile_for(meta)`` gives the material profile to check with;
    ``defaults`` fill the metadata fields the item leaves empty."""
    plan = ItemPlan(folder=folder, label=nfc(folder.name))
    if plan.label != folder.name:
        plan.problem("folder name is in decomposed Unicode (NFD); it is recorded in its NFC form",
                     severity="warning")
    try:
        plan.meta = read_item_metadata(folder, csv_row, defaults)
    except BadInput as exc:
        plan.problem(exc.message, file=exc.where)
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
    for path in files:
        name = nfc(path.name)
        if name.lower() in IGNORED_FILES or name == ".DS_Store" or name.startswith("._"):
            continue  # our own metadata, or what file managers leave behind
        if name.startswith("."):
            plan.problem("hidden file (name starts with '.'); left out", file=name, severity="warning")
            continue
        if name != path.name:
            plan.problem("file name is in decomposed Unicode (NFD); recorded in its NFC form",
                         file=name, severity="warning")
        if path.is_symlink() and not _inside(path, batch):
            plan.problem("is a link to a file outside the batch; refused", file=name)
            continue
        if path.is_dir():
            plan.problem("sub-folder inside an item is not read", file=name, severity="warning")
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            plan.problem(f"not a page image ({path.suffix or 'no extension'}); left out",
                         file=name, severity="warning")
            continue
        try:
            # headers only here: the pixels are decoded once, when the page is processed
            frames, warnings = check_page_file(path, profile, max_pixels, decode=False)
            digest = sha256_file(path)
        except BadInput as exc:
            plan.problem(exc.message, file=name, path=path)
            continue
        except OSError as exc:
            plan.problem(f"cannot be read ({exc.strerror})", file=name, path=path)
            continue
        for warning in warnings:
            plan.problem(warning, file=name, severity="warning")
        for frame in frames:
            label = name if len(frames) == 1 else f"{name}#{frame['frame'] + 1}"
            plan.pages.append(PageSource(number=len(plan.pages) + 1, path=path, frame=frame["frame"],
                                         name=label, sha256=digest, size=path.stat().st_size,
                                         dpi=frame["dpi"], width=frame["width"], height=frame["height"],
                                         mode=frame["mode"], format=frame["format"]))
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
            check_page_file(path, profile, max_pixels, decode=True)
        except BadInput as exc:
            plan.problem(exc.message, file=nfc(path.name), path=path)


def find_items(batch: Path) -> tuple[list[tuple[Path, dict | None]], list[Problem]]:
    """The item folders of a batch (one sub-folder per item; folders starting with '.' or '_'
    are not items) with their row of items.csv, if the batch has one."""
    if not batch.is_dir():
        raise BadInput("batch folder not found", str(batch), "give the path of a folder holding one folder per item")
    rows, problems = ({}, [])
    if (batch / BATCH_CSV).exists():
        rows, problems = read_items_csv(batch / BATCH_CSV)
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
    """Pixels of one page as 8-bit grey or RGB (the full decode: damaged data fails here)."""
    with reading(page.path) as image:
        image.seek(page.frame)
        image.load()
        if image.mode.startswith("I;16") or image.mode in ("I", "F"):
            data = np.asarray(image).astype(np.float32)
            top = 65535.0 if data.max() > 4095 else 4095.0
            return np.clip(data * (255.0 / top), 0, 255).astype(np.uint8)
        if image.mode in ("1", "L", "LA", "P;L"):
            return np.asarray(image.convert("L"))
        if image.mode == "RGB":
            return np.asarray(image)
        return np.asarray(image.convert("RGB"))


def quarantine(folder: Path, item: str, source: Path | None, reason: str) -> Path:
    """Copy a bad file (or a whole item folder) into the quarantine with a reason file beside it."""
    target_dir = folder / safe_component(item)
    target_dir.mkdir(parents=True, exist_ok=True)
    if source is None:
        note = target_dir / "REASON.txt"
    elif source.is_dir():
        shutil.copytree(source, target_dir / "original", dirs_exist_ok=True, symlinks=True)
        note = target_dir / "REASON.txt"
    else:
        name = safe_component(nfc(source.name))
        shutil.copy2(source, target_dir / name, follow_symlinks=False)
        note = target_dir / f"{name}.reason.txt"
    with note.open("a", encoding="utf-8") as handle:
        handle.write(f"{source or item}: {reason}\n")
    return note


def catalogue_files(batch: Path) -> list[Path]:
    """MARC21 catalogue records (binary or MARCXML) the batch carries beside its item folders."""
    return sorted((p for p in batch.iterdir() if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES),
                  key=lambda p: natural_key(p.name))
