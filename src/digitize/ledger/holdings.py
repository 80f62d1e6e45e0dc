"""Holdings register import (the quota's denominator): CSV or MARC21 (.mrc, MARCXML) exports of
a library's catalogue. Re-importing updates records instead of adding them again; rows that
cannot be used are listed with the reason. And a batch's items checked against the register and
the ledger: a category the holding record contradicts, a call number two items share."""

from __future__ import annotations

import csv
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.describe import marc
from digitize.core.errors import BadInput, ConfigError
from digitize.core.labels import CATEGORY_LABELS
from digitize.ledger.database import Holding, Item, Library, answering, find_holding
from digitize.core.models import TIERS, Access, ItemMetadata
from digitize.core.profiles import LibraryDeclaration
from digitize.core.models import Category

CATEGORIES = {c.value for c in Category}


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (row or record, reason)


def ensure_library(session: Session, code: str, name: str | None = None, province: str | None = None,
                   tier: str | None = None, declared: LibraryDeclaration | None = None) -> Library:
    """The library, created (or updated) from the values given, else as libraries.toml declares it."""
    if declared is not None:
        name, province, tier = name or declared.name, province or declared.province, tier or declared.tier
    library = session.get(Library, code)
    if not (province or (library and library.province)) or not (tier or (library and library.tier)):
        raise ConfigError(f"library {code!r} has no province or tier yet", todo="give --province and --tier (and "
                          "--name) once, or declare the library in libraries.toml")
    if library is None:
        library = Library(code=code, name=name or code, province=province, tier=tier)
        session.add(library)
    for attribute, value in (("name", name), ("province", province), ("tier", tier)):
        if value:
            setattr(library, attribute, value)
    if library.tier not in TIERS:
        raise ConfigError(f"unknown library tier {library.tier!r}", todo=f"use one of: {', '.join(TIERS)}")
    return library


def _nfc(value) -> str:
    return unicodedata.normalize("NFC", str(value or "")).strip()


