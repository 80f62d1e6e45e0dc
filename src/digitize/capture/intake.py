"""Batch intake: find the item folders of a batch, read each item's metadata (item.toml or the
batch's items.csv, every key checked) and plan the item with its checked page files.

What cannot be used is described in a Problem (what is wrong and what to do); the page files
themselves are digitize.capture.pagefiles' job, their resolution digitize.capture.resolution's.
"""

from __future__ import annotations

import csv
import difflib
import os
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from digitize.capture import malware, pagefiles, resolution
from digitize.core.errors import BadInput, DigitizeError
from digitize.core.files import inside, natural_key, nfc, shown_name
from digitize.core.i18n import N_, Reason, Text
from digitize.core.models import ItemMetadata, PageSource, Problem, VirusCheck
from digitize.core.profiles import LIBRARIES

CATALOGUE_SUFFIXES = {".mrc", ".marc", ".xml", ".marcxml"}  # MARC21 exports in the batch folder
ITEM_FILE = "item.toml"
BATCH_CSV = "items.csv"
IGNORED_FILES = {ITEM_FILE, "thumbs.db", "desktop.ini", "ready"}
RESCAN = "rescan"  # item.toml's [rescan] table: new scans of some pages of a stored item


@dataclass
class ItemPlan:
    """An item as found in the batch: its folder, metadata, pages and what is wrong with it."""

    folder: Path
    label: str  # how the item is named in reports before its metadata is known
    meta: ItemMetadata | None = None
    pages: list[PageSource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    scans: list[VirusCheck] = field(default_factory=list)  # the malware scan of each file of the folder
    replaces: list[int] | None = None  # a rescan: the stored item's pages its page files replace, in order

    @property
    def ok(self) -> bool:
        return self.meta is not None and bool(self.pages) and not any(
            p.severity == "error" for p in self.problems)

    def problem(self, reason: str | Text | Reason, file: str | None = None, severity: str = "error",
                path: Path | None = None) -> None:
        self.problems.append(Problem(item=self.label, file=file, reason=reason, severity=severity, path=path))


@dataclass(frozen=True)
class CsvRow:
    """An item's row of the batch's items.csv: its values by column, the line it is on, and what is
    wrong with the row itself (other lines naming the same folder, values past the last column)."""

    values: dict[str, str]
    line: int = 0
    also: tuple[int, ...] = ()  # other lines of items.csv for the same folder
    differ: tuple[str, ...] = ()  # the columns whose values those other lines give otherwise
    extra: int = 0  # values beyond the header's columns
    clashes: tuple[str, ...] = ()  # columns named twice in the header, given two values by this row
    unread: str = ""  # why the whole items.csv could not be read (every folder's row is then this)

    @property
    def where(self) -> str:
        return f"{BATCH_CSV}:{self.line}" if self.line else BATCH_CSV


class MetadataFaults(BadInput):
    """Every fault of an item's metadata, found before any is reported: ``faults`` holds each as a
    BadInput naming where it is (item.toml, or items.csv and its line) and what to do."""

    def __init__(self, faults: list[BadInput]):
        self.faults = faults
        super().__init__("; ".join(fault.message for fault in faults))


def find_items(batch: Path, infected: set[Path] = frozenset()) -> tuple[list[tuple[Path, CsvRow | None]], list[Problem]]:
    """The item folders of a batch (one sub-folder per item; folders starting with '.' or '_'
    are not items) with their row of items.csv, if the batch has one (and it is not among the
    ``infected`` files, which are never read)."""
    if not batch.is_dir():
        raise BadInput("batch folder not found", str(batch), "give the path of a folder holding one folder per item")
    rows, problems = ({}, [])
    table = batch / BATCH_CSV
    if table.is_symlink() and not inside(table, batch) or table.exists() and not table.is_file():
        problems.append(Problem(item=batch.name, file=BATCH_CSV, reason=(
            "is not a regular file of the batch (a link outside it, a pipe or a folder); not read")))
    elif table in infected:
        unread = CsvRow(values={}, unread=f"the batch's {BATCH_CSV} carries malware and was not read")
        return [(folder, unread) for folder in _item_folders(batch)], problems
    elif table.exists():
        rows, problems = read_items_csv(table)
        if not rows and any(p.severity == "error" and p.file == BATCH_CSV for p in problems):
            unread = CsvRow(values={}, unread=f"the batch's {BATCH_CSV} could not be read (see the batch's problems)")
            return [(folder, unread) for folder in _item_folders(batch)], problems
    folders = _item_folders(batch)
    known = {nfc(p.name) for p in folders}
    for folder_name, row in rows.items():
        if not inside(batch / folder_name, batch):
            problems.append(Problem(item=folder_name, file=row.where,
                                    reason="folder points outside the batch; refused (use the item folder's own name)"))
        elif folder_name not in known:
            problems.append(Problem(item=folder_name, file=row.where,
                                    reason="no such item folder in the batch; check the 'folder' column"))
    if not folders and not problems:
        problems.append(Problem(item=batch.name, reason="the batch holds no item folders"))
    return [(folder, rows.get(nfc(folder.name))) for folder in folders], problems


def _item_folders(batch: Path) -> list[Path]:
    return sorted((p for p in batch.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))),
                  key=lambda p: natural_key(p.name))


