"""Quota progress: per library and category, holdings against digitized items, the province
plan's target, the pace of the last 90 days and when the target will be reached at that pace;
and the periodic report to the Department of Culture (CSV and XLSX, in Vietnamese or English words
from the site's catalogues, never in codes)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digitize.core.errors import BadInput, ConfigError
from digitize.core.files import write_atomic
from digitize.core.models import Category
from digitize.core.i18n import N_, Words, translator
from digitize.ledger.database import Holding, Item, Library
from digitize.ledger.plans import Plan, target_for
from digitize.ledger.review import ACCEPTED, IN_REVIEW

PACE_DAYS = 90
MONTH_DAYS = 365.25 / 12
DIGITIZED = ("ok",)  # stored and verified; items waiting for storage count on the next run
# An item counts once accepted (ledger/review.py): by a reviewer, a sample of its batch or its
# library's automatic rule. ``Progress.digitized`` is that count; ``stored`` and ``awaiting`` stand beside it.


@dataclass
class Progress:
    province: str
    library: str
    library_name: str
    tier: str
    category: str
    holdings: int
    digitized: int  # holding records with at least one accepted item: what counts toward the quota
    pages: int  # of the accepted items
    percent: float
    target: int | None
    met: bool | None
    pace: float  # items accepted a month over the last 90 days
    projected: date | None  # when the target is reached at that pace (None: not at this pace)
    stored: int = 0  # holding records with an item digitized (stored), accepted or not
    awaiting: int = 0  # holding records with an item awaiting review

    @property
    def accepted(self) -> int:
        return self.digitized


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=timezone.utc)


def _digitized(session: Session, library: str, category: str, since: datetime | None, until: datetime,
               state: str = ACCEPTED):
    """(holding records, pages) of the library's items of ``category``: those accepted by ``until``
    (and after ``since``), which count toward the quota; with ``state`` None, those digitized
    (stored) by then whatever review made of them; with IN_REVIEW, those awaiting review now."""
    when = Item.accepted if state == ACCEPTED else Item.digitized
    query = (select(func.count(func.distinct(Item.holding_id)), func.coalesce(func.sum(Item.pages), 0))
             .join(Holding, Item.holding_id == Holding.id)
             .where(Item.library == library, Holding.category == category, Item.status.in_(DIGITIZED),
                    when <= until))
    if state is not None:
        query = query.where(Item.review_state == state)
    if since is not None:
        query = query.where(when > since)
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
            stored, _ = _digitized(session, lib.code, category, None, _end_of(as_of), state=None)
            awaiting, _ = _digitized(session, lib.code, category, None, _end_of(as_of), state=IN_REVIEW)
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
                stored=stored, awaiting=awaiting,
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


def require_known(session: Session, province: str | None = None, library: str | None = None) -> None:
    """A BadInput naming what the ledger knows when the ``library`` or ``province`` asked of the
    quota is not in it (or the library is not in that province): an empty table would look like
    no progress. The ledger is named in the words themselves, which a catalogue translates."""
    libraries = {lib.code: lib for lib in session.scalars(select(Library).order_by(Library.code))}
    todo = N_("a library enters the ledger when its holdings register is imported (`digitize holdings import FILE "
              "--library CODE`, declared in <profiles>/libraries.toml or with --name, --province and --tier) or "
              "when its first item is stored")
    if library is not None and library not in libraries:
        raise BadInput(N_("quota ledger: unknown library {library}: the ledger knows {known}", library=repr(library),
                          known=", ".join(libraries) if libraries else N_("no library yet")), None, todo)
    provinces = sorted({lib.province for lib in libraries.values()})
    if province is not None and province not in provinces:
        raise BadInput(N_("quota ledger: no library of province {province} in the ledger: it knows {known}",
                          province=repr(province), known=", ".join(provinces) if provinces else N_("no province yet")),
                       None, todo)
    if library is not None and province is not None and libraries[library].province != province:
        raise BadInput(N_("quota ledger: library {library} is in province {its}, not {province}",
                          library=repr(library), its=repr(libraries[library].province), province=repr(province)),
                       None, N_("give --province {province} or leave it out",
                                          province=libraries[library].province))


@dataclass
class ReportRow:
    """One library and category in the periodic report: the codes (``province``, ``library``,
    ``tier``, ``category``) and the names the ledger and the plans give them."""

    province: str
    province_name: str
    library: str
    library_name: str
    tier: str
    category: str
    holdings: int
    digitized_in_period: int
    digitized_total: int  # up to the end of the period (or the day it was made)
    pages_total: int
    percent: float
    target: int | None
    met: bool | None


@dataclass
class PeriodReport:
    """The periodic report to the Department of Culture: one period, all provinces or one province
    or one library, made on one day."""

    period: str
    start: date
    end: date
    made: date
    province: str | None  # the province asked (its code), None for all
    province_name: str | None
    library: str | None  # the library asked (its code), None for all of the province(s)
    library_name: str | None
    rows: list[ReportRow]

    @property
    def as_of(self) -> date:
        """The day the figures stand at: the end of the period, or the day it was made if earlier."""
        return min(self.end, self.made)


def period_report(session: Session, plans: dict[str, Plan], period: str, province: str | None = None,
                  library: str | None = None, made: date | None = None) -> PeriodReport:
    """The report of ``period`` (``2026-H1``, ``2026-H2``, ``2026``) for every library, or those of
    ``province``, or ``library``; an unknown province or library is a BadInput."""
    start, end = period_bounds(period)
    made = made or date.today()
    require_known(session, province, library)
    rows = []
    for row in progress(session, plans, end, province=province, library=library):
        in_period, _ = _digitized(session, row.library, row.category, _end_of(start - timedelta(days=1)),
                                  _end_of(end))
        rows.append(ReportRow(
            province=row.province, province_name=_province_name(plans, row.province), library=row.library,
            library_name=row.library_name, tier=row.tier, category=row.category,
            holdings=row.holdings, digitized_in_period=in_period, digitized_total=row.digitized, pages_total=row.pages,
            percent=row.percent, target=row.target, met=row.met))
    order = list(Category)  # the categories as the pages list them: địa chí, rare, endogenous, other
    rows.sort(key=lambda r: (r.province, r.library, order.index(Category(r.category))))
    asked = session.get(Library, library) if library else None
    if asked is not None:
        province = province or asked.province
    return PeriodReport(period=period, start=start, end=end, made=made, province=province,
                        province_name=_province_name(plans, province) if province else None,
                        library=library, library_name=asked.name if asked else None, rows=rows)


def _province_name(plans: dict[str, Plan], province: str) -> str:
    """The province's name as its plan writes it (its code if it has no plan)."""
    return plans[province].name if province in plans else province