def _upsert(existing: dict[str, Holding], session: Session, library: str, values: dict,
            report: ImportReport) -> None:
    key = values["control_number"] or f"call:{values['call_number']}"
    holding = existing.get(key)
    if holding is None:
        holding = Holding(library=library, key=key, **values)
        session.add(holding)
        existing[key] = holding
        report.added += 1
    elif any(getattr(holding, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(holding, k, v)
        report.updated += 1
    else:
        report.unchanged += 1


def import_rows(session: Session, library: Library, rows, report: ImportReport) -> ImportReport:
    """rows: (label, values) with control_number, call_number, title, creator, date, category."""
    existing = {h.key: h for h in session.scalars(select(Holding).where(Holding.library == library.code))}
    seen = set()
    for label, values in rows:
        values = {k: _nfc(values.get(k)) for k in ("control_number", "call_number", "title", "creator", "date",
                                                    "category")}
        values["category"] = values["category"] or "other"
        key = values["control_number"] or values["call_number"]
        if not key:
            report.rejected.append((label, "no control number and no call number: the record cannot be matched"))
        elif values["category"] not in CATEGORIES:
            report.rejected.append((label, f"unknown category {values['category']!r} (use "
                                           f"{', '.join(sorted(CATEGORIES))})"))
        elif key in seen:
            report.rejected.append((label, f"the same record ({key}) appears twice in the file; the first is kept"))
        else:
            seen.add(key)
            _upsert(existing, session, library.code, values, report)
    session.commit()
    return report


def read_csv(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the holdings register ({exc})", str(path), "save it as UTF-8 CSV") from None
    for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        yield f"{path.name}:{number}", {(k or "").strip(): v for k, v in row.items()}


@dataclass
class MarcRules:
    category_field: str = "900"
    category_subfield: str = "a"
    rare_before: int = 1954
    dia_chi_places: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, profiles: Path) -> "MarcRules":
        path = profiles / "holdings.toml"
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8")).get("marc", {})
            return cls(**data)
        except (tomllib.TOMLDecodeError, TypeError) as exc:
            raise ConfigError(f"invalid holdings rules: {exc}", str(path)) from None

    def category(self, record, description, province: str) -> str:
        local = record.get(self.category_field) if self.category_field else None
        code = _nfc(local.get(self.category_subfield) if local else "")
        if code in CATEGORIES:
            return code
        places = [p.casefold() for p in self.dia_chi_places.get(province, [])]
        if any(place in found.casefold() for found in description.places for place in places):
            return "dia_chi"
        year = re.search(r"\d{4}", description.date_w3cdtf or description.date or "")
        if year and int(year.group()) < self.rare_before:
            return "rare"
        return "other"


def read_marc(path: Path, rules: MarcRules, province: str):
    for number, record in enumerate(marc.read_records(path), start=1):
        description = marc.describe(record)
        creator = next((n.name for n in description.names if n.primary), "")
        yield f"{path.name} record {number}", {
            "control_number": description.control_number, "call_number": description.call_number,
            "title": description.title, "creator": creator, "date": description.date,
            "category": rules.category(record, description, province)}


def import_file(session: Session, path: Path, library: Library, profiles: Path) -> ImportReport:
    """Import a CSV or MARC21 holdings register into the library's holdings."""
    report = ImportReport()
    if path.suffix.lower() == ".csv":
        rows = []
        for label, row in read_csv(path):
            if _nfc(row.get("library")) not in ("", library.code):
                report.rejected.append((label, f"the row belongs to library {row['library']}, not {library.code}"))
            else:
                rows.append((label, row))
    else:
        rows = list(read_marc(path, MarcRules.load(profiles), library.province))
    return import_rows(session, library, rows, report)


# --- a batch's items against the register and the ledger ---

def check_items(session: Session, items: list[ItemMetadata | None]) -> dict[int, list[str]]:
    """What the items of a batch (None: an item whose metadata could not be read) contradict, by
    their index: a category other than their holding record's (the quota counts the record's),
    a call number another item of the batch, or of the ledger, has too. Each warning names both
    sides (a secret item on the other side only as "a secret item"). Raises LedgerUnavailable if
    the ledger does not answer."""
    found: dict[int, list[str]] = {}
    known = [(index, meta) for index, meta in enumerate(items) if meta is not None]
    with answering(session):
        matched = {index: find_holding(session, meta.library, meta.call_number, meta.control_number)
                   for index, meta in known}
        for index, meta in known:
            if matched[index] is not None:
                warning = _category_mismatch(meta, matched[index])
                if warning:
                    found.setdefault(index, []).append(warning)
        sharing: dict[tuple[str, str], list[int]] = {}
        for index, meta in known:
            if meta.call_number:
                sharing.setdefault((meta.library, meta.call_number), []).append(index)
        for (library, call_number), group in sharing.items():
            ids = sorted({items[index].id for index in group})
            recorded = session.execute(select(Item.item_id, Item.access, Item.holding_id).where(
                Item.library == library, Item.call_number == call_number, Item.item_id.not_in(ids))).all()
            for index in group:
                meta = items[index]
                own = matched[index].id if matched[index] is not None else None
                others = [(_named(items[other].id, items[other].access, meta), "this batch",
                           matched[other].id if matched[other] is not None else None)
                          for other in group if items[other].id != meta.id]
                others += [(_named(item_id, access, meta), "the ledger", holding_id)
                           for item_id, access, holding_id in recorded]
                for name, where, holding_id in others:
                    once = (" Both match the same holding record, which counts once toward the quota."
                            if own is not None and holding_id == own else "")
                    found.setdefault(index, []).append(
                        f"call number {call_number} is also that of {name} in {where}.{once} If they are different "
                        "works, correct the call number of the wrong one; volumes or copies of one work may share it")
    return found


def _named(item_id: str, access: str, this: ItemMetadata) -> str:
    """How a warning about ``this`` item names another: a secret item only as such, unless this one
    is secret too (its own warnings are kept out of public logs already)."""
    return "a secret item" if access == Access.secret and this.access != Access.secret else item_id


def _category(code: str) -> str:
    return f"{code} ({CATEGORY_LABELS['vi'].get(code, code)})"


def _record(meta: ItemMetadata, holding: Holding) -> str:
    """The holding record as the item matched it."""
    by = (f"control number {holding.control_number}" if meta.control_number and
          holding.control_number == meta.control_number else f"call number {holding.call_number}")
    return f"its holding record ({by} in {meta.library}'s register)"


def _category_mismatch(meta: ItemMetadata, holding: Holding) -> str | None:
    """The item's category against its holding record's: the quota counts the record's (the
    register is what the quota counts against), the item is listed and published with its own."""
    stated, registered = meta.category.value, holding.category
    if registered == stated:
        return None
    counted = f"the quota counts it as {registered}, as the register says"
    if "category" not in meta.model_fields_set:
        return (f"no category in its metadata, so it is listed and published as {_category(stated)}, but "
                f"{_record(meta, holding)} says {_category(registered)}: {counted}. Add category = "
                f'"{registered}" to its metadata, or correct the register and import it again (digitize '
                "holdings import)")
    return (f"category {_category(stated)} in its metadata, but {_category(registered)} in "
            f"{_record(meta, holding)}: {counted}; it is listed and published as {stated}. Correct whichever "
            "is wrong: the item's category, or the register (then import it again: digitize holdings import)")
