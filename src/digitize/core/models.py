"""Pydantic models shared by every module: profiles, item metadata, page and item records."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from digitize.core import pronom, rights
from digitize.core.i18n import Reason, Text
from digitize.core.languages import language_code

SAFE_ID = re.compile(r"^[^\W_][\w.\-]{0,127}$")  # never '_' or '.' first: the store's own folders (_versions)
# C0 and C1 control characters that XML 1.0 cannot hold (tab, line feed and carriage return it can);
# Word pastes \x0b for a line break, so each becomes a space
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(value: str) -> str:
    """NFC, with control characters turned into spaces."""
    return CONTROL.sub(" ", unicodedata.normalize("NFC", value))


class Status(str, Enum):
    """Where an item stands after a run."""

    ok = "ok"
    failed = "failed"
    waiting = "waiting"  # done, waiting for storage


class Severity(str, Enum):
    error = "error"
    warning = "warning"


class Category(str, Enum):
    dia_chi = "dia_chi"
    rare = "rare"
    endogenous = "endogenous"
    other = "other"


TIERS = ("provincial", "district", "specialized", "school", "armed_forces", "public")  # of libraries


class Access(str, Enum):
    open = "open"
    restricted = "restricted"
    secret = "secret"


class Preprocessing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orientation: bool = True
    deskew: bool = True
    crop: bool = True
    normalize: bool = True
    # Tesseract's LSTM reads the normalised grey better than any binarisation we give it (faded
    # pages: 0.24% against 0.91% CER), so by default it gets grey and thresholds it itself (Otsu
    # on a flattened background); our adaptive binarisation still drives the geometry.
    binarize: bool = False
    cleanup: int = Field(1, ge=1, le=2, description="1 = light, 2 = stronger denoising for old print")
    # Tesseract reads every text line scaled to 36 pixels high, so the OCR image can be reduced to
    # about this line pitch (pixels) and its layout analysis gets faster. Measured on 24 generated
    # A4 pages at 300 dpi: 30 is 8-10 % faster than 36 at the same CER (0.20-0.30 %); 26-28 are
    # faster still but start to lose diacritics.
    # 0 keeps the full resolution (vertical scripts, where rows are not lines).
    ocr_line_height: int = Field(30, ge=0)


class Reading(BaseModel):
    """How the pages of one writing direction are read: Tesseract languages and page segmentation."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(min_length=1, description="Tesseract language codes, in order")
    page_segmentation: int = Field(ge=0, le=13, description="Tesseract --psm")


