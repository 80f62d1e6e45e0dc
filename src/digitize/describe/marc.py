"""Catalogue records: read MARC21 (binary or MARCXML), find an item's record, and crosswalk it to
a Description (the source of the item's MODS and Dublin Core); and write a MARC21 record of a
digitized item from its stored METS package (for the union catalogue).

All text comes out NFC with the ISBD punctuation that closes a MARC subfield (" /", " :", " ;",
" =", ",", ".") removed.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from xml.sax import SAXParseException

from pymarc import MARCReader, Record
from pymarc.exceptions import EndOfRecordNotFound, RecordLengthInvalid, TruncatedRecord
from pymarc.marcxml import MARC_XML_NS, XmlHandler, parse_xml

from digitize.core import rights
from digitize.core.errors import BadInput
from digitize.core.files import nfc
from digitize.core.links import PublicLinks
from digitize.core.models import Description, ItemPackage, Name

EXPORT_AGAIN = "export the catalogue again from the library system, as MARC21 (UTF-8) or MARCXML"

RELATOR_CODES = {
    "aut": "author", "edt": "editor", "trl": "translator", "com": "compiler", "cre": "creator",
    "ctb": "contributor", "ill": "illustrator", "pht": "photographer", "ann": "annotator",
    "cmm": "commentator", "aui": "author of introduction", "pbl": "publisher", "isb": "issuing body",
    "ctg": "cartographer",
}

# tag: (kind, primary)
NAME_TAGS = {"100": ("personal", True), "110": ("corporate", True),
             "700": ("personal", False), "710": ("corporate", False)}

# Abbreviations whose final full stop is part of the word, not ISBD punctuation ("120 tr.", "Nxb.").
ABBREVIATIONS = {"tr", "nxb", "tp", "tx", "tb", "xb", "co", "inc", "ltd", "corp", "jr", "sr", "etc",
                 "ed", "eds", "vol", "p", "pp", "ill", "col", "ca"}

# In 300, the ISBD mark that comes before each subfield after $a (supplied when a record has none).
EXTENT_MARKS = {"b": ":", "c": ";", "e": "+"}

YEAR = re.compile(r"(?<![0-9])[0-9]{4}(?![0-9])")


# --- reading ---------------------------------------------------------------------------------

def read_records(path: Path) -> list[Record]:
    """All records of a catalogue file: binary MARC21 (.mrc, .marc) or MARCXML (.xml, .marcxml).

    The format is taken from the content (XML starts with "<"), so a misnamed file still reads.
    Raises BadInput naming the file (and the record, 1-based) when something cannot be read.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"the catalogue file cannot be opened ({exc.strerror})", str(path),
                       "check the path of the catalogue file") from exc
    # trailing line ends, NULs or ^Z after the last record are left by some export tools
    data = data.rstrip(b" \t\r\n\x00\x1a")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        records = _read_xml(data, path.name)
    else:
        records = _read_binary(data, path.name)
    if not records:
        raise BadInput("no MARC records in the file", path.name, EXPORT_AGAIN)
    return records


def _read_binary(data: bytes, name: str) -> list[Record]:
    reader = MARCReader(io.BytesIO(data), to_unicode=True, utf8_handling="strict",
                        hide_utf8_warnings=True)
    records = []
    for number, record in enumerate(reader, 1):
        chunk = reader.current_chunk
        if record is None:
            error = reader.current_exception
            if number == 1 and isinstance(error, RecordLengthInvalid):
                raise BadInput("not a MARC21 file (it does not start with a record length)", name,
                               EXPORT_AGAIN)
            raise BadInput(_record_error(error), f"{name} record {number}", EXPORT_AGAIN)
        if record.leader[9] != "a" and not chunk.isascii() and _is_utf8(chunk):
            # The leader says MARC-8 but the bytes are UTF-8, a common export mistake. Real MARC-8
            # text is practically never valid UTF-8 (its non-ASCII bytes are not UTF-8 sequences).
            record = Record(chunk, force_utf8=True)
        records.append(record)
    return records


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _record_error(error: Exception | None) -> str:
    if isinstance(error, TruncatedRecord):
        return "the record is cut short (the file is truncated or damaged)"
    if isinstance(error, RecordLengthInvalid):
        return "the record does not start with a record length (the file is damaged)"
    if isinstance(error, EndOfRecordNotFound):
        return "the record does not end where its length says (the file is damaged)"
    if isinstance(error, UnicodeDecodeError):
        return (f"the text is not valid UTF-8 although the record says it is (byte "
                f"0x{error.object[error.start]:02X}); it may be in an old Vietnamese encoding "
                f"(TCVN3, VNI)")
    return f"the record cannot be read ({error or 'unknown error'})"


