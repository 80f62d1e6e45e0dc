"""Quota progress: per library and category, holdings against digitized items, the province
plan's target, the pace of the last 90 days and when the target will be reached at that pace;
and the periodic report to the Department of Culture (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digitize.core.errors import ConfigError
from digitize.core.files import write_atomic
from digitize.ledger.database import Holding, Item, Library
from digitize.ledger.plans import Plan, target_for

PACE_DAYS = 90
MONTH_DAYS = 365.25 / 12
DIGITIZED = ("ok",)  # stored and verified; items waiting for storage count on the next run


@dataclass
class Progress:
    province: str
    library: str
    library_name: str
    tier: str
    category: str
    holdings: int
    digitized: int  # holding records with at least one digitized item
    pages: int
    percent: float
    target: int | None
    met: bool | None
    pace: float  # items a month over the last 90 days
    projected: date | None  # when the target is reached at that pace (None: not at this pace)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=timezone.utc)


def _digitized(session: Session, library: str, category: str, since: datetime | None, until: datetime):
    query = (select(func.count(func.distinct(Item.holding_id)), func.coalesce(func.sum(Item.pages), 0))
             .join(Holding, Item.holding_id == Holding.id)
             .where(Item.library == library, Holding.category == category, Item.status.in_(DIGITIZED),
                    Item.digitized <= until))
    if since is not None:
        query = query.where(Item.digitized > since)
    count, pages = session.execute(query).one()
    return int(count), int(pages)


def progress(session: Session, plans: dict[str, Plan], as_of: date, province: str | None = None,
             library: str | None = None) -> list[Progress]:
    libraries = session.scalars(select(Library).order_by(Library.province, Library.code)).all()
    rows = []
    for lib in libraries:
        if (province and lib.province != province) or (library and lib.code != library):
            continue
        plan = plans.get(lib.province)
        counts = dict(session.execute(select(Holding.category, func.count()).where(Holding.library == lib.code)
                                      .group_by(Holding.category)).all())
        categories = sorted(set(counts) | {t.category.value for t in (plan.targets if plan else [])
                                           if lib.tier in t.tiers})
        for category in categories:
            holdings = int(counts.get(category, 0))
            digitized, pages = _digitized(session, lib.code, category, None, _end_of(as_of))
            recent, _ = _digitized(session, lib.code, category, _end_of(as_of - timedelta(days=PACE_DAYS)),
                                   _end_of(as_of))
            target = target_for(plan, category, lib.tier) if plan else None
            percent = round(100.0 * digitized / holdings, 2) if holdings else 0.0
            projected = None
            if target is not None and holdings:
                needed = math.ceil(target * holdings / 100) - digitized
                if needed <= 0:
                    projected = as_of
                elif recent:  # at the pace of the last 90 days: recent items per 90 days
                    projected = as_of + timedelta(days=math.ceil(round(needed * PACE_DAYS / recent, 6)))
            rows.append(Progress(
                province=lib.province, library=lib.code, library_name=lib.name, tier=lib.tier, category=category,
                holdings=holdings, digitized=digitized, pages=pages, percent=percent, target=target,
                met=None if target is None else percent >= target,
                pace=round(recent / (PACE_DAYS / MONTH_DAYS), 2), projected=projected))
    return rows


@dataclass
class Rollup:
    province: str
    tier: str
    category: str
    libraries: int
    holdings: int
    digitized: int
    percent: float
    target: int | None


def rollup(rows: list[Progress]) -> list[Rollup]:
    """The libraries' progress added up per province, library tier and category."""
    groups: dict[tuple[str, str, str], list[Progress]] = {}
    for row in rows:
        groups.setdefault((row.province, row.tier, row.category), []).append(row)
    result = []
    for (province, tier, category), members in sorted(groups.items()):
        holdings = sum(m.holdings for m in members)
        digitized = sum(m.digitized for m in members)
        result.append(Rollup(province, tier, category, len(members), holdings, digitized,
                             round(100.0 * digitized / holdings, 2) if holdings else 0.0, members[0].target))
    return result


def period_bounds(period: str) -> tuple[date, date]:
    """'2026-H1' -> 1 January to 30 June 2026; '2026-H2'; '2026' -> the whole year."""
    try:
        if period.endswith(("-H1", "-H2")):
            year = int(period[:4])
            return (date(year, 1, 1), date(year, 6, 30)) if period.endswith("H1") else (
                date(year, 7, 1), date(year, 12, 31))
        year = int(period)
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        raise ConfigError(f"unknown period {period!r}", todo="use YYYY-H1, YYYY-H2 or YYYY") from None


REPORT_COLUMNS = ["province", "library", "library_name", "tier", "category", "holdings", "digitized_in_period",
                  "digitized_total", "pages_total", "percent", "target", "met"]


def report_rows(session: Session, plans: dict[str, Plan], period: str, province: str | None = None) -> list[dict]:
    start, end = period_bounds(period)
    rows = []
    for row in progress(session, plans, end, province=province):
        in_period, _ = _digitized(session, row.library, row.category, _end_of(start - timedelta(days=1)),
                                  _end_of(end))
        rows.append({"province": row.province, "library": row.library, "library_name": row.library_name,
                     "tier": row.tier, "category": row.category, "holdings": row.holdings,
                     "digitized_in_period": in_period, "digitized_total": row.digitized,
                     "pages_total": row.pages, "percent": row.percent,
                     "target": "" if row.target is None else row.target,
                     "met": "" if row.met is None else ("yes" if row.met else "no")})
    return rows


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may take for a formula (OWASP)


def write_report(rows: list[dict], folder: Path, name: str) -> tuple[Path, Path]:
    """The report as CSV and XLSX. Text from the ledger (a library's name...) never becomes a
    formula: in the CSV a text cell starting like one gets a leading ', in the XLSX it is a text
    cell; numbers stay numbers."""
    from openpyxl import Workbook

    def csv_cell(value):
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, REPORT_COLUMNS)
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    book = Workbook()
    sheet = book.active
    sheet.title = "report"
    sheet.append(REPORT_COLUMNS)
    for row in rows:
        sheet.append([row[c] for c in REPORT_COLUMNS])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type = "s"  # openpyxl made "=..." a formula
                cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
    workbook = io.BytesIO()
    book.save(workbook)
    csv_path, xlsx_path = folder / f"{name}.csv", folder / f"{name}.xlsx"
    write_atomic(csv_path, text.getvalue())
    write_atomic(xlsx_path, workbook.getvalue())
    return csv_path, xlsx_path


def as_dicts(rows: list[Progress]) -> list[dict]:
    return [asdict(r) for r in rows]
