"""IIIF: the image service (redirect, info.json, images), the manifests, the collections of the
libraries and the content search inside an item."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import anyio
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from digitize.access.iiif import content_search, image as iiif_image, presentation as manifest
from digitize.access import reading
from digitize.ledger.database import Item
from digitize.search import index as search
from digitize.web import memory, responses
from digitize.web.config import SiteConfig
from digitize.web.limits import MAX_PAGE, MAX_SEARCH, PAGE_SIZE, RETRY_AFTER, whole_number
from digitize.web.responses import PRESENTATION_MEDIA_TYPE, caching, iiif_headers, json_answer, not_found_plain
from digitize.web.visit import CurrentVisit, Visit


router = APIRouter(prefix="/iiif", include_in_schema=False)


@router.get("/collection.json")
def top_collection(visit: CurrentVisit):
    document = manifest.top_collection([(s.code, s.name) for s in visit.libraries(records=False)], visit.config.links)
    return json_answer(document, responses.listing_headers(visit.who.opens_restricted), PRESENTATION_MEDIA_TYPE)


@router.get("/{library}/collection.json")
def library_collection(visit: CurrentVisit, library: str):
    found = visit.library(library, records=False)  # the manifests it may open: no restricted record
    if found is None:
        return not_found_plain()
    rows, _ = reading.library_items(visit.session, library, visit.who, None, 1, 10_000, records=False)
    document = manifest.library_collection(library, found.name, [(r.item_id, r.title) for r in rows],
                                           visit.config.links)
    return json_answer(document, responses.listing_headers(visit.who.opens_restricted), PRESENTATION_MEDIA_TYPE)


@router.get("/{library}/{item_id}/manifest.json")
def item_manifest(request: Request, visit: CurrentVisit, library: str, item_id: str):
    item = visit.item(library, item_id)
    if item is None:
        return not_found_plain()
    found = visit.config.stored_items.get(item)
    headers = caching(item, hashlib.sha256(f"{item.stored}|{item.updated}".encode()).hexdigest()[:32])
    headers |= iiif_headers(item, iiif_image.CORS_HEADERS)
    if (answer := responses.unchanged(request, headers)) is not None:
        return answer
    holder = visit.library(library)
    document = manifest.item_manifest(found.package, visit.config.links, holder.name if holder else library)
    if not visit.downloads(item):  # a reading room without downloads: no PDF, no ALTO offered
        document.pop("rendering", None)
        for canvas in document.get("items", []):
            canvas.pop("seeAlso", None)
    return json_answer(document, headers, PRESENTATION_MEDIA_TYPE)


@router.get("/{library}/{item_id}/search")
def item_search(request: Request, visit: CurrentVisit, library: str, item_id: str,
                q: str = Query("", max_length=MAX_SEARCH),
                start: int = Query(0, ge=0, le=MAX_PAGE * PAGE_SIZE)):
    item = visit.item(library, item_id)
    if item is None:
        return not_found_plain()
    asked = visit.config.links.search(library, item_id) + (f"?{request.url.query}" if request.url.query else "")
    document = search_inside(visit, item, q, asked, start=start)
    return json_answer(document, responses.item_cache_control(item) | iiif_headers(item, iiif_image.CORS_HEADERS))


@router.get("/{library}/{item_id}/{page}")
def image_service(visit: CurrentVisit, library: str, item_id: str, page: str):
    _, image = page_image(visit, library, item_id, page)
    if image is None:
        return not_found_plain()
    return RedirectResponse(f"{visit.config.links.image_service(library, item_id, int(page))}/info.json", 303)


@router.get("/{library}/{item_id}/{page}/info.json")
def image_info(request: Request, visit: CurrentVisit, library: str, item_id: str, page: str):
    item, image = page_image(visit, library, item_id, page)
    if image is None:
        return not_found_plain()
    _, facts, width, height = image
    headers = caching(item, "info-" + facts.sha256[:32])
    headers |= iiif_headers(item, iiif_image.info_headers(request.headers.get("accept")))
    media = headers.pop("content-type")
    if (answer := responses.unchanged(request, headers)) is not None:
        return answer
    document = iiif_image.info(visit.config.links.image_service(library, item_id, int(page)), width, height)
    return json_answer(document, headers, media)


@router.get("/{library}/{item_id}/{page}/{region}/{size}/{rotation}/{quality_format}")
async def image(request: Request, visit: CurrentVisit, library: str, item_id: str, page: str, region: str, size: str,
                rotation: str, quality_format: str):
    asked = await run_in_threadpool(image_request, request, visit, library, item_id, page, region, size, rotation,
                                    quality_format)
    # the wait for a render slot and the render hold no ledger connection: sixteen renders at once
    # took the pool's fifteen, and the home page waited for one
    visit.session.close()
    if isinstance(asked, Response):
        return asked
    wanted, key, stored, headers, media = asked
    config = visit.config
    data = iiif_image.cached(wanted, key, config.images)
    if data is None:
        data = await rendered(config, lambda: iiif_image.render(wanted, key, lambda: config.store.read_bytes(stored),
                                                                config.images))
    if data is None:
        return Response(b"The server is making other images; please try again in a few seconds.\n", 503,
                        media_type="text/plain; charset=utf-8", headers={"retry-after": str(RETRY_AFTER)})
    return Response(data, media_type=media, headers=headers)


def image_request(request: Request, visit: Visit, library: str, item_id: str, page: str, region: str, size: str,
                  rotation: str, quality_format: str):
    """The request parsed against the page (and the stored image's key, its path, the headers and
    the media type of the answer), or the answer itself: 404, 400, 304."""
    item, image = page_image(visit, library, item_id, page)
    if image is None:
        return not_found_plain()
    relative, facts, width, height = image
    headers = caching(item, facts.sha256[:16])
    try:
        wanted = iiif_image.parse(region, size, rotation, quality_format, width, height)
    except iiif_image.ImageRequestError as exc:
        return responses.plain(f"{exc.message}\n", exc.status)
    config = visit.config
    headers |= iiif_headers(item, iiif_image.image_headers(config.links.image_service(library, item_id, int(page)),
                                                            wanted, facts.sha256))
    media = headers.pop("content-type")
    if (answer := responses.unchanged(request, headers)) is not None:
        return answer
    return wanted, facts.sha256, f"{library}/{item_id}/{relative}", headers, media


async def rendered(config: SiteConfig, render: Callable[[], bytes]) -> bytes | None:
    """``render()`` in a thread once one of the process's ``render_slots`` is free; None if none
    was within ``render_wait`` seconds. Renders that all arrive at once are thus made a few at a
    time, in bounded memory, while the rest of the site keeps answering; the memory of the last
    render is handed back to the system."""
    if config.renders is None:
        memory.map_large_blocks()
        config.renders = anyio.Semaphore(config.render_slots)
    acquired = False
    with anyio.move_on_after(config.render_wait):
        await config.renders.acquire()
        acquired = True
    if not acquired:
        return None
    try:
        data = await run_in_threadpool(render)
    finally:
        config.renders.release()
    if config.renders.value == config.render_slots:  # the last render at this moment
        await run_in_threadpool(memory.give_back)
    return data


def page_image(visit: Visit, library: str, item_id: str, page: str):
    """The item and its page's image (relative path, facts, width, height), if the visitor may see
    them; a page number is ASCII digits without a leading zero (one address per page)."""
    item = visit.item(library, item_id)
    number = whole_number(page)
    if item is None or number is None:
        return None, None
    return item, visit.config.stored_items.get(item).page_image(number)


def search_inside(visit: Visit, item: Item, query: str, asked: str, start: int = 0, limit: int = 100) -> dict:
    """The item's IIIF Content Search answer: only the ALTO of the pages the index says hold the
    words is read (every page's, if the item is not in the index)."""
    library, item_id = item.library, item.item_id
    config = visit.config
    found = config.stored_items.get(item)
    holding = search.item_pages(visit.session, library, item_id, query)
    pages = [(page.number, config.store.read_bytes(f"{library}/{item_id}/{relative}"))
             for page, relative in found.altos() if holding is None or page.number in holding]
    sizes = {page.number: (page.image_width, page.image_height) for page in found.package.pages
             if page.image_width}
    return content_search.search_item(query, pages, lambda number: config.links.canvas(library, item_id, number),
                                      sizes, asked, start=start, limit=limit)