class NotACatalogue(BadInput):
    """An XML file beside the items that is not MARCXML at all (notes, an HTML page): not a
    catalogue, so left out with a notice rather than counted as a damaged one."""


class _CountingHandler(XmlHandler):
    """pymarc's MARCXML handler, counting the records started so errors can name one, and noting
    the root element."""

    started = 0
    root: str | None = None

    def startElementNS(self, name, qname, attrs):
        if self.root is None:
            self.root = name[1] if name[0] in (MARC_XML_NS, None) and name[1] in ("collection", "record") else (
                qname or name[1])
        if name[1] == "record" and name[0] in (MARC_XML_NS, None):
            self.started += 1
        super().startElementNS(name, qname, attrs)


def _read_xml(data: bytes, name: str) -> list[Record]:
    handler = _CountingHandler()
    try:
        parse_xml(io.BytesIO(data), handler)
    except Exception as exc:  # SAX errors, a missing tag/code attribute, a bad leader
        if handler.root not in (None, "collection", "record"):
            raise _not_a_catalogue(handler.root, name) from exc
        inside = handler.started > len(handler.records)
        where = f"{name} record {handler.started}" if inside else name
        if isinstance(exc, SAXParseException):
            what = f"not well-formed XML at line {exc.getLineNumber()} ({exc.getMessage()})"
        elif isinstance(exc, KeyError):
            attribute = exc.args[0][-1] if isinstance(exc.args[0], tuple) else exc.args[0]
            what = f"a MARCXML field or subfield lacks its '{attribute}' attribute"
        else:
            what = f"the record cannot be read ({exc})"
        raise BadInput(what, where, EXPORT_AGAIN) from exc
    if not handler.records and handler.root not in (None, "collection", "record"):
        raise _not_a_catalogue(handler.root, name)
    return handler.records


def _not_a_catalogue(root: str, name: str) -> NotACatalogue:
    return NotACatalogue(f"no MARC records in the file: it is XML whose root element is <{root}>, not MARCXML "
                         "(<collection> or <record>); left out, not read as a catalogue", name,
                         "nothing to do if it is not a catalogue; move it out of the batch folder to silence this")


# --- crosswalk -------------------------------------------------------------------------------

def describe(record: Record) -> Description:
    """The Description of a catalogue record (MARC21 bibliographic)."""
    title = _first(record, "245")
    place, publisher, date = _publication(record)
    subjects, places, periods = [], [], []
    for field in record.get_fields("650", "651"):
        heading = [_trim(v) for v in _values(field, "a", "x", "v")]
        if field.tag == "650":
            subjects.append(" -- ".join(heading))
        else:
            places += [_trim(v) for v in _values(field, "a")]
            # a place heading with topical subdivisions ("Hải Dương -- Lịch sử") is a subject too
            if _values(field, "x", "v"):
                subjects.append(" -- ".join(heading))
        places += [_trim(v) for v in _values(field, "z")]
        periods += [_trim(v) for v in _values(field, "y")]
    names = [name for field in record.get_fields(*NAME_TAGS) if (name := _name(field))]
    return Description(
        # $n/$p (number/name of part, "Tập 1") belong to the title
        title=". ".join(_trim(v) for v in _values(title, "a", "n", "p")),
        subtitle=_trim(" ".join(_values(title, "b"))),
        responsibility=_trim(" ".join(_values(title, "c"))),
        names=[n for i, n in enumerate(names) if n not in names[:i]],
        place=place,
        publisher=publisher,
        date=date,
        date_w3cdtf=_year(date, _control(record, "008")),
        languages=_languages(record),
        extent="; ".join(e for f in record.get_fields("300") if (e := _extent(f))),
        notes=_unique(_trim(" ".join(_values(f, "a"))) for f in record.get_fields("500")),
        subjects=_unique(subjects),
        places=_unique(places),
        periods=_unique(periods),
        call_number=_call_number(record),
        control_number=_clean(_control(record, "001")),
        links=_unique(v for f in record.get_fields("856") for v in _values(f, "u")),
    )


def _name(field) -> Name | None:
    kind, primary = NAME_TAGS[field.tag]
    text = _trim(" ".join(_values(field, "a", "b")))  # $b: numeration or subordinate unit
    if not text:
        return None
    roles = [_trim(v) for v in _values(field, "e")] or [
        RELATOR_CODES.get(code, code) for code in map(_relator_code, _values(field, "4"))]
    role = ", ".join(_unique(roles)) or ("creator" if primary else "contributor")
    return Name(name=text, kind=kind, role=role, primary=primary)


def _relator_code(value: str) -> str:
    # $4 may hold a URI such as http://id.loc.gov/vocabulary/relators/aut
    return value.rstrip("/.").rsplit("/", 1)[-1].lower()


