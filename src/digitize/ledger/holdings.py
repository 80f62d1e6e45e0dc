"""Holdings register import (the quota's denominator): CSV or MARC21 (.mrc, MARCXML) exports of
a library's catalogue. Re-importing updates records instead of adding them again; rows that
cannot be used are listed with the reason."""

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
from digitize.ledger.database import Holding, Library
from digitize.core.models import TIERS
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
