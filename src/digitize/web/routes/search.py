"""The collection's search at /search: an HTML page, or JSON when the client asks for it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request

from digitize.access import reading, site
from digitize.access.iiif import presentation as manifest
from digitize.core.labels import CATEGORY_LABELS
from digitize.search import index as search
from digitize.web import responses
from digitize.web.limits import MAX_PAGE, MAX_SEARCH, PAGE_SIZE, whole_number
from digitize.web.routes.site import byline, thumbnail
from digitize.web.visit import CurrentVisit, Visit

FILTER_LENGTH = 64  # characters of a filter's value
VARY = {"vary": "Accept, Cookie"}  # the same address answers HTML or JSON, and more to staff

router = APIRouter(include_in_schema=False)


@router.get("/search")
def search_page(request: Request, visit: CurrentVisit):
    asked = search_request(request.query_params)
    if asked is None:
        return responses.plain("Bad search parameters.\n", 400)
    query, filters, page = asked
    tiers, record_tiers = searched_tiers(visit, filters.get("access"))
    result = search.search(visit.session, query, tiers, library=filters.get("library"),
                           category=filters.get("category"), language=filters.get("language"),
                           year_from=filters.get("from"), year_to=filters.get("to"), page=page, page_size=PAGE_SIZE,
                           record_tiers=record_tiers, unlisted=visit.config.unlisted)
    names = {s.code: s.name for s in visit.libraries()}
    if responses.wants_json(request):
        return responses.json_answer(json_document(visit, query, filters, result),
                                     responses.listing_headers(visit.who.opens_restricted) | VARY)
    answer = visit.page(site.search_page(visit.context, search_view(visit, query, filters, result, names)))
    answer.headers.update(VARY)
    return answer


def searched_tiers(visit: Visit, access: str | None) -> tuple[set[str], set[str]]:
    """The tiers searched in full (pages and record) and those searched by their record only: a
    visitor outside the reading room finds a restricted item by its description, never its text.
    ``access`` (SEARCH_ACCESS) keeps the items read online (open) or at the library (restricted)."""
    restricted = {"restricted"}
    tiers, records = ({"open"} | restricted, set()) if visit.who.opens_restricted else ({"open"}, restricted)
    if access == "online":
        return tiers - restricted, set()
    if access == "library":
        return tiers & restricted, records
    return tiers, records


def json_document(visit: Visit, query: str, filters: dict, result: search.SearchResult) -> dict:
    links = visit.config.links
    return {"query": query, "filters": filters, "total": result.total, "more": result.more, "page": result.page,
            "pageSize": result.page_size, "pages": result.pages,
            "hits": [{"library": hit.library, "itemId": hit.item_id, "title": hit.title, "page": hit.page,
                      "pagesMatched": hit.pages_matched, "snippet": "".join(text for text, _ in hit.snippet),
                      "highlights": highlights(hit.snippet), "url": opened_at(visit, hit, query), "access": hit.access,
                      "manifest": links.manifest(hit.library, hit.item_id)} for hit in result.hits],
            "facets": result.facets}


def search_view(visit: Visit, query: str, filters: dict, result: search.SearchResult,
                names: dict[str, str]) -> site.SearchView:
    links, lang = visit.config.links, visit.lang
    bylines = {(row.library, row.item_id): byline(visit, row)
               for row in reading.items_named(visit.session, [(hit.library, hit.item_id) for hit in result.hits])}
    facets = {"library": [(code, names.get(code, code), n) for code, n in result.facets["library"].items()],
              "category": [(code, CATEGORY_LABELS[lang].get(code, code), n)
                           for code, n in result.facets["category"].items()],
              "language": [(code, manifest.LANGUAGE_NAMES.get(code, (code, code))[lang == "en"], n)
                           for code, n in result.facets["language"].items()]}
    hits = [site.SearchHitView(title=hit.title, url=opened_at(visit, hit, query),
                               library=names.get(hit.library, hit.library), page=hit.page,
                               pages_matched=hit.pages_matched, snippet=hit.snippet,
                               thumbnail_url=thumbnail(links.image_service(hit.library, hit.item_id, hit.page or 1))
                               if hit.access == "open" or visit.who.opens_restricted else None,
                               at_library=hit.access == "restricted", **bylines.get((hit.library, hit.item_id), {}))
            for hit in result.hits]
    return site.SearchView(url=links.base + "/search", query=query, filters={k: str(v) for k, v in filters.items()},
                           hits=hits, total=result.total, more=result.more, page=result.page, pages=result.pages,
                           facets=facets, libraries=sorted(names.items(), key=lambda pair: pair[1]),
                           page_size=PAGE_SIZE)


def opened_at(visit: Visit, hit: search.Hit, query: str) -> str:
    """The item page at the hit's page, the query's words highlighted there."""
    parameters = [("page", hit.page)] if hit.page else []
    parameters += [("q", query)] + ([("lang", "en")] if visit.lang == "en" else [])
    return f"{visit.config.links.item(hit.library, hit.item_id)}?{urlencode(parameters)}"


def search_request(parameters) -> tuple[str, dict, int] | None:
    """The query, the filters given (SEARCH_FILTERS; years as numbers) and the page of a search
    request; None when a value is out of bounds."""
    query = parameters.get("q", "")
    filters: dict = {}
    for name in site.SEARCH_FILTERS:
        value = parameters.get(name, "").strip()
        if not value:
            continue
        if name in ("from", "to"):
            year = whole_number(value, canonical=False) if len(value) <= 4 else None
            if year is None:
                return None
            filters[name] = year
        elif name == "access":
            if value not in site.SEARCH_ACCESS:
                return None
            filters[name] = value
        elif len(value) <= FILTER_LENGTH:
            filters[name] = value
        else:
            return None
    page = whole_number(parameters.get("page", "1"))
    if len(query) > MAX_SEARCH or page is None or not 1 <= page <= MAX_PAGE:
        return None
    return query, filters, page


def highlights(parts: list[tuple[str, bool]]) -> list[list[int]]:
    """The [start, end) offsets of the matched parts in the joined snippet."""
    found, offset = [], 0
    for text, matched in parts:
        if matched:
            found.append([offset, offset + len(text)])
        offset += len(text)
    return found