def _period_words(report: PeriodReport, words: Words) -> str:
    """'6 tháng đầu năm 2026 (01/01/2026 – 30/06/2026)'."""
    year = report.start.year
    if report.period.endswith("-H1"):
        named = words.gettext("first half of %(year)s", year=year)
    elif report.period.endswith("-H2"):
        named = words.gettext("second half of %(year)s", year=year)
    else:
        named = words.gettext("year %(year)s", year=year)
    return f"{named} ({report.start:%d/%m/%Y} – {report.end:%d/%m/%Y})"


def _category_words(words: Words) -> dict[str, str]:
    # the dashboard's names (templates/macros.html), the same msgids
    return {"dia_chi": words.pgettext("category", "Local history (địa chí)"),
            "rare": words.pgettext("category", "Ancient, rare, special value"),
            "endogenous": words.pgettext("category", "Endogenous works"),
            "other": words.pgettext("category", "Other")}


def _tier_words(words: Words) -> dict[str, str]:
    return {"provincial": words.pgettext("library tier", "provincial"),
            "district": words.pgettext("library tier", "district"),
            "specialized": words.pgettext("library tier", "specialized and university"),
            "school": words.pgettext("library tier", "school and vocational"),
            "armed_forces": words.pgettext("library tier", "people's armed forces"),
            "public": words.pgettext("library tier", "other public")}


@dataclass
class ReportTable:
    """The report as words and numbers, in one language: all of it in the XLSX; the period, the
    headers and the rows in the CSV."""

    sheet: str  # the XLSX sheet's name
    title: str
    period_header: str
    period: str  # the period in words, with its dates
    scope: str  # the province, the library, or all provinces
    as_of: str
    made: str
    headers: list[str]
    rows: list[list]  # text and numbers; None for an empty cell
    totals: list


