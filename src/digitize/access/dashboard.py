"""Coordinators' dashboard: server-rendered HTML (``templates/dashboard.html``) with inline SVG
charts, Vietnamese by default, English on request (?lang=en). Under the site's /staff/ it has the
site's header and stylesheet; otherwise (``digitize web --staff``, or written as one static file)
it stands alone with the stylesheet inline.

Secret items count toward progress but are never named: the list of items digitized in a period
shows them without their id and title. Restricted titles do show: the page is for staff only.
Every text put into the page is escaped."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.access import pages, site
from digitize.capture import malware
from digitize.ledger.database import Item, Library
from digitize.ledger import outlook, quota
from digitize.ledger.plans import Plan
from digitize.ledger.quota import progress, rollup
from digitize.review import ocr_errors


def monthly(session: Session, library: str, as_of: date, months: int = 12) -> list[tuple[str, int]]:
    first = (as_of.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    dates = session.scalars(select(Item.digitized).where(Item.library == library, Item.status == "ok")).all()
    counts = Counter(d.strftime("%Y-%m") for d in dates if first <= d.date() <= as_of)
    keys, month = [], first
    while month <= as_of:
        keys.append(month.strftime("%Y-%m"))
        month = (month + timedelta(days=32)).replace(day=1)
    return [(k, counts.get(k, 0)) for k in keys]


def render(session: Session, plans: dict[str, Plan], as_of: date, lang: str = "vi", province: str | None = None,
           library: str | None = None, since: date | None = None, *, context: site.Context | None = None,
           data: Path | None = None, downloads: bool = False) -> str:
    """The dashboard in ``lang``: in the site's layout (header, sign-out, stylesheet link) when
    ``context`` is given, otherwise a page that stands alone. With the data folder ``data``, it says
    when the originals were last scanned for malware and how old the signatures were. With
    ``downloads`` (and ``context``) it links the report's CSV and XLSX (``report_download``)."""
    lang = pages.language(lang)
    rows = progress(session, plans, as_of, province, library)
    since = since or as_of - timedelta(days=30)
    items = session.scalars(select(Item).where(Item.status == "ok").order_by(Item.digitized.desc())).all()
    listed = [(None if i.access == "secret" else i.item_id, i.library, i.category, i.digitized,
               None if i.access == "secret" else i.title)
              for i in items if since <= i.digitized.date() <= as_of
              and (not library or i.library == library)
              and (not province or (session.get(Library, i.library).province == province))]
    names = {r.library: r.library_name for r in rows}
    figures = {"rows": rows, "totals": rollup(rows), "items": listed, "as_of": as_of, "since": since,
               "outlooks": [outlook.outlook(r, plans.get(r.province)) for r in rows],
               "provinces": outlook.province_totals(rows, plans),
               "province_names": {code: plan.name for code, plan in plans.items()},
               "charts": [(code, names[code], monthly(session, code, as_of)) for code in names],
               "reports": _reports(context, lang, as_of) if downloads and context is not None else (),
               "ocr_errors": ocr_errors.error_rates(session, library),
               "scan": (scan := malware.last_scan(data) if data is not None else None),
               "scan_days": scan and [datetime.fromisoformat(moment) if moment else None
                                      for moment in (scan.finished, scan.signature_date)]}
    if context is None:
        return pages.render("dashboard.html", lang, visit=None, other=pages.other_language(lang),
                            css=_stylesheet(), **figures)
    return pages.render("dashboard.html", lang, **site.layout(dataclasses.replace(context, lang=lang)), **figures)


REPORT_FORMATS = {"csv": "text/csv; charset=utf-8",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _reports(context: site.Context, lang: str, as_of: date) -> list[tuple[int, int | None, dict[str, str]]]:
    """(the year, the half-year (1, 2) or None for the whole year, {format: link}) of the reports
    offered: this half-year's and this year's."""
    half = quota.half_year(as_of)
    return [(as_of.year, int(period[-1]) if period == half else None,
             {kind: pages.link(f"{context.base}/staff/report.{kind}", lang, period=period) for kind in REPORT_FORMATS})
            for period in (half, str(as_of.year))]


def report_download(session: Session, plans: dict[str, Plan], period: str, kind: str, lang: str,
                    made: date) -> tuple[str, bytes]:
    """(file name, contents) of the periodic report of ``period`` for every library, as ``kind``
    (csv or xlsx, REPORT_FORMATS) in ``lang``'s words: what ``digitize report --period`` writes."""
    table = quota.report_table(quota.period_report(session, plans, period, made=made), lang)
    contents = quota.report_csv(table) if kind == "csv" else quota.report_xlsx(table)
    return f"bao-cao-so-hoa-{period}.{kind}", contents


@functools.cache
def _stylesheet() -> str:
    return (files("digitize") / "data" / "site" / "site.css").read_text(encoding="utf-8")