def catalogue_files(batch: Path) -> list[Path]:
    """MARC21 catalogue records (binary or MARCXML) the batch carries beside its item folders."""
    return sorted((p for p in batch.iterdir() if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES
                   and inside(p, batch)), key=lambda p: natural_key(p.name))


def read_items_csv(path: Path) -> tuple[dict[str, CsvRow], list[Problem]]:
    """Rows of a batch-level items.csv by their 'folder' column. A folder named on several lines
    keeps its first row; the others are its fault (which row is right is the operator's call), and
    so is a column named twice in the header whose two values in the row differ. A file that is not
    UTF-8 is read as Excel saves it on a Vietnamese Windows (Windows-1258), with a warning; one
    that is neither is refused, and each item it describes says so."""
    text, problems = _csv_text(path)
    if text is None:
        return {}, problems
    rows: dict[str, CsvRow] = {}
    reader = csv.reader(text.splitlines())
    header = [name.strip() for name in next(reader, [])]
    columns: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        if name:
            columns.setdefault(name, []).append(position)
    for cells in reader:
        if not cells:
            continue
        number = reader.line_num
        values = {name: cells[spots[0]] if spots[0] < len(cells) else "" for name, spots in columns.items()}
        clashes = tuple(_clash(name, spots, cells) for name, spots in columns.items()
                        if len({cells[i].strip() for i in spots if i < len(cells) and cells[i].strip()}) > 1)
        folder = nfc((values.get("folder") or values.get("id") or "").strip())
        if not folder:
            problems.append(Problem(item=path.name, file=f"{path.name}:{number}",
                                    reason="row has no 'folder' (or 'id'): fill it in"))
        elif folder in rows:
            first = rows[folder]
            differ = [name for name in columns if (values.get(name) or "").strip() != (first.values.get(name) or "").strip()]
            rows[folder] = replace(first, also=(*first.also, number),
                                   differ=tuple(dict.fromkeys((*first.differ, *differ))))
        else:
            rows[folder] = CsvRow(values=values, line=number, extra=max(0, len(cells) - len(header)), clashes=clashes)
    return rows, problems


def _clash(name: str, spots: list[int], cells: list[str]) -> str:
    given = [cells[i].strip() for i in spots if i < len(cells)]
    shown = f" ({', '.join(map(repr, given))})" if name in SHOWN_VALUES else ""
    return f"column '{name}' is in the header {len(spots)} times (columns {', '.join(str(i + 1) for i in spots)}) " \
           f"and this row's values differ{shown}"


