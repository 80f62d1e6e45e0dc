"""The reading service's routes on the web app: the public site (libraries, collections, item
pages with the viewer), the stored files, IIIF images, manifests and collections, the sitemap,
and the staff area (sign-in, the dashboard). This module wires HTTP only: who may see what is
``digitize.access.reading``'s, the pages are ``digitize.access.site``'s, the IIIF documents ``digitize.access.iiif.presentation``'s
and ``digitize.access.iiif.image``'s.

Every answer about an item goes through one lookup (``reading.find_item``): a secret, missing,
unstored or withdrawn item, or a restricted one outside the reading room and without staff, gets
the same 404 with the same body, whatever the route."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import format_datetime
from importlib.resources import files as package_files
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, urlencode

from fastapi import Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from digitize.ledger import accounts
from digitize.access.iiif import content_search, image as iiif_image, presentation as manifest
from digitize.access import dashboard, reading, site
from digitize.search import index as search
from digitize.describe.dublincore import ACCESS_TEXT, creators, title
from digitize.core.labels import CATEGORY_LABELS
from digitize.core.links import PublicLinks
from digitize.ledger.plans import Plan
from digitize.store.storage import open_store

log = logging.getLogger(__name__)
STATIC = Path(str(package_files("digitize") / "data" / "site"))
STATIC_FILES = {"site.css": "text/css; charset=utf-8", "viewer.js": "text/javascript; charset=utf-8",
                "mirador/mirador.min.js": "text/javascript; charset=utf-8"}
PAGE_SIZE = 20  # items per collection page
MAX_PAGE = 1_000_000  # larger page numbers are refused (400) before any query
MAX_QUERY = 500  # characters of a search
THUMBNAIL = "200,"  # the IIIF size of the thumbnails on the site
MAX_FORM = 4096  # bytes of a sign-in form
NOT_FOUND_TEXT = b"Not found.\n"
# The item pages run Mirador: its scripts from here, the styles it injects, images and the IIIF
# documents from here. Nothing from elsewhere, never framed.
SITE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
OPEN_CACHE = "public, max-age=86400"
PRESENTATION_MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
PRIVATE_CACHE = "private, no-store"  # what a reading room or staff opened stays out of shared caches


@dataclass
class ReadingConfig:
    open_session: Callable
    store_url: str
    links: PublicLinks
    secret_key: bytes
    plans: dict[str, Plan] = field(default_factory=dict)
    reading_rooms: list = field(default_factory=list)
    proxies: list = field(default_factory=list)
    today: Callable[[], date] = date.today
    image_cache_pixels: int = iiif_image.CACHE_PIXELS


def add_reading_service(app, config: ReadingConfig) -> None:
    links = config.links
    the_store = open_store(config.store_url)
    stored_items = reading.StoredItems(the_store)
    images = iiif_image.ImageCache(config.image_cache_pixels)
    secure = links.base.startswith("https://")
    static_tags = {name: hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:32] for name in STATIC_FILES}

    @app.exception_handler(reading.ItemUnreadable)
    async def unreadable(request, error):
        log.warning("a stored item cannot be read (run digitize audit): %s", error)
        return Response(b"This item cannot be shown right now; please try again later.\n", 503,
                        media_type="text/plain; charset=utf-8", headers={"retry-after": "3600"})

    def stored(item):
        return stored_items.get(item)

    class Visit:
        """One request: its ledger session, the visitor, and the page context."""

        def __init__(self, request: Request):
            self.request = request
            self.session = config.open_session()
            cookie = request.cookies.get(accounts.SESSION_COOKIE, "")
            user = accounts.signed_in_user(self.session, cookie, config.secret_key, datetime.now(timezone.utc)) \
                if cookie else None
            address = reading.client_address(request.client.host if request.client else "",
                                             request.headers.get("x-forwarded-for"), config.proxies)
            self.who = reading.visitor(address, user.name if user else None, config.reading_rooms)
            lang = request.query_params.get("lang", "vi")
            self.lang = lang if lang in ("vi", "en") else "vi"
            self.context = site.Context(base=links.base, lang=self.lang, path=request.url.path,
                                        query=request.url.query, user=self.who.staff,
                                        csrf=accounts.csrf_token(cookie, config.secret_key) if user else "")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.session.close()

        def item(self, library: str, item_id: str):
            return reading.find_item(self.session, library, item_id, self.who)

        def page(self, html: str, status: int = 200) -> Response:
            return HTMLResponse(html, status, headers={
                "content-security-policy": SITE_POLICY,
                "cache-control": PRIVATE_CACHE if self.who.opens_restricted else "no-cache"})

        def not_found(self) -> Response:
            return self.page(site.not_found_page(self.context), 404)

    def not_found_plain() -> Response:
        return Response(NOT_FOUND_TEXT, 404, media_type="text/plain; charset=utf-8")

    def caching(item, tag: str) -> dict[str, str]:
        changed = item.updated or item.digitized
        if changed.tzinfo is None:
            changed = changed.replace(tzinfo=timezone.utc)
        return {"etag": f'"{tag}"', "last-modified": format_datetime(changed.astimezone(timezone.utc), usegmt=True),
                "cache-control": OPEN_CACHE if item.access == "open" else PRIVATE_CACHE}

    def iiif_headers(item, headers: dict[str, str]) -> dict[str, str]:
        """The IIIF module's ``headers`` (lower-cased); for an item that is not open without their
        CORS grant: a reading room is let in by its address, so another site's script in a
        reader's browser must not read its images."""
        return {k.lower(): v for k, v in headers.items()
                if item.access == "open" or not k.lower().startswith("access-control-")}

    def unchanged(request: Request, headers: dict[str, str]) -> Response | None:
        tags = request.headers.get("if-none-match", "")
        if tags and (tags.strip() == "*" or headers["etag"] in [t.strip() for t in tags.split(",")]):
            return Response(status_code=304, headers=headers)
        return None

    def listing_headers(visit: Visit) -> dict[str, str]:
        """A collection lists what its visitor may see: other sites read it only when that is public."""
        cors = {} if visit.who.opens_restricted else {k.lower(): v for k, v in iiif_image.CORS_HEADERS.items()}
        return {**cors, "cache-control": PRIVATE_CACHE if visit.who.opens_restricted else "no-cache"}

    def json_answer(document: dict, headers: dict[str, str], media_type: str) -> Response:
        import json

        return Response(json.dumps(document, ensure_ascii=False, indent=1).encode(), media_type=media_type,
                        headers=headers)

    # ---- pages ------------------------------------------------------------------------------

    def summaries(visit: Visit, who: reading.Visitor | None = None) -> list[site.LibrarySummary]:
        return [site.LibrarySummary(code=row.code, name=row.name or row.code, province=row.province or "",
                                    url=links.library(row.code), counts=counts)
                for row, counts in reading.libraries(visit.session, who or visit.who)]

    @app.get("/", include_in_schema=False)
    def home(request: Request):
        with Visit(request) as visit:
            return visit.page(site.home(visit.context, summaries(visit)))

    @app.get("/libraries/{library}", include_in_schema=False)
    def library_page(request: Request, library: str, category: str | None = None,
                     page: int = Query(1, ge=1, le=MAX_PAGE)):
        with Visit(request) as visit:
            found = next((s for s in summaries(visit) if s.code == library), None)
            if found is None or (category is not None and category not in CATEGORY_LABELS["vi"]):
                return visit.not_found()
            rows, total = reading.library_items(visit.session, library, visit.who, category, page, PAGE_SIZE)
            pages = max(1, math.ceil(total / PAGE_SIZE))
            if page > pages:
                return visit.not_found()
            items = [site.ItemSummary(title=row.title, url=links.item(row.library, row.item_id),
                                      thumbnail_url=f"{links.image_service(row.library, row.item_id, 1)}"
                                                    f"/full/{THUMBNAIL}/0/default.jpg",
                                      pages=row.pages) for row in rows]
            return visit.page(site.library_page(visit.context, found, items, category, page, pages, total))

    @app.get("/items/{library}/{item_id}", include_in_schema=False)
    def item_page(request: Request, library: str, item_id: str, page: int | None = Query(None, ge=1, le=MAX_PAGE),
                  q: str = Query("", max_length=MAX_QUERY)):
        with Visit(request) as visit:
            item = visit.item(library, item_id)
            if item is None:
                return visit.not_found()
            package = stored(item).package
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
            library_row = next((s for s in summaries(visit) if s.code == library), None)
            view = site.ItemView(
                title=title(package.description), fields=item_fields(package, library_row, visit.lang),
                rights=ACCESS_TEXT[package.access], item_url=links.item(library, item_id),
                pdf_url=links.pdf(library, item_id), manifest_url=links.manifest(library, item_id),
                pages=[(p.number, p.label, f"{links.image_service(library, item_id, p.number)}/full/{THUMBNAIL}"
                                           "/0/default.jpg") for p in sorted(package.pages, key=lambda p: p.number)],
                library_url=links.library(library))
            return visit.page(site.item_page(visit.context, view, page, inside))

    @app.get("/search", include_in_schema=False)
    def search_page(request: Request):
        """The collection's search: HTML, or JSON when the client asks for it (Accept)."""
        with Visit(request) as visit:
            asked = search_request(request.query_params)
            if asked is None:
                return Response(b"Bad search parameters.\n", 400, media_type="text/plain; charset=utf-8")
            query, filters, page = asked
            tiers = set(search.SEARCHABLE_TIERS) if visit.who.opens_restricted else {"open"}
            result = search.search(visit.session, query, tiers, library=filters.get("library"),
                                   category=filters.get("category"), language=filters.get("language"),
                                   year_from=filters.get("from"), year_to=filters.get("to"), page=page,
                                   page_size=PAGE_SIZE)
            names = {s.code: s.name for s in summaries(visit)}

        def opened_at(hit: search.Hit) -> str:
            """The item page at the hit's page, the query's words highlighted there."""
            parameters = [("page", hit.page)] if hit.page else []
            parameters += [("q", query)] + ([("lang", "en")] if visit.lang == "en" else [])
            return f"{links.item(hit.library, hit.item_id)}?{urlencode(parameters)}"

        if wants_json(request):
            document = {"query": query, "filters": filters, "total": result.total, "more": result.more,
                        "page": result.page, "pageSize": result.page_size, "pages": result.pages,
                        "hits": [{"library": hit.library, "itemId": hit.item_id, "title": hit.title,
                                  "page": hit.page, "pagesMatched": hit.pages_matched,
                                  "snippet": "".join(text for text, _ in hit.snippet),
                                  "highlights": highlights(hit.snippet), "url": opened_at(hit),
                                  "manifest": links.manifest(hit.library, hit.item_id)} for hit in result.hits],
                        "facets": result.facets}
            return json_answer(document, listing_headers(visit) | {"vary": "Accept, Cookie"}, "application/json")
        facets = {"library": [(code, names.get(code, code), n) for code, n in result.facets["library"].items()],
                  "category": [(code, CATEGORY_LABELS[visit.lang].get(code, code), n)
                               for code, n in result.facets["category"].items()],
                  "language": [(code, manifest.LANGUAGE_NAMES.get(code, (code, code))[visit.lang == "en"], n)
                               for code, n in result.facets["language"].items()]}
        hits = [site.SearchHitView(title=hit.title, url=opened_at(hit), library=names.get(hit.library, hit.library),
                                   page=hit.page, pages_matched=hit.pages_matched, snippet=hit.snippet,
                                   thumbnail_url=f"{links.image_service(hit.library, hit.item_id, hit.page or 1)}"
                                                 f"/full/{THUMBNAIL}/0/default.jpg") for hit in result.hits]
        view = site.SearchView(url=links.base + "/search", query=query,
                               filters={k: str(v) for k, v in filters.items()}, hits=hits, total=result.total,
                               more=result.more, page=result.page, pages=result.pages, facets=facets,
                               libraries=sorted(names.items(), key=lambda pair: pair[1]), page_size=PAGE_SIZE)
        answer = visit.page(site.search_page(visit.context, view))
        answer.headers["vary"] = "Accept, Cookie"
        return answer

    # ---- stored files -----------------------------------------------------------------------

    @app.get("/items/{library}/{item_id}/files/{relative:path}", include_in_schema=False)
    def stored_file(request: Request, library: str, item_id: str, relative: str):
        with Visit(request) as visit:
            item = visit.item(library, item_id) if relative not in reading.NOT_SERVED else None
            facts = stored(item).servable(relative) if item is not None else None
            if facts is None:
                return not_found_plain()
            headers = caching(item, facts.sha256)
        if (answer := unchanged(request, headers)) is not None:
            return answer
        headers["content-length"] = str(facts.size)
        if relative.endswith(".pdf"):
            headers["content-disposition"] = f'inline; filename="{Path(relative).name}"'
        return StreamingResponse(the_store.read_chunks(f"{library}/{item_id}/{relative}"),
                                 media_type=media_type(relative), headers=headers)

    # ---- IIIF -------------------------------------------------------------------------------

    @app.get("/iiif/collection.json", include_in_schema=False)
    def top_collection(request: Request):
        with Visit(request) as visit:
            document = manifest.top_collection([(s.code, s.name) for s in summaries(visit)], links)
        return json_answer(document, listing_headers(visit),
                           PRESENTATION_MEDIA_TYPE)

    @app.get("/iiif/{library}/collection.json", include_in_schema=False)
    def library_collection(request: Request, library: str):
        with Visit(request) as visit:
            found = next((s for s in summaries(visit) if s.code == library), None)
            if found is None:
                return not_found_plain()
            rows, _ = reading.library_items(visit.session, library, visit.who, None, 1, 10_000)
            document = manifest.library_collection(library, found.name, [(r.item_id, r.title) for r in rows], links)
        return json_answer(document, listing_headers(visit),
                           PRESENTATION_MEDIA_TYPE)

    @app.get("/iiif/{library}/{item_id}/manifest.json", include_in_schema=False)
    def item_manifest(request: Request, library: str, item_id: str):
        with Visit(request) as visit:
            item = visit.item(library, item_id)
            if item is None:
                return not_found_plain()
            found = stored(item)
            headers = caching(item, hashlib.sha256(f"{item.stored}|{item.updated}".encode()).hexdigest()[:32])
            headers |= iiif_headers(item, iiif_image.CORS_HEADERS)
            if (answer := unchanged(request, headers)) is not None:
                return answer
            name = next((s.name for s in summaries(visit) if s.code == library), library)
            document = manifest.item_manifest(found.package, links, name)
        return json_answer(document, headers, PRESENTATION_MEDIA_TYPE)

    def search_inside(visit: Visit, item, query: str, asked: str, start: int = 0, limit: int = 100) -> dict:
        """The item's IIIF Content Search answer: only the ALTO of the pages the index says hold the
        words is read (every page's, if the item is not in the index)."""
        library, item_id, found = item.library, item.item_id, stored(item)
        holding = search.item_pages(visit.session, library, item_id, query)
        pages = [(page.number, the_store.read_bytes(f"{library}/{item_id}/{relative}"))
                 for page, relative in found.altos() if holding is None or page.number in holding]
        sizes = {page.number: (page.image_width, page.image_height) for page in found.package.pages
                 if page.image_width}
        return content_search.search_item(query, pages, lambda number: links.canvas(library, item_id, number), sizes,
                                          asked, start=start, limit=limit)

    @app.get("/iiif/{library}/{item_id}/search", include_in_schema=False)
    def item_search(request: Request, library: str, item_id: str, q: str = Query("", max_length=MAX_QUERY),
                    start: int = Query(0, ge=0, le=MAX_PAGE * PAGE_SIZE)):
        with Visit(request) as visit:
            item = visit.item(library, item_id)
            if item is None:
                return not_found_plain()
            asked = links.search(library, item_id) + (f"?{request.url.query}" if request.url.query else "")
            document = search_inside(visit, item, q, asked, start=start)
        headers = {"cache-control": OPEN_CACHE if item.access == "open" else PRIVATE_CACHE}
        return json_answer(document, headers | iiif_headers(item, iiif_image.CORS_HEADERS), "application/json")

    def page_image(visit: Visit, library: str, item_id: str, page: str):
        item = visit.item(library, item_id)
        if item is None or not page.isdigit():
            return None, None
        return item, stored(item).page_image(int(page))

    @app.get("/iiif/{library}/{item_id}/{page}", include_in_schema=False)
    def image_service(request: Request, library: str, item_id: str, page: str):
        with Visit(request) as visit:
            item, image = page_image(visit, library, item_id, page)
        if image is None:
            return not_found_plain()
        return RedirectResponse(f"{links.image_service(library, item_id, int(page))}/info.json", 303)

    @app.get("/iiif/{library}/{item_id}/{page}/info.json", include_in_schema=False)
    def image_info(request: Request, library: str, item_id: str, page: str):
        with Visit(request) as visit:
            item, image = page_image(visit, library, item_id, page)
            if image is None:
                return not_found_plain()
            _, facts, width, height = image
            headers = caching(item, "info-" + facts.sha256[:32])
        headers |= iiif_headers(item, iiif_image.info_headers(request.headers.get("accept")))
        media = headers.pop("content-type")
        if (answer := unchanged(request, headers)) is not None:
            return answer
        document = iiif_image.info(links.image_service(library, item_id, int(page)), width, height)
        return json_answer(document, headers, media)

    @app.get("/iiif/{library}/{item_id}/{page}/{region}/{size}/{rotation}/{quality_format}", include_in_schema=False)
    def image(request: Request, library: str, item_id: str, page: str, region: str, size: str, rotation: str,
              quality_format: str):
        with Visit(request) as visit:
            item, image = page_image(visit, library, item_id, page)
            if image is None:
                return not_found_plain()
            relative, facts, width, height = image
            headers = caching(item, facts.sha256[:16])
        try:
            wanted = iiif_image.parse(region, size, rotation, quality_format, width, height)
        except iiif_image.ImageRequestError as exc:
            return Response(f"{exc.message}\n".encode(), exc.status, media_type="text/plain; charset=utf-8")
        headers |= iiif_headers(item, iiif_image.image_headers(links.image_service(library, item_id, int(page)),
                                                                wanted, facts.sha256))
        media = headers.pop("content-type")
        if (answer := unchanged(request, headers)) is not None:
            return answer
        key = f"{library}/{item_id}/{relative}"
        data = iiif_image.render(wanted, facts.sha256, lambda: the_store.read_bytes(key), images)
        return Response(data, media_type=media, headers=headers)

    # ---- sitemap and static files -----------------------------------------------------------

    @app.get("/sitemap.xml", include_in_schema=False)
    def sitemap(request: Request):
        with Visit(request) as visit:
            libraries = [s.url for s in summaries(visit, reading.Visitor())]
            items = [links.item(i.library, i.item_id) for i in reading.public_items(visit.session)]
        return Response(site.sitemap([links.home(), *libraries, *items]), media_type="application/xml")

    @app.get("/static/{name:path}", include_in_schema=False)
    def static(request: Request, name: str):
        if name not in STATIC_FILES:
            return not_found_plain()
        headers = {"etag": f'"{static_tags[name]}"', "cache-control": "public, max-age=86400"}
        if (answer := unchanged(request, headers)) is not None:
            return answer
        return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name], headers=headers)

    # ---- staff area -------------------------------------------------------------------------

    def form(body: bytes) -> dict[str, str]:
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10))
        except (UnicodeDecodeError, ValueError):
            return {}

    def local_path(target: str | None) -> str:
        """A path of this site to go to after signing in (never another site's address)."""
        if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
            return "/staff/"
        return target

    @app.get("/staff/login", include_in_schema=False)
    def sign_in_form(request: Request, next: str | None = None):
        with Visit(request) as visit:
            seed = request.cookies.get(accounts.FORM_COOKIE) or accounts.new_form_seed()
            answer = visit.page(site.sign_in_page(visit.context, accounts.csrf_token(seed, config.secret_key),
                                                  None, local_path(next)))
        answer.headers.append("set-cookie", accounts.cookie_header(seed, secure, accounts.FORM_COOKIE))
        return answer

    @app.post("/staff/login", include_in_schema=False)
    async def sign_in(request: Request):
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        return await run_in_threadpool(signing_in, request, form(body[:MAX_FORM]))

    def signing_in(request: Request, fields: dict[str, str]):
        with Visit(request) as visit:
            seed = request.cookies.get(accounts.FORM_COOKIE)
            if not accounts.check_csrf(fields.get("csrf"), seed, config.secret_key):
                return visit.page(site.refused_page(visit.context), 403)
            now = datetime.now(timezone.utc)
            user = accounts.sign_in(visit.session, fields.get("name", ""), fields.get("password", ""), now)
            if user is None:
                known = accounts.find_user(visit.session, fields.get("name", "")) \
                    if accounts.NAME.fullmatch(fields.get("name", "")) else None
                error = "locked" if known is not None and accounts.is_locked(known, now) else "wrong"
                return visit.page(site.sign_in_page(visit.context, accounts.csrf_token(seed, config.secret_key),
                                                    error, local_path(fields.get("next"))), 403)
            answer = RedirectResponse(links.base + local_path(fields.get("next")), 303)
            answer.headers.append("set-cookie", accounts.cookie_header(
                accounts.make_session(user.name, config.secret_key, now), secure))
            return answer

    @app.post("/staff/logout", include_in_schema=False)
    async def sign_out(request: Request):
        fields = form((await request.body())[:MAX_FORM])
        if not accounts.check_csrf(fields.get("csrf"), request.cookies.get(accounts.SESSION_COOKIE),
                                   config.secret_key):
            return Response(b"Refused: the form is not this site's.\n", 403, media_type="text/plain; charset=utf-8")
        answer = RedirectResponse(links.home(), 303)
        answer.headers.append("set-cookie", accounts.clearing_cookie_header(secure))
        return answer

    @app.get("/staff/", include_in_schema=False)
    def staff_dashboard(request: Request, lang: str = "vi"):
        with Visit(request) as visit:
            if not visit.who.staff:
                return RedirectResponse(f"{links.base}/staff/login?next=/staff/", 303)
            html = dashboard.render(visit.session, config.plans, config.today(), visit.lang)
        return HTMLResponse(html, headers={"cache-control": PRIVATE_CACHE})