class Profile(BaseModel):
    """A material profile: how one kind of material is checked, cleaned and read."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    languages: list[str] = Field(min_length=1, description="Tesseract language codes, in order")
    min_dpi: int = Field(200, ge=50, description="national scanning rule: at least 200 dpi")
    dpi_policy: str = Field("error", pattern="^(error|warn)$",
                            description="what a missing or too low resolution is")
    page_segmentation: int = Field(3, ge=0, le=13, description="Tesseract --psm")
    needs_transcription: bool = Field(False, description="OCR text is only a draft for human transcription")
    jpeg_quality: int = Field(85, ge=30, le=100, description="quality of the page images in the PDF")
    preprocessing: Preprocessing = Preprocessing()
    direction: str = Field("horizontal", pattern="^(auto|horizontal|vertical)$",
                           description="writing direction: horizontal lines, vertical columns, or auto (decided "
                                       "per page from its layout)")
    # how pages found in the one or the other direction are read, where it differs from `languages` and
    # `page_segmentation` (han-nom: chi_tra_vert for columns, chi_tra alone for lines)
    horizontal: Reading | None = None
    vertical: Reading | None = None
    correct_diacritics: bool = Field(True, description="correct Vietnamese words that OCR misread only in "
                                     "their diacritics (profiles whose languages include vie)")
    review_above: float | None = Field(None, ge=0, le=1, description="list a page 'to review' when more than "
                                       "this share of its words are not Vietnamese syllables")
    pdf_text: str = Field("auto", pattern="^(auto|keep|replace)$",
                          description="a PDF page's own text: auto keeps text drawn on the page (born digital) and "
                                      "reads scanned pages by OCR again; keep keeps any text layer; replace reads "
                                      "every page by OCR (digitize.capture.pdfsource)")
    formats: list[str] = Field(list(pronom.ACCEPTED), min_length=1,
                               description="the file formats an item may be given in: families (TIFF, JPEG, PNG, "
                                           "JPEG 2000, PDF) or PRONOM identifiers (fmt/353)")

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        return pronom.check_names(value)

    @property
    def tesseract_lang(self) -> str:
        return "+".join(self.languages)

    def reading(self, direction: str) -> Reading:
        """The languages and page segmentation for a page written in ``direction``."""
        return getattr(self, direction, None) or Reading(languages=self.languages,
                                                          page_segmentation=self.page_segmentation)

    @property
    def all_languages(self) -> list[str]:
        """Every language the profile may read a page with (for the check before a run)."""
        found = list(self.languages)
        for reading in (self.horizontal, self.vertical):
            found += [lang for lang in (reading.languages if reading else []) if lang not in found]
        return found


class ItemMetadata(BaseModel):
    """What the operator tells us about one item (book, volume), from item.toml or items.csv. An
    unknown key is an error (a misspelt `access` must never leave an item open), and access has
    no default here: the item states it, or its library's defaults (libraries.toml) do."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    title: str
    creator: str = ""
    date: str = ""
    call_number: str = ""
    control_number: str = ""  # the catalogue record's 001, to match a MARC record
    library: str
    category: Category = Category.other
    access: Access
    language: str = "vie"
    profile: str | None = None
    # the scan resolution, when the files record none or a wrong one (scanner software writes 72 or 96)
    dpi: int | None = Field(None, ge=50, le=4800)
    # where no catalogue record describes the item: its publication and extent as the title page
    # and the object say (e.g. "Nxb. Văn học", "Hà Nội", "240 tr. ; 21 cm")
    publisher: str = ""
    place: str = ""
    extent: str = ""
    # a RightsStatements.org or Creative Commons URI (digitize.core.rights), or its library's default
    rights: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _nfc(cls, value):
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("id", "library")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SAFE_ID.match(value) or ".." in value:
            raise ValueError(
                f"{value!r} is not usable as a folder name: use letters, digits, '.', '-' or '_', starting "
                "with a letter or digit (no slashes, no '..'; names starting with '_' are the store's own)")
        return value

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        return language_code(value)  # "tiếng Việt" is recorded as vie; an unknown language is refused

    @field_validator("rights")
    @classmethod
    def _rights_uri(cls, value: str) -> str:
        return rights.canonical(value) if value else value


class Name(BaseModel):
    """A person or body responsible for the item."""

    name: str
    kind: str = Field("personal", pattern="^(personal|corporate)$")
    role: str = "creator"  # MARC relator term (author, editor, translator, ...) or creator/contributor
    primary: bool = False  # main entry (MARC 100/110) rather than an added entry (700/710)


class Description(BaseModel):
    """Descriptive metadata of an item, from its catalogue record (MARC21) or its item metadata;
    the source of its MODS and Dublin Core. All text NFC."""

    title: str
    subtitle: str = ""
    responsibility: str = ""  # statement of responsibility (245 $c)
    names: list[Name] = []
    place: str = ""  # place of publication
    publisher: str = ""
    date: str = ""  # as the record gives it, e.g. "1866" or "[1923?]"
    date_w3cdtf: str = ""  # the same as YYYY, YYYY-MM or YYYY-MM-DD where it can be read
    languages: list[str] = ["vie"]  # ISO 639-2/B codes
    extent: str = ""  # e.g. "120 tr. ; 21 cm"
    notes: list[str] = []
    subjects: list[str] = []  # topical subjects (650), subdivisions joined with " -- "
    places: list[str] = []  # geographic names (651 $a, 650/651 $z): coverage for địa chí
    periods: list[str] = []  # chronological subdivisions (650/651 $y)
    call_number: str = ""
    control_number: str = ""  # MARC 001
    links: list[str] = []  # 856 $u
    rights: str = ""  # a RightsStatements.org or Creative Commons URI (digitize.core.rights)

    @field_validator("*", mode="before")
    @classmethod
    def _nfc(cls, value):
        if isinstance(value, str):
            return clean_text(value)
        if isinstance(value, list):
            return [clean_text(v) if isinstance(v, str) else v for v in value]
        return value


