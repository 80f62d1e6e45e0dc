"""The site's pages: the home page, a library's page and an item's page with the viewer."""

from __future__ import annotations

import math

from fastapi import APIRouter, Query

from digitize.access import reading, site
from digitize.access.iiif import presentation as manifest
from digitize.core.labels import CATEGORY_LABELS
from digitize.core import rights
from digitize.core.models import Description, ItemPackage
from digitize.ledger.database import Item
from digitize.describe.dublincore import ACCESS_TEXT, LANGUAGE_TAGS, creators, title
from digitize.web.limits import MAX_PAGE, MAX_SEARCH, PAGE_SIZE
from digitize.web.routes.iiif import search_inside
from digitize.web.routes.transcription import reader_transcription
from digitize.web.visit import CurrentVisit

THUMBNAIL = "200,"  # the IIIF size of the thumbnails on the site

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(visit: CurrentVisit):
    return visit.page(site.home(visit.context, visit.libraries()))


@router.get("/libraries/{library}")
def library_page(visit: CurrentVisit, library: str, category: str | None = None,
                 page: int = Query(1, ge=1, le=MAX_PAGE)):
    found = visit.library(library)
    if found is None or (category is not None and category not in CATEGORY_LABELS["vi"]):
        return visit.not_found()
    rows, total = reading.library_items(visit.session, library, visit.who, category, page, PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        return visit.not_found()
    links = visit.config.links
    items = [site.ItemSummary(title=row.title, url=links.item(row.library, row.item_id),
                              thumbnail_url=thumbnail(links.image_service(row.library, row.item_id, 1))
                              if opens(visit, row) else None,
                              pages=row.pages, at_library=row.access == "restricted", **byline(visit, row))
                              for row in rows]
    return visit.page(site.library_page(visit.context, found, items, category, page, pages, total))


@router.get("/items/{library}/{item_id}")
def item_page(visit: CurrentVisit, library: str, item_id: str, page: int | None = Query(None, ge=1, le=MAX_PAGE),
              q: str = Query("", max_length=MAX_SEARCH)):
    item = visit.item(library, item_id)
    if item is None:
        record = visit.record(library, item_id)
        return visit.not_found() if record is None else record_page(visit, record)
    links = visit.config.links
    stored = visit.config.stored_items.get(item)
    package = stored.package
    inside = None  # the search inside the item (?q=): its hits per page, as its search service finds them
    if q.strip():
        answer = search_inside(visit, item, q, links.search(library, item_id),
                               limit=max(1, len(package.pages)) * 10_000)  # all of them
        canvases = {links.canvas(library, item_id, p.number): p.number for p in package.pages}
        on = {a["@id"]: canvases.get(a["on"].split("#", 1)[0]) for a in answer["resources"]}
        counts: dict[int, int] = {}
        for hit in answer["hits"]:
            if (number := on.get(hit["annotations"][0])) is not None:
                counts[number] = counts.get(number, 0) + 1
        inside = site.ItemSearch(q, [(n, counts[n], f"{links.image_service(library, item_id, n)}/full/max/0/"
                                                    "default.jpg") for n in sorted(counts)])
    d = package.description
    holder = visit.library(library)
    view = site.ItemView(
        title=title(d), fields=item_fields(package, holder, visit.lang),
        rights=ACCESS_TEXT[package.access], item_url=links.item(library, item_id),
        title_lang=language_tag(d.languages),
        licence=(rights.name(d.rights).in_language(visit.lang), d.rights) if d.rights else None,
        citation=site.Citation(title=title(d), creator="; ".join(creators(d)), year=year(d),
                               library=holder.name if holder else library, call_number=d.call_number),
        page_texts={p.number: links.file(library, item_id, relative) for p in package.pages
                    if (relative := stored.page_file(p, p.text))} if visit.downloads(item) else {},
        pdf_url=links.pdf(library, item_id) if visit.downloads(item) else None,
        manifest_url=links.manifest(library, item_id),
        pages=[(p.number, p.label, thumbnail(links.image_service(library, item_id, p.number)))
               for p in sorted(package.pages, key=lambda p: p.number)],
        library_url=links.library(library),
        transcription=reader_transcription(visit, item, package, stored.objects, page))
    return visit.page(site.item_page(visit.context, view, page, inside))


def record_page(visit: CurrentVisit, item: Item):
    """A restricted item's public record outside the reading room: its description and where it is
    read (the library's reading room, from libraries.toml); never its pages, images, text or PDF."""
    package = visit.config.stored_items.get(item).package
    declared = visit.config.libraries.get(item.library)
    room = site.ReadingRoom(name=declared.reading_room or "", address=declared.address or "",
                            hours=declared.hours or "") if declared is not None else site.ReadingRoom()
    holder = visit.record_library(item.library)
    view = site.ItemView(title=title(package.description), fields=item_fields(package, holder, visit.lang),
                         rights=ACCESS_TEXT[package.access], item_url=visit.config.links.item(item.library, item.item_id),
                         restricted="reading_room", reading_room=room, library_url=holder.url if holder else None)
    return visit.page(site.item_page(visit.context, view))


def opens(visit: CurrentVisit, item: Item) -> bool:
    """Whether the visitor may open the item listed (its thumbnail shown)."""
    return item.access == "open" or visit.who.opens_restricted


def thumbnail(image_service: str) -> str:
    return f"{image_service}/full/{THUMBNAIL}/0/default.jpg"


def item_fields(package: ItemPackage, library: site.LibrarySummary | None, lang: str) -> list[tuple[str, list[str]]]:
    """The Dublin Core fields of the item page, in its order. The item's category is shown as what
    it is, the collection of the digitization plan it counts in (địa chí, rare, endogenous), not as
    a document type; "other" says nothing to a reader and is left out."""
    d = package.description
    category = package.category.value
    fields = [("title", [title(d)]), ("creator", creators(d)), ("date", [d.date]), ("publisher", [d.publisher]),
              ("place", [d.place]),
              ("language", [manifest.LANGUAGE_NAMES.get(code, (code, code))[lang == "en"] for code in d.languages]),
              ("subject", d.subjects), ("coverage", [*d.places, *d.periods]),
              ("format", [f"{len(package.pages)} tr." if lang == "vi" else f"{len(package.pages)} p."]),
              ("extent", [d.extent]), ("identifier", [d.call_number or package.item_id]),
              ("library", [library.name if library else package.library]),
              ("collection", [CATEGORY_LABELS[lang].get(category, category)] if category != "other" else [])]
    return [(key, [v for v in values if v]) for key, values in fields if any(values)]


def year(description: Description) -> str:
    """The year of publication as a list shows it (the record's date where it has no year)."""
    return description.date_w3cdtf[:4] or description.date


def language_tag(languages: list[str]) -> str:
    """The BCP 47 tag of an item's first language (what ``lang`` says of its title)."""
    code = languages[0] if languages else "vie"
    return LANGUAGE_TAGS.get(code, code)


def byline(visit: CurrentVisit, row) -> dict[str, str]:
    """Creator, year and title language of a listed item, from its stored record (cached by
    StoredItems; an unreadable one lists its title alone)."""
    try:
        d = visit.config.stored_items.get(row).package.description
    except reading.ItemUnreadable:
        return {}
    return {"creator": "; ".join(creators(d)), "date": year(d), "title_lang": language_tag(d.languages)}