def item_fields(package, library, lang: str) -> list[tuple[str, list[str]]]:
    """The Dublin Core fields of the item page, in its order."""
    d = package.description
    fields = [("title", [title(d)]), ("creator", creators(d)), ("date", [d.date]), ("publisher", [d.publisher]),
              ("language", [manifest.LANGUAGE_NAMES.get(code, (code, code))[lang == "en"] for code in d.languages]),
              ("subject", d.subjects), ("coverage", [*d.places, *d.periods]),
              ("type", [CATEGORY_LABELS[lang].get(package.category.value, package.category.value)]),
              ("format", [d.extent, f"{len(package.pages)} tr." if lang == "vi" else f"{len(package.pages)} p."]),
              ("identifier", [d.call_number, package.item_id]),
              ("library", [library.name if library else package.library])]
    return [(key, [v for v in values if v]) for key, values in fields if any(values)]


def media_type(relative: str) -> str:
    suffix = Path(relative).suffix.lower()
    return {".pdf": "application/pdf", ".xml": "application/xml", ".txt": "text/plain; charset=utf-8",
            ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
            ".tiff": "image/tiff", ".jp2": "image/jp2"}.get(suffix, "application/octet-stream")


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
            if not value.isdigit() or len(value) > 4:
                return None
            filters[name] = int(value)
        elif len(value) <= 64:
            filters[name] = value
        else:
            return None
    page = parameters.get("page", "1")
    if len(query) > MAX_QUERY or not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        return None
    return query, filters, int(page)


def wants_json(request: Request) -> bool:
    """Whether the client asks for JSON rather than HTML (a browser's Accept names text/html first)."""
    accept = request.headers.get("accept", "").lower()
    return "json" in accept and "text/html" not in accept


def highlights(parts: list[tuple[str, bool]]) -> list[list[int]]:
    """The [start, end) offsets of the matched parts in the joined snippet."""
    found, offset = [], 0
    for text, matched in parts:
        if matched:
            found.append([offset, offset + len(text)])
        offset += len(text)
    return found