class FileFormat(BaseModel):
    """A file's format as PRONOM identifies it (digitize.capture.formats): recorded in the METS."""

    puid: str = ""  # PRONOM identifier, "" when nothing matched
    name: str = ""  # PRONOM's name of the format
    version: str = ""
    basis: str = "signature"  # signature (the content) | extension (no signature matched) | none
    expected: str = ""  # what the file's extension promises when the content contradicts it, e.g. "TIFF"


class VirusCheck(BaseModel):
    """The malware scan of one original file at intake (digitize.capture.malware): clean, infected
    (with the signature's name) or not scanned (with the reason), and the scanner that said so."""

    file: str  # as reports show its name
    outcome: str  # clean | infected | not scanned
    date: str  # ISO date-time of the scan
    program: str = "ClamAV"
    engine: str = ""  # the engine's version, e.g. 1.4.6
    signatures: str = ""  # the signature database's version
    signature_date: str = ""  # ISO date-time the signature database was built
    signature: str = ""  # the malware found
    reason: str = ""  # why the file was not scanned


class MalwareScan(BaseModel):
    """What a run's malware scan did, for its summary and the coordinators' dashboard."""

    policy: str  # required | best-effort
    program: str = "ClamAV"
    engine: str = ""
    signatures: str = ""
    signature_date: str = ""
    scanned: int = 0  # files scanned (clean or infected)
    infected: int = 0
    not_scanned: dict[str, int] = {}  # files not scanned, by reason
    note: str = ""  # what the operator should know about the scanner (signatures too old)
    finished: str = ""  # ISO date-time of the run's end


class PageSource(BaseModel):
    """One page as found on disk: a file, or one frame of a multi-page TIFF."""

    number: int  # 1-based order within the item
    path: Path
    frame: int = 0
    name: str  # NFC file name as shown to people (with '#frame' for multi-page files)
    sha256: str
    size: int
    dpi: int  # the resolution used (see dpi_method)
    dpi_tag: int | None = None  # what the file records, if believable
    dpi_method: str = "tag"  # tag | stated | estimated from ... | assumed (the profile's minimum)
    dpi_estimate: int | None = None  # estimated from this page's own size and text lines
    dpi_note: str = ""  # what was wrong with the file's resolution, and what the estimate was made from
    width: int = 0  # pixels of the master image
    height: int = 0
    mode: str = ""  # Pillow's name of its colour mode (1, L, I;16, RGB, ...)
    format: str = ""  # Pillow's name of its file format (TIFF, JPEG, PNG, JPEG2000), or PDF
    text_source: str = "ocr"  # ocr | pdf: a PDF page's own text kept (the profile's pdf_text)
    identified: FileFormat | None = None  # its file's format as PRONOM signatures identify it
    virus_check: VirusCheck | None = None  # its file's malware scan at intake

    @property
    def file_name(self) -> str:
        return self.name.split("#")[0]


class FileFacts(BaseModel):
    """Size and SHA-256 of a file, taken when it was written."""

    size: int
    sha256: str