def _publication(record: Record) -> tuple[str, str, str]:
    fields = ([f for f in record.get_fields("264") if f.indicator2 == "1"]
              or record.get_fields("260") or record.get_fields("264"))
    if not fields:
        return "", "", ""
    field = fields[0]
    dates = _values(field, "c")
    return (" ; ".join(_trim(v) for v in _values(field, "a")),
            " ; ".join(_trim(v) for v in _values(field, "b")),
            _trim(dates[0]) if dates else "")


def _year(date: str, fixed: str) -> str:
    if found := YEAR.search(date):
        return found.group()
    if re.fullmatch(r"[0-9]{4}", fixed[7:11]):
        return fixed[7:11]
    return ""


def _languages(record: Record) -> list[str]:
    codes = [code for field in record.get_fields("041") for value in _values(field, "a")
             for code in _language_codes(value)]
    if not codes and re.fullmatch(r"[a-z]{3}", language := _control(record, "008")[35:38].lower()):
        codes = [language]
    return _unique(codes) or ["vie"]


def _language_codes(value: str) -> list[str]:
    value = value.lower().replace(" ", "")
    # before 2001 several codes could be run together in one $a ("viefre")
    if len(value) > 3 and len(value) % 3 == 0 and value.isalpha():
        return [value[i:i + 3] for i in range(0, len(value), 3)]
    return [value]


def _extent(field) -> str:
    text = ""
    for subfield in field.subfields:
        if subfield.code not in ("a", "b", "c", "e") or not (value := _clean(subfield.value)):
            continue
        mark = EXTENT_MARKS.get(subfield.code)
        if text and mark and not text.endswith(mark) and not value.startswith(mark):
            text += " " + mark
        text = f"{text} {value}".strip()
    return _trim(text)


def _call_number(record: Record) -> str:
    for tag, codes in (("852", ("h", "i")), ("090", ("a", "b"))):
        for field in record.get_fields(tag):
            if value := " ".join(_values(field, *codes)):
                return value
    return ""


# --- matching --------------------------------------------------------------------------------

def match(records: Iterable[Record], call_number: str = "", control_number: str = "") -> Record | None:
    """The record with this control number (001), else the one with this call number (852 $h $i,
    else 090 $a $b); compared NFC, whitespace folded, case-insensitive. None when neither matches."""
    records = list(records)
    for wanted, key_of in ((control_number, lambda r: _control(r, "001")), (call_number, _call_number)):
        if wanted := _key(wanted):
            for record in records:
                if _key(key_of(record)) == wanted:
                    return record
    return None


def _key(text: str) -> str:
    return _clean(text).casefold()


# --- text helpers ----------------------------------------------------------------------------

def _first(record: Record, tag: str):
    fields = record.get_fields(tag)
    return fields[0] if fields else None


def _control(record: Record, tag: str) -> str:
    """The raw data of a control field (positions matter, so nothing is cleaned)."""
    field = _first(record, tag)
    return (field.data or "") if field else ""


def _values(field, *codes: str) -> list[str]:
    """The non-empty values of these subfields, in record order, NFC and whitespace folded."""
    if field is None:
        return []
    return [value for subfield in field.subfields
            if subfield.code in codes and (value := _clean(subfield.value))]


def _clean(text: str | None) -> str:
    return unicodedata.normalize("NFC", " ".join((text or "").split()))


def _trim(text: str) -> str:
    """Text without the ISBD punctuation that ends a subfield; "...", initials and abbreviations
    ("Nxb.", "tr.", "v.v.") keep their full stop."""
    text = _clean(text)
    while True:
        before = text
        text = re.sub(r"\s*[/:;=,]$", "", text)
        if text.endswith(".") and not text.endswith("...") and not _abbreviation(text[:-1]):
            text = text[:-1].rstrip()
        if text == before:
            return text


def _abbreviation(text: str) -> bool:
    word = text.rsplit(" ", 1)[-1].lstrip("([")
    parts = word.split(".")
    if word.casefold() in ABBREVIATIONS:
        return True
    # an initial ("J.") or dotted letters ("v.v.", "U.S.A.")
    return all(p.isalpha() and len(p) <= 3 for p in parts) and (len(parts) > 1 or len(word) == 1)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


# --- writing ---------------------------------------------------------------------------------

DIGITAL_COPY = "Bản số"


def _isbd(text: str, mark: str) -> str:
    return text if not text or text.rstrip().endswith(mark.strip()) else f"{text}{mark}"


