"""Coordinators' dashboard: server-rendered HTML with inline SVG charts, Vietnamese by default,
English on request (?lang=en); the same page can be written as one static HTML file.

Secret items count toward progress but are never named: the list of items digitized in a period
shows them without their id and title. Restricted titles do show: the page is for staff only (the
staff app of ``digitize web --staff``, or an exported file). Every text put into the page is
escaped."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core.labels import CATEGORY_LABELS
from digitize.ledger.database import Item, Library
from digitize.ledger.plans import Plan
from digitize.ledger.quota import Progress, progress, rollup

LABELS = {
    "vi": {"title": "Tiến độ số hóa tài liệu", "as_of": "Số liệu đến ngày", "library": "Thư viện",
           "category": "Loại tài liệu", "holdings": "Vốn tài liệu", "digitized": "Đã số hóa", "pages": "Trang",
           "percent": "Tỷ lệ (%)", "target": "Chỉ tiêu (%)", "status": "Đánh giá", "met": "Đạt",
           "behind": "Chưa đạt", "pace": "Tốc độ (tài liệu/tháng)", "projected": "Dự kiến đạt chỉ tiêu",
           "never": "không đạt với tốc độ này", "chart": "Số tài liệu số hóa theo tháng",
           "items": "Tài liệu số hóa trong kỳ", "item": "Mã tài liệu", "date": "Ngày", "name": "Nhan đề",
           "secret": "[tài liệu mật: không công bố nhan đề]", "secret_id": "—",
           "none": "Không có tài liệu nào trong kỳ",
           "switch": "English", "totals": "Theo tỉnh và cấp thư viện", "province": "Tỉnh", "tier": "Cấp",
           "libraries": "Số thư viện", **CATEGORY_LABELS["vi"]},
    "en": {"title": "Digitization progress", "as_of": "Figures as of", "library": "Library",
           "category": "Category", "holdings": "Holdings", "digitized": "Digitized", "pages": "Pages",
           "percent": "Percent", "target": "Target (%)", "status": "Status", "met": "met",
           "behind": "behind", "pace": "Pace (items/month)", "projected": "Target reached on",
           "never": "not at this pace", "chart": "Items digitized per month",
           "items": "Items digitized in the period", "item": "Item", "date": "Date", "name": "Title",
           "secret": "[secret item: title withheld]", "secret_id": "—", "none": "No items in the period",
           "switch": "Tiếng Việt", "totals": "Per province and library tier", "province": "Province",
           "tier": "Tier", "libraries": "Libraries", **CATEGORY_LABELS["en"]},
}
STYLE = """body{font-family:'Noto Sans',sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;
margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td.text,th{text-align:left}
.met{color:#1a7f37}.behind{color:#b42318}h2{margin-top:1.5em}"""


def bar(percent: float, target: int | None) -> str:
    """A progress bar with the target as a line."""
    width = 200
    filled = max(0.0, min(percent, 100.0)) * width / 100
    line = "" if target is None else (f'<line x1="{target * width / 100:.1f}" x2="{target * width / 100:.1f}" '
                                      'y1="0" y2="16" stroke="#b42318" stroke-width="2"/>')
    return (f'<svg width="{width}" height="16" role="img" aria-label="{percent:.1f}%">'
            f'<rect width="{width}" height="16" fill="#eee"/><rect width="{filled:.1f}" height="16" fill="#2f6fb0"/>'
            f'{line}</svg>')


def monthly(session: Session, library: str, as_of: date, months: int = 12) -> list[tuple[str, int]]:
    first = (as_of.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    dates = session.scalars(select(Item.digitized).where(Item.library == library, Item.status == "ok")).all()
    counts = Counter(d.strftime("%Y-%m") for d in dates if first <= d.date() <= as_of)
    keys, month = [], first
    while month <= as_of:
        keys.append(month.strftime("%Y-%m"))
        month = (month + timedelta(days=32)).replace(day=1)
    return [(k, counts.get(k, 0)) for k in keys]


def chart(series: list[tuple[str, int]]) -> str:
    """Items per month as columns."""
    top = max([c for _, c in series] + [1])
    width, height = 28, 80
    columns = "".join(
        f'<rect x="{i * width + 4}" y="{height - c * height / top:.1f}" width="{width - 8}" '
        f'height="{c * height / top:.1f}" fill="#2f6fb0"><title>{m}: {c}</title></rect>'
        f'<text x="{i * width + width / 2}" y="{height + 12}" font-size="8" text-anchor="middle">{m[5:]}</text>'
        for i, (m, c) in enumerate(series))
    return f'<svg width="{len(series) * width}" height="{height + 16}" role="img">{columns}</svg>'


def _row(r: Progress, t: dict) -> str:
    status = "" if r.met is None else f'<span class="{"met" if r.met else "behind"}">{t["met" if r.met else "behind"]}</span>'
    reached = "" if r.target is None else (r.projected.strftime("%d/%m/%Y") if r.projected else t["never"])
    key = f'data-library="{escape(r.library)}" data-category="{escape(r.category)}"'
    return (f"<tr><td class=\"text\">{escape(r.library_name)} ({escape(r.library)})</td>"
            f"<td class=\"text\">{t[r.category]}</td><td class=\"holdings\" {key}>{r.holdings}</td>"
            f"<td class=\"digitized\" {key}>{r.digitized}</td><td>{r.pages}</td>"
            f"<td class=\"percent\" {key}>{r.percent:.1f}</td><td>{bar(r.percent, r.target)}</td>"
            f"<td class=\"target\" {key}>{'' if r.target is None else r.target}</td><td class=\"text\">{status}</td>"
            f"<td>{r.pace:.2f}</td><td class=\"text\">{reached}</td></tr>")


def render(session: Session, plans: dict[str, Plan], as_of: date, lang: str = "vi", province: str | None = None,
           library: str | None = None, since: date | None = None) -> str:
    lang = lang if lang in LABELS else "vi"
    t = {name: escape(label) for name, label in LABELS[lang].items()}
    rows = progress(session, plans, as_of, province, library)
    since = since or as_of - timedelta(days=30)
    other = "en" if lang == "vi" else "vi"
    head = (f"<tr><th>{t['library']}</th><th>{t['category']}</th><th>{t['holdings']}</th><th>{t['digitized']}</th>"
            f"<th>{t['pages']}</th><th>{t['percent']}</th><th></th><th>{t['target']}</th><th>{t['status']}</th>"
            f"<th>{t['pace']}</th><th>{t['projected']}</th></tr>")
    charts = "".join(f"<h3>{escape(code)}</h3>{chart(monthly(session, code, as_of))}"
                     for code in dict.fromkeys(r.library for r in rows))
    items = session.scalars(select(Item).where(Item.status == "ok").order_by(Item.digitized.desc())).all()
    listed = [i for i in items if since <= i.digitized.date() <= as_of
              and (not library or i.library == library)
              and (not province or (session.get(Library, i.library).province == province))]
    item_rows = "".join(
        f"<tr><td class=\"text\">{t['secret_id'] if i.access == 'secret' else escape(i.item_id)}</td>"
        f"<td class=\"text\">{escape(i.library)}</td>"
        f"<td class=\"text\">{t.get(i.category, escape(i.category))}</td><td>{i.digitized:%d/%m/%Y}</td>"
        f"<td class=\"text\">{t['secret'] if i.access == 'secret' else escape(i.title)}</td></tr>"
        for i in listed) or f"<tr><td class=\"text\" colspan=\"5\">{t['none']}</td></tr>"
    return (f"<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{t['title']}</title>"
            f"<style>{STYLE}</style></head><body><h1>{t['title']}</h1>"
            f"<p>{t['as_of']} {as_of:%d/%m/%Y} · <a href=\"?lang={other}\">{t['switch']}</a></p>"
            f"<table id=\"progress\">{head}{''.join(_row(r, t) for r in rows)}</table>"
            f"<h2>{t['totals']}</h2><table id=\"totals\"><tr><th>{t['province']}</th><th>{t['tier']}</th>"
            f"<th>{t['category']}</th><th>{t['libraries']}</th><th>{t['holdings']}</th><th>{t['digitized']}</th>"
            f"<th>{t['percent']}</th><th>{t['target']}</th></tr>"
            + "".join(f"<tr><td class=\"text\">{escape(r.province)}</td><td class=\"text\">{escape(r.tier)}</td>"
                      f"<td class=\"text\">{t[r.category]}</td><td>{r.libraries}</td><td>{r.holdings}</td>"
                      f"<td>{r.digitized}</td><td>{r.percent:.1f}</td>"
                      f"<td>{'' if r.target is None else r.target}</td></tr>" for r in rollup(rows))
            + f"</table><h2>{t['chart']}</h2>{charts}"
            f"<h2>{t['items']} ({since:%d/%m/%Y} – {as_of:%d/%m/%Y})</h2><table id=\"items\">"
            f"<tr><th>{t['item']}</th><th>{t['library']}</th><th>{t['category']}</th><th>{t['date']}</th>"
            f"<th>{t['name']}</th></tr>{item_rows}</table></body></html>")