class PageRecord(BaseModel):
    """The processing record of one page, written next to its outputs."""

    number: int
    source: str
    source_sha256: str
    frame: int = 0
    width: int
    height: int
    dpi: int
    dpi_tag: int | None = None  # as PageSource
    dpi_method: str = "tag"
    dpi_estimate: int | None = None
    mode: str
    orientation: int
    skew: float
    crop: tuple[int, int, int, int]
    line_height: float | None = None  # median text line height, pixels
    ocr_scale: float = 1.0  # the image Tesseract read was the page image times this
    direction: str = "horizontal"  # read as horizontal lines or vertical columns (Han script)
    confidence: float | None
    words: int
    corrections: int = 0  # words whose diacritics were corrected after OCR (the ALTO keeps what OCR read)
    not_syllables: float | None = None  # share of words that are not Vietnamese syllables (Vietnamese only)
    blank: bool = False  # no ink on the page: not read by OCR, empty text and ALTO
    text_source: str = "ocr"  # as PageSource: "pdf" when a PDF page's own text was kept (not OCR)
    dark: float = 0.0  # share of the page image that is (nearly) black: a lens cap or a failed lamp at 1.0
    text_file: str
    alto_file: str
    image_file: str
    timings: dict[str, float]
    processed: str = ""  # ISO date-time the page was processed
    tools: dict[str, str]
    outputs: dict[str, FileFacts] = {}  # the page's text and ALTO (paths in the item folder) as written


class Problem(BaseModel):
    """Something wrong with an input file or item, in words an operator can act on. Made with a
    translatable ``reason`` (a Text or Reason, digitize.core.i18n), it keeps the English words in
    ``reason`` and the parts a catalogue translates in ``translatable``."""

    item: str
    file: str | None = None
    reason: str
    severity: Severity = Severity.error
    path: Path | None = Field(None, exclude=True)  # the file on disk, for the quarantine copy
    translatable: Reason | None = None

    @model_validator(mode="before")
    @classmethod
    def _translatable_reason(cls, data):
        if isinstance(data, dict) and isinstance(data.get("reason"), (Text, Reason)):
            words = data["reason"] if isinstance(data["reason"], Reason) else Reason(what=data["reason"])
            data = {**data, "reason": str(words), "translatable": words}
        return data

    def reason_in(self, lang: str) -> str:
        """The reason in ``lang`` (English where it was not written translatable)."""
        return self.reason if self.translatable is None else self.translatable.in_language(lang)


class ItemResult(BaseModel):
    item_id: str
    library: str
    folder: str = ""  # the item's folder in the batch, as reports show its name
    secret: bool = False  # a secret item: never named in anything others may see (logs, Prefect, artifacts)
    status: Status
    stored: str | None = None  # where the item was stored and verified
    pages: int = 0
    mean_confidence: float | None = None
    not_syllables: float | None = None  # share of the item's words that are not Vietnamese syllables
    pdf: str | None = None
    output_dir: str | None = None
    seconds: float = 0.0
    problems: list[Problem] = []
    folder: str = ""  # the item's folder in the batch, as reports show it (two rows of one id told apart)
    already_done: bool = False  # finished by an earlier run and left as it was by this one
    quarantine: str | None = None  # the folder its bad files were copied to, with the reasons
    # pages whose image is new in this version of a stored item (a rescan): the item goes back in review
    replaced_pages: list[int] = []


class BatchSummary(BaseModel):
    batch: str
    started: datetime
    finished: datetime
    items: list[ItemResult]
    problems: list[Problem]  # batch-level problems (items that could not even be read)
    first_page: datetime | None = None  # when the first page was handed to a worker
    stopped: str | None = None  # why the run stopped before its end (a fault of the environment)
    stop_code: int = 0  # the exit code of that fault
    not_done: list[str] = []  # items the stop left for the next run
    report: str | None = None  # the run's JSON report (out/_reports/...)
    quarantine: str | None = None  # where this run copied what failed (out/_quarantine/<batch>)
    left_quarantine: dict[str, str] = {}  # item id: where its quarantine entry went (.resolved), now it passed
    malware: MalwareScan | None = None  # the malware scan of the originals at intake

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(i.status == Status.ok for i in self.items) and not any(
            p.severity == Severity.error for p in self.problems)


class FileEntry(BaseModel):
    """One file of an item's package, as listed in its METS fileSec."""

    id: str
    use: str  # master | access | alto | text
    href: str  # relative to the METS file, or a storage URL
    mimetype: str
    size: int
    sha256: str
    created: str = ""  # ISO date-time
    format: FileFormat | None = None  # PRONOM identification (in the METS as the file's PREMIS object)