def report_table(report: PeriodReport, lang: str = "vi") -> ReportTable:
    """``report`` in ``lang``'s words (Vietnamese, or English): every code (province, library,
    tier, category, met) named, the headers the dashboard's where it has them."""
    words = translator(lang)
    categories, tiers = _category_words(words), _tier_words(words)
    met = {True: words.gettext("met"), False: words.gettext("behind"), None: None}
    headers = [words.gettext("Province"), words.gettext("Library"), words.gettext("Tier"), words.gettext("Category"),
               words.gettext("Holdings"), words.gettext("Accepted in the period"),
               words.gettext("Accepted in total"), words.pgettext("dashboard", "Pages"), words.gettext("Percent"),
               words.gettext("Target (%%)"), words.gettext("Status")]
    rows = [[r.province_name, r.library_name, tiers.get(r.tier, r.tier), categories.get(r.category, r.category),
             r.holdings, r.digitized_in_period, r.digitized_total, r.pages_total, r.percent, r.target, met[r.met]]
            for r in report.rows]
    holdings = sum(r.holdings for r in report.rows)
    digitized = sum(r.digitized_total for r in report.rows)
    totals = [words.gettext("Total"), None, None, None, holdings, sum(r.digitized_in_period for r in report.rows),
              digitized, sum(r.pages_total for r in report.rows),
              round(100.0 * digitized / holdings, 2) if holdings else 0.0, None, None]
    library, province = words.gettext("Library"), words.gettext("Province")  # (not in f-strings: pybabel)
    if report.library:
        scope = f"{library}: {report.library_name} ({report.province_name})"
    elif report.province:
        scope = f"{province}: {report.province_name}"
    else:
        scope = words.gettext("All provinces")
    as_of, made = words.gettext("Figures as of"), words.gettext("Made on")
    return ReportTable(
        sheet=words.pgettext("spreadsheet", "Report"), title=words.gettext("Report on the digitization of documents"),
        period_header=words.gettext("Reporting period"), period=_period_words(report, words), scope=scope,
        as_of=f"{as_of} {report.as_of:%d/%m/%Y}", made=f"{made} {report.made:%d/%m/%Y}", headers=headers, rows=rows,
        totals=totals)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may take for a formula (OWASP)
WIDEST = 60  # characters: a longer cell wraps


def write_report(report: PeriodReport, folder: Path, name: str, lang: str = "vi") -> tuple[Path, Path]:
    """The report as CSV and XLSX in ``lang`` (Vietnamese by default).

    The CSV is one table for a program or a spreadsheet to read: UTF-8 with a byte-order mark (so
    Excel on Windows reads the Vietnamese), the headers on its first line, the period in words on
    every row, no title or totals line to get in the way of a sum. The XLSX is for people: a title,
    the period, the province or library, the day the figures stand at, a frozen header, column widths
    that fit, and a totals row.

    Text from the ledger (a library's name...) never becomes a formula: in the CSV a text cell
    starting like one gets a leading ', in the XLSX it is a text cell; numbers stay numbers."""
    table = report_table(report, lang)
    csv_path, xlsx_path = folder / f"{name}.csv", folder / f"{name}.xlsx"
    write_atomic(csv_path, report_csv(table))
    write_atomic(xlsx_path, _workbook(table))
    return csv_path, xlsx_path


def report_csv(table: ReportTable) -> bytes:
    """The CSV of ``write_report`` (UTF-8 with its byte-order mark), for a download."""

    def csv_cell(value):
        if value is None:
            return ""
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([table.period_header, *table.headers])
    writer.writerows([csv_cell(table.period), *(csv_cell(v) for v in row)] for row in table.rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def report_xlsx(table: ReportTable) -> bytes:
    """The XLSX of ``write_report``, for a download."""
    return _workbook(table)


def half_year(day: date) -> str:
    """The half-year ``day`` falls in, as ``--period`` names it: '2026-H2'."""
    return f"{day.year}-H{1 if day.month <= 6 else 2}"


def _workbook(table: ReportTable) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = table.sheet
    width = len(table.headers)
    heading = [table.title, f"{table.period_header}: {table.period}", table.scope, f"{table.as_of} · {table.made}"]
    for line, value in enumerate(heading, start=1):
        sheet.cell(row=line, column=1, value=value).font = Font(bold=line == 1, size=14 if line == 1 else 11)
        sheet.merge_cells(start_row=line, start_column=1, end_row=line, end_column=width)
    header_row = len(heading) + 2  # a blank line between
    thin = Side(style="thin", color="999999")
    for column, value in enumerate(table.headers, start=1):
        cell = sheet.cell(row=header_row, column=column, value=value)
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="DDE5F0")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.border = Border(bottom=thin)
    for offset, values in enumerate([*table.rows, table.totals], start=1):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=header_row + offset, column=column, value=value)
            if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                cell.data_type = "s"  # openpyxl made "=..." a formula
                cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
            elif isinstance(value, float):
                cell.number_format = "0.00"
    for cell in sheet[header_row + len(table.rows) + 1]:
        cell.font, cell.border = Font(bold=True), Border(top=thin)
    for column in range(1, width + 1):
        cells = [table.headers[column - 1], *(values[column - 1] for values in [*table.rows, table.totals])]
        fit = max(len(f"{v:.2f}" if isinstance(v, float) else str(v)) for v in cells if v is not None)
        sheet.column_dimensions[get_column_letter(column)].width = min(fit + 2, WIDEST)
        if fit > WIDEST:
            for row in sheet.iter_rows(min_row=header_row + 1, min_col=column, max_col=column):
                row[0].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    workbook = io.BytesIO()
    book.save(workbook)
    return workbook.getvalue()


def as_dicts(rows: list[Progress]) -> list[dict]:
    return [asdict(r) for r in rows]