def _csv_text(path: Path) -> tuple[str | None, list[Problem]]:
    """The text of items.csv: UTF-8 (with or without a byte-order mark), else Windows-1258 (what
    Excel's plain "CSV" gives on a Vietnamese Windows; its separate tone marks composed, NFC) with a
    warning; None and the reason when it is neither (a Vietnamese text never leaves a tone mark
    alone, as Latin-1's ì, ò read as Windows-1258 would)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(item=path.parent.name, file=path.name, reason=(
            f"cannot read the batch metadata file ({exc.strerror}); check its permissions and run again"))]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = f"byte 0x{raw[exc.start]:02X} on line {line} is not UTF-8"
    try:
        text = unicodedata.normalize("NFC", raw.decode("cp1258"))
    except UnicodeDecodeError:
        text = None
    if text is None or any(unicodedata.combining(char) for char in text):
        return None, [Problem(item=path.parent.name, file=path.name, reason=(
            f"is not UTF-8 text ({bad}) nor Vietnamese Windows-1258 text; nothing in it was read. In Excel save it "
            "as \"CSV UTF-8 (Comma delimited)\" (or in LibreOffice choose the character set Unicode (UTF-8)) and "
            "run again"))]
    return text, [Problem(item=path.parent.name, file=path.name, severity="warning", reason=(
        f"is not UTF-8 text ({bad}); it was read as Vietnamese Windows-1258 (Excel's plain \"CSV\" on a "
        "Vietnamese Windows). Check the titles in this summary; save it as \"CSV UTF-8 (Comma delimited)\" to be "
        "sure"))]


def unknown_keys(data: dict, where: str, also: tuple[str, ...] = ()) -> list[tuple[str, str | None, BadInput]]:
    """The keys the item metadata does not have, each with the known key it most likely meant (or
    None) and its fault: a misspelt or mis-cased `access` must never be dropped and leave the item
    open."""
    known = [*ItemMetadata.model_fields, *also]
    found = []
    for key in data:
        if key in known:
            continue
        near = [k for k in known if k == str(key).strip().lower()] or difflib.get_close_matches(
            str(key).lower(), known, n=1, cutoff=0.6)
        if not near:
            hint = N_("the keys are: {keys}", keys=", ".join(known))
        elif near[0] in data:
            hint = N_("did you mean '{key}'? It is given too: keep the right one", key=near[0])
        else:
            hint = N_("did you mean '{key}'?", key=near[0])
        found.append((key, near[0] if near else None, BadInput(
            N_("unknown key '{key}' in the item metadata ({hint})", key=key, hint=hint), where,
            N_("correct the key (keys are lower case) and run again"))))
    return found


SHOWN_VALUES = {"access", "category", "dpi", "language", "profile", "rights"}  # codes, safe to repeat in a reason


def value_fault(error: dict, where: str, from_csv: bool) -> BadInput:
    """One of pydantic's complaints about the item metadata in an operator's words."""
    name = ".".join(map(str, error["loc"])) or "item"
    if error["type"] == "missing":
        todo = f"fill in the '{name}' column of the item's row" if from_csv else f'add {name} = "..." to {ITEM_FILE}'
        return BadInput(f"{name} is not stated", where, todo + (" (or run with --library)" if name == "library" else ""))
    given = error.get("input")
    shown = f" {given!r}" if name in SHOWN_VALUES and len(repr(given)) <= 40 else ""
    if error["type"] == "enum":
        what = f"{name}{shown} is not one of {error['ctx']['expected']}"
    else:
        message = error["msg"].removeprefix("Value error, ")
        what = f"{name}{shown}: {message[:1].lower()}{message[1:]}"
    return BadInput(what, where, "correct it and run again")


def read_item_metadata(folder: Path, csv_row: CsvRow | dict | None, defaults: dict | None = None,
                       library_defaults: dict[str, dict] | None = None,
                       profile_for: Callable[[ItemMetadata], object] | None = None) -> ItemMetadata:
    """Item metadata from item.toml in the folder, else from the batch CSV row; ``defaults`` (e.g.
    the library of the whole batch) fill the fields the item leaves empty, then the defaults of
    its library (libraries.toml). An item whose access is stated nowhere is refused. Every fault
    is found before any is reported (MetadataFaults): unknown keys with the key they likely mean,
    fields missing, values wrong, a profile that does not exist, faults of the items.csv row;
    a file that cannot be read at all is one BadInput."""
    if isinstance(csv_row, dict):
        csv_row = CsvRow(values=csv_row)
    faults: list[BadInput] = []
    source = folder / ITEM_FILE
    if source.is_symlink() and not inside(source, folder):
        raise BadInput(N_("is a link to a file outside the item folder; refused"), ITEM_FILE,
                       N_("put the item's own metadata file in its folder"))
    if source.exists() or source.is_symlink():
        data, where = _read_toml(source), ITEM_FILE
        meant = unknown_keys(data, where, also=(RESCAN,))
        if csv_row is not None and not csv_row.unread:
            faults += _disagreements(data, csv_row)
    elif csv_row is not None and csv_row.unread:
        raise BadInput(N_("no item metadata: {reason}", reason=csv_row.unread), BATCH_CSV,
                       N_("save {batch_csv} as UTF-8 text (or add {item_file} to the item folder) and run again",
                          batch_csv=BATCH_CSV, item_file=ITEM_FILE))
    elif csv_row is not None:
        data, where = csv_row.values, csv_row.where
        meant = unknown_keys(data, where, also=("folder",))
        if csv_row.also:
            differ = f" differing in {', '.join(csv_row.differ)}" if csv_row.differ else ""
            faults.append(BadInput(
                f"the folder has {len(csv_row.also) + 1} rows in {BATCH_CSV} (lines "
                f"{', '.join(map(str, (csv_row.line, *csv_row.also)))}){differ}; which one is right is not known, "
                "so none is used", where, "keep one row per item folder and run again"))
        for clash in csv_row.clashes:
            faults.append(BadInput(f"{clash}; which one is right is not known", where,
                                   "keep each column once in the header and run again"))
        if csv_row.extra:
            faults.append(BadInput(
                f"the row has {csv_row.extra} more value(s) than {BATCH_CSV} has columns (a comma inside an "
                "unquoted value?); its values may be in the wrong columns", where,
                'put "quotes" around values holding a comma and run again'))
    else:
        raise BadInput(N_("no item metadata"), None,
                       N_("add {item_file} to the item folder or a row to the batch's {batch_csv}",
                          item_file=ITEM_FILE, batch_csv=BATCH_CSV))
    faults[:0] = [fault for _, _, fault in meant]
    said = {near for _, near, _ in meant}  # a field an unknown key was meant to be: said once, by that key
    data = {k: v for k, v in data.items() if k in ItemMetadata.model_fields}
    data = {**(defaults or {}), **{k: v for k, v in data.items() if not _empty(v)}}
    library = data.get("library")
    if isinstance(library, str):
        data = {**(library_defaults or {}).get(library, {}), **data}
    meta = None
    try:
        meta = ItemMetadata.model_validate(data)
    except ValidationError as exc:
        faults += [value_fault(error, where, where != ITEM_FILE) for error in exc.errors()
                   if not (error["type"] == "missing" and error["loc"][:1] and
                           (error["loc"][0] in said or error["loc"][0] == "access"))]
    if "access" not in data and "access" not in said:
        faults.append(BadInput(N_("the item's access is not stated"), where, N_(
            'add access = "open", "restricted" or "secret" (or set a default for the library {library} in '
            "{libraries}); nothing is published without it", library=library, libraries=LIBRARIES) if library else N_(
            'add access = "open", "restricted" or "secret" (or set a default for its library in {libraries}); '
            "nothing is published without it", libraries=LIBRARIES)))
    if profile_for is not None and isinstance(data.get("profile"), str) and data["profile"]:
        try:
            profile_for(ItemMetadata.model_construct(profile=data["profile"]))
        except DigitizeError as exc:
            faults.append(BadInput(exc.words.what, where, exc.words.todo))
    if faults:
        raise MetadataFaults(faults)
    return meta


def _empty(value) -> bool:
    """A value that states nothing: none, or only spaces (a title of spaces is no title)."""
    return value is None or isinstance(value, str) and not value.strip()


def _disagreements(data: dict, row: CsvRow) -> list[BadInput]:
    """Where item.toml and the folder's row of items.csv both state a field and differ: which one is
    right is not known, so the item is refused rather than either (or the more open one) chosen."""
    found = []
    for key, value in data.items():
        other = row.values.get(key)
        if key in ItemMetadata.model_fields and not _empty(value) and not _empty(other) \
                and nfc(str(value).strip()) != nfc(other.strip()):
            shown = f" ({value!r} in {ITEM_FILE}, {other.strip()!r} in {row.where})" if key in SHOWN_VALUES else ""
            found.append(BadInput(
                f"{ITEM_FILE} and {row.where} both describe this item and differ in {key}{shown}; which one is "
                "right is not known", ITEM_FILE,
                f"keep the item's metadata in one place ({ITEM_FILE} or its row of {BATCH_CSV}) and run again"))
    return found


def _read_toml(source: Path) -> dict:
    if not source.is_file():
        raise BadInput(N_("is not a regular file (a folder, a pipe or a device)"), ITEM_FILE,
                       N_("replace it with the item's metadata as a TOML text file"))
    try:
        return tomllib.loads(source.read_text(encoding="utf-8-sig"))  # Notepad writes a byte-order mark
    except UnicodeDecodeError:
        raise BadInput(N_("item metadata is not UTF-8 text"), ITEM_FILE,
                       N_("save item.toml as UTF-8 and run again")) from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(N_("item metadata cannot be read: {error}", error=exc), ITEM_FILE,
                       N_('fix the TOML syntax (key = "value", one per line) and run again')) from None
    except OSError as exc:
        raise BadInput(N_("item metadata cannot be opened: {error}", error=exc.strerror), ITEM_FILE,
                       N_("check the file's permissions (the service user must be able to read it)")) from None


def read_rescan(folder: Path) -> list[int] | None:
    """The pages of a stored item that this folder's page files replace (item.toml's
    ``[rescan] replaces = [2, 5]``, in the order of the files), or None for an item made whole."""
    source = folder / ITEM_FILE
    if not source.is_file():
        return None
    table = _read_toml(source).get(RESCAN)
    if table is None:
        return None
    todo = ("write the table as [rescan] with replaces = [2, 5]: the numbers of the stored item's pages that the "
            "new scans in this folder replace, in the order of their file names")
    if not isinstance(table, dict):
        raise BadInput("'rescan' is not a table", ITEM_FILE, todo)
    unknown = [key for key in table if key != "replaces"]
    if unknown:
        raise BadInput(f"unknown key '{unknown[0]}' in [rescan] (its only key is 'replaces')", ITEM_FILE, todo)
    pages = table.get("replaces")
    if not isinstance(pages, list) or not pages or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in pages):
        raise BadInput("[rescan] replaces must list page numbers (1 and up), e.g. [2, 5]", ITEM_FILE, todo)
    twice = sorted({n for n in pages if pages.count(n) > 1})
    if twice:
        raise BadInput(f"[rescan] replaces names page {', '.join(map(str, twice))} more than once", ITEM_FILE, todo)
    return pages


def plan_item(folder: Path, batch: Path, csv_row: CsvRow | dict | None, profile_for, max_pixels: int,
              defaults: dict | None = None, library_defaults: dict[str, dict] | None = None,
              scanner: malware.Scanner | None = None) -> ItemPlan:
    """Validate one item folder. ``profile_for(meta)`` gives the material profile to check with;
    ``defaults``, then ``library_defaults`` of the item's library, fill the metadata fields the
    item leaves empty. With a ``scanner``, every file of the folder is scanned for malware before
    any is decoded; a file with malware is not read at all."""
    plan = ItemPlan(folder=folder, label=shown_name(folder.name))
    if nfc(folder.name) != folder.name:
        plan.problem(N_("folder name is in decomposed Unicode (NFD); it is recorded in its NFC form"),
                     severity="warning")
    if folder.is_symlink() and not inside(folder, batch):
        plan.problem(N_("the item folder is a link to a folder outside the batch; refused (nothing was read "
                        "or copied from it)"))
        return plan
    try:
        os.listdir(folder)  # another user's upload (mode 0700) fails here alone, not the whole batch
        plan.meta = read_item_metadata(folder, csv_row, defaults, library_defaults, profile_for)
    except OSError as exc:
        plan.problem(N_("the item folder cannot be read ({error}); nothing in it was read. Give the user digitize "
                        "runs as read access to it (for example chmod -R o+rX on the folder, or make that user "
                        "its owner) and run again", error=exc.strerror or exc))
        return plan
    except BadInput as exc:
        for fault in getattr(exc, "faults", [exc]):
            # the item's own metadata file is set aside with its faults; its pages are only named
            plan.problem(fault.words.without_where(), file=fault.where,
                         path=folder / ITEM_FILE if fault.where == ITEM_FILE else None)
        return plan
    plan.label = plan.meta.id
    try:
        plan.replaces = read_rescan(folder)
    except BadInput as exc:
        plan.problem(exc.words.without_where(), file=ITEM_FILE, path=folder / ITEM_FILE)
        return plan
    try:
        profile = profile_for(plan.meta)
        files = pagefiles.in_order(folder)
    except DigitizeError as exc:  # e.g. an unknown profile named in the metadata
        plan.problem(exc.words, file=ITEM_FILE)
        return plan
    except OSError as exc:
        plan.problem(N_("item folder cannot be read ({error}); check its permissions", error=exc.strerror))
        return plan
    checks = malware.scan_item(scanner, files, batch, plan.problem) if scanner is not None else {}
    plan.scans = list(checks.values())
    files = [path for path in files if path not in checks or checks[path].outcome != malware.INFECTED]
    found = pagefiles.page_files(files, batch, profile, max_pixels, plan.meta.dpi, plan.problem, IGNORED_FILES)
    resolution.share_estimate([frame["resolution"] for file in found for frame in file.frames])
    resolutions = []
    for file in found:
        try:
            warnings = pagefiles.judge_frames(file.frames, profile)
        except BadInput as exc:
            plan.problem(exc.words, file=file.name, path=file.path)
            continue
        for warning in warnings:
            plan.problem(warning, file=file.name, severity="warning")
        for frame in file.frames:
            label = file.name if len(file.frames) == 1 else f"{file.name}#{frame['frame'] + 1}"
            res = frame["resolution"]
            resolutions.append((label, res))
            plan.pages.append(PageSource(number=len(plan.pages) + 1, path=file.path, frame=frame["frame"],
                                         name=label, sha256=file.sha256, size=file.path.stat().st_size,
                                         dpi=res.dpi, dpi_tag=res.tag, dpi_method=res.method,
                                         dpi_estimate=res.estimate, dpi_note=res.note(), width=frame["width"],
                                         height=frame["height"], mode=frame["mode"], format=frame["format"],
                                         text_source=frame.get("text_source", "ocr"),
                                         identified=file.identified,
                                         virus_check=checks.get(file.path)))
    for name, warning in resolution.estimate_warnings(resolutions):
        plan.problem(warning, file=name, severity="warning")
    if not plan.pages and not any(p.severity == "error" for p in plan.problems):
        plan.problem(N_("no page images found (TIFF, JPEG, PNG, JPEG 2000 or PDF)"))
    elif plan.replaces is not None and plan.pages and len(plan.pages) != len(plan.replaces):
        plan.problem(f"the folder holds {len(plan.pages)} page images but [rescan] replaces {len(plan.replaces)} "
                     f"pages ({', '.join(map(str, plan.replaces))}); nothing of it is run. Put one new scan per "
                     "replaced page in the folder (file names in the order of the list) or correct the list",
                     file=ITEM_FILE)
    if not plan.ok:
        # an item that already failed is not processed, so its remaining pages are decoded now:
        # the operator learns about every damaged file in one run
        for path, reason in pagefiles.decode_all(list(dict.fromkeys(page.path for page in plan.pages)), profile,
                                                 max_pixels):
            plan.problem(reason, file=nfc(path.name), path=path)
    return plan