class PageImage(BaseModel):
    """One page of the physical item: where its master is and what it is like."""

    number: int
    label: str
    master: str  # FileEntry id of the master file
    frame: int = 0  # frame of a multi-page master
    width: int
    height: int
    dpi: int
    dpi_tag: int | None = None  # as PageSource; in the METS only when the tag was not used
    dpi_method: str = "tag"
    mode: str  # colour mode of the master, as Pillow names it (1, L, I;16, RGB, ...)
    format: str  # TIFF, JPEG, PNG, JPEG2000
    alto: str | None = None  # FileEntry ids
    text: str | None = None
    image: str | None = None  # the page as shown (upright, cropped JPEG): the PDF's page and the IIIF image
    image_width: int | None = None  # its size in pixels (the master's is width x height)
    image_height: int | None = None
    blank: bool = False  # a blank page (no ink): its text and ALTO are empty
    direction: str = "horizontal"  # as PageRecord: "vertical" pages (Han columns) read right to left
    not_syllables: float | None = None  # as PageRecord


class Agent(BaseModel):
    id: str
    name: str
    kind: str  # software | organization
    version: str = ""


class Event(BaseModel):
    """A PREMIS event: something done to the item or its files, and how it went."""

    id: str
    type: str  # PREMIS event type: ingestion, fixity check, validation, modification, creation, ...
    date: str  # ISO date-time
    detail: str
    outcome: str  # success | failure | warning
    outcome_detail: str = ""
    agents: list[str] = []  # Agent ids
    objects: list[str] = []  # FileEntry ids


class ItemPackage(BaseModel):
    """Everything an item's METS document says; written and read back by digitize.describe.mets."""

    item_id: str
    library: str
    category: Category
    access: Access
    created: str  # ISO date-time
    description: Description
    agents: list[Agent]
    files: list[FileEntry]
    pages: list[PageImage]
    events: list[Event]


class StoredManifest(BaseModel):
    """An item's objects in the store (stored.json, stored last): what the audit re-reads and the
    exports copy, each with the size and SHA-256 it was stored with."""

    store: str  # the item's URL in the store
    objects: dict[str, FileFacts]  # by path in the item


class ItemRecord(BaseModel):
    """The run's own record of a finished item (item.json, kept beside the outputs, not stored):
    what the store step and a later run need without reading the outputs again."""

    metadata: ItemMetadata
    profile: str
    needs_transcription: bool = False
    result: ItemResult
    pages: list[PageRecord]
    package: ItemPackage  # the METS content, but for the storage event
    identifiers: list[str]
    outputs: dict[str, FileFacts]  # every file to store but the METS, by path in the item
    stored: StoredManifest | None = None
    new_version: bool = False  # its metadata changed after it was stored: store it as a new version


class InboxOutcome(str, Enum):
    """What a nightly run did with one batch of the inbox."""

    done = "done"  # taken: every item stored
    failed = "failed"  # taken: some item not stored; looked at again the next night
    changed = "changed"  # taken, but its files changed during the run: not done; looked at again
    stopped = "stopped"  # taken: the run stopped on a fault of the environment; the rest the next night
    skipped = "skipped"  # not run: a setting or the batch folder is wrong (``why``)
    arriving = "arriving"  # still being copied: left for the next night
    busy = "busy"  # another run holds its lock: left to that run
    done_earlier = "done-earlier"  # done on an earlier night and unchanged since


class InboxEntry(BaseModel):
    """One batch of the inbox as a nightly run left it. It is published (logs, Prefect artifact):
    the batch's folder name is its only name, and no secret item is named."""

    batch: str
    outcome: InboxOutcome
    files: int = 0
    last_change: datetime | None = None  # when a file of the batch last arrived or changed
    quiet_needed: float = 0.0  # seconds without change the batch needs before it is taken
    ready: str = "absent"  # the READY file: absent | stale (older than a file of the batch) | fresh
    done_before: datetime | None = None  # done on that night; done_earlier, or changed since then
    items: int = 0
    stored: int = 0
    not_stored: list[str] = []  # the ids of the items not stored, but secret ones
    secret_not_stored: int = 0  # how many secret items were not stored (never named)
    why: str = ""  # the engine's reason (busy, skipped)