def _fixed_field(year: str, language: str, entered: date) -> str:
    year = year if len(year) == 4 and year.isdigit() else "    "
    language = (language + "   ")[:3] if language else "vie"
    # 00-05 entered, 06 type of date, 07-10 date 1, 11-14 date 2, 15-17 place (Vietnam), 18-22,
    # 23 form of item (o: online), 24-34, 35-37 language, 38 modified, 39 cataloguing source
    return (f"{entered:%y%m%d}{'s' if year.strip() else 'n'}{year}    " + "vm " + " " * 5 + "o"
            + " " * 5 + "000 0 " + language + " d")


def catalogue_record(package: ItemPackage, item, library_name: str, links: PublicLinks) -> Record:
    """A MARC21 bibliographic record (pymarc) of a digitized item, from its stored METS package.
    ``item``: the item's ledger row (library, item_id, control_number, call_number, digitized);
    856 links to its item page and its PDF/A under ``links``."""
    from pymarc import Field, Indicators, Leader, Subfield

    d = package.description
    record = Record(force_utf8=True, leader=Leader("     nam a22     7i 4500"))

    def add(tag: str, indicators: tuple[str, str], *pairs: tuple[str, str]) -> None:
        subfields = [Subfield(code, nfc(value)) for code, value in pairs if value]
        if subfields:
            record.add_ordered_field(Field(tag=tag, indicators=Indicators(*indicators), subfields=subfields))

    record.add_ordered_field(Field(tag="001", data=nfc(d.control_number or item.control_number or item.item_id)))
    record.add_ordered_field(Field(tag="003", data=item.library))
    record.add_ordered_field(Field(tag="007", data="cr |||||||||||"))
    language = d.languages[0] if d.languages else "vie"
    record.add_ordered_field(Field(tag="008", data=_fixed_field(d.date_w3cdtf[:4], language,
                                                                 (item.digitized or datetime.now()).date())))
    if len(d.languages) > 1:
        add("041", ("0", " "), *(("a", code) for code in d.languages))
    main = next((n for n in d.names if n.primary), None)
    names = [n for n in d.names if n is not main]

    def role(name) -> str:
        return "" if name.role in ("creator", "contributor") else name.role

    if main is not None:
        tag, first = ("100", "1") if main.kind == "personal" else ("110", "2")
        add(tag, (first, " "), ("a", _isbd(main.name, ",") if role(main) else _isbd(main.name, ".")),
            ("e", _isbd(role(main), ".")))
    title = d.title
    title_pairs = [("a", _isbd(title, " :") if d.subtitle else (_isbd(title, " /") if d.responsibility else
                                                                  _isbd(title, ".")))]
    if d.subtitle:
        title_pairs.append(("b", _isbd(d.subtitle, " /") if d.responsibility else _isbd(d.subtitle, ".")))
    if d.responsibility:
        title_pairs.append(("c", _isbd(d.responsibility, ".")))
    add("245", ("1" if main is not None else "0", "0"), *title_pairs)
    if d.place or d.publisher or d.date:
        add("264", (" ", "1"), ("a", _isbd(d.place, " :") if d.publisher else _isbd(d.place, ",")),
            ("b", _isbd(d.publisher, ",") if d.date else d.publisher), ("c", d.date))
    pages = len(package.pages)
    extent = d.extent or f"{pages} trang ảnh"
    main_extent, _, dimensions = extent.partition(" ; ")
    extent_a, _, extent_b = main_extent.partition(" : ")
    add("300", (" ", " "), ("a", _isbd(extent_a, " :") if extent_b else (_isbd(extent_a, " ;") if dimensions
                                                                          else extent_a)),
        ("b", _isbd(extent_b, " ;") if dimensions else extent_b), ("c", dimensions))
    for note in d.notes:
        add("500", (" ", " "), ("a", note))
    add("506", ("0", " "), ("a", "Truy cập mở (open access)"))
    if d.rights:
        add("540", (" ", " "), ("f", rights.name(d.rights).in_language("vi")), ("u", d.rights))
    add("533", (" ", " "), ("a", "Bản số hóa"), ("c", library_name), ("d", str(item.digitized.year)
                                                                         if item.digitized else ""),
        ("e", f"{pages} trang ảnh"))
    for subject in d.subjects:
        head, *subdivisions = subject.split(" -- ")
        add("650", (" ", "4"), ("a", head), *(("x", s) for s in subdivisions))
    for place in d.places:
        add("651", (" ", "4"), ("a", place))
    for name in names:
        tag, first = ("700", "1") if name.kind == "personal" else ("710", "2")
        add(tag, (first, " "), ("a", name.name), ("e", role(name)))
    add("852", (" ", " "), ("a", library_name), ("b", item.library), ("h", d.call_number or item.call_number))
    add("856", ("4", "0"), ("u", links.item(item.library, item.item_id)), ("y", DIGITAL_COPY))
    add("856", ("4", "0"), ("u", links.pdf(item.library, item.item_id)), ("q", "application/pdf"), ("y", "PDF/A"))
    return record
