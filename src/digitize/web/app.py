"""The web app served by ``digitize web``: the public app (the site, IIIF, the staff area behind
a sign-in, OAI-PMH at /oai; it publishes, so it needs the public base URL) or, with ``--staff``,
the coordinators' dashboard alone at / on a loopback address. The route table is here; each
area's routes are in ``digitize.web.routes``. Every request goes through ``RequestLimits`` first."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.middleware.gzip import GZipMiddleware
from sqlalchemy.orm import Session

from digitize.access import oai as oai_pmh
from digitize.access.reading import ItemUnreadable
from digitize.core.errors import ConfigError
from digitize.core.links import PublicLinks
from digitize.core.profiles import LibraryDeclaration
from digitize.ledger.plans import Plan
from digitize.store.storage import open_store
from digitize.web import errors
from digitize.web.config import DashboardConfig, SiteConfig
from digitize.web.limits import MAX_HEADERS, RequestLimits
from digitize.web.methods import Methods
from digitize.web.routes import dashboard, editor, files, iiif, oai, review, search, site, sitemap
from digitize.web.routes import staff as staff_area
from digitize.web.routes import transcription

# Answers not worth gzip-encoding (images, PDFs: compressed already); the static files come encoded.
COMPRESSED_ALREADY = ("image/*", "audio/*", "video/*", "font/*", "application/pdf", "application/zip",
                      "application/gzip", "application/octet-stream", "text/event-stream")


def create_app(open_session: Callable[[], Session], plans: dict[str, Plan], store_url: str | None = None,
               oai_page_size: int = 100, today: Callable[[], date] = date.today, staff: bool = False,
               secret_key: bytes | None = None, links: PublicLinks | None = None, reading_rooms: list | None = None,
               proxies: list | None = None, data: Path | None = None,
               libraries: dict[str, LibraryDeclaration] | None = None) -> FastAPI:
    """The web app. With ``staff``: the dashboard at / alone. Otherwise the public app: the reading
    service and OAI-PMH at /oai, from the items in the store at ``store_url``, with every link
    under ``links`` (the public base URL). ``open_session`` gives a ledger session per request;
    ``secret_key`` signs the resumption tokens and the staff sessions: ``Settings.token_key()``,
    which every worker shares [default: a key of this process only]. ``reading_rooms`` and
    ``proxies``: networks (``reading.networks``) of the reading rooms, where restricted items are
    open, and of the reverse proxies whose X-Forwarded-For is believed. ``libraries``: the
    declarations of libraries.toml (reading rooms, restricted records listed, downloads). ``data``: the data folder, whose
    record of the last malware scan the dashboard shows."""
    app = FastAPI(title="digitize", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,  # pages, JSON, XML, text
                      exclude_content_types=COMPRESSED_ALREADY)
    app.add_middleware(Methods)  # HEAD, CORS preflight
    app.add_middleware(RequestLimits)  # added last: the outermost, every request's first
    app.add_exception_handler(RequestValidationError, errors.bad_parameter)
    if staff:
        app.state.config = DashboardConfig(open_session=open_session, plans=plans, today=today, data=data)
        app.include_router(dashboard.router)
        return app
    if store_url is None or links is None:
        raise ConfigError("the public app needs the store and the public address", "digitize web",
                          "set DIGITIZE_PUBLIC_URL (and DIGITIZE_STORE)")
    secret_key = secret_key or oai_pmh.PROCESS_KEY
    store = open_store(store_url)
    app.state.config = SiteConfig(open_session=open_session, plans=plans, today=today, data=data, store=store,
                                  links=links,
                                  secret_key=secret_key, reading_rooms=reading_rooms or [], proxies=proxies or [],
                                  libraries=libraries or {})
    app.state.oai = oai.Provider(open_session, store, links, oai_page_size, secret=secret_key)
    app.add_exception_handler(ItemUnreadable, errors.item_unreadable)

    app.include_router(site.router)  # /, /libraries/{library}, /items/{library}/{item_id}
    app.include_router(search.router)  # /search
    app.include_router(files.router)  # /items/{library}/{item_id}/files/{relative}, /static/{name}
    app.include_router(iiif.router)  # /iiif/...: images, manifests, collections, content search
    app.include_router(sitemap.router)  # /sitemap.xml
    app.include_router(staff_area.router)  # /staff/login, /staff/logout, /staff/
    app.include_router(review.router)  # /staff/review..., /staff/users
    app.include_router(editor.router)  # /staff/review/{library}/{item_id}/pages/{n}: the page editor
    app.include_router(transcription.router)  # /staff/review/{library}/{item_id}/pages/{n}/transcription
    app.include_router(oai.router)  # /oai
    return app


def app_from_settings() -> FastAPI:
    """The public app as the settings say (``digitize web --workers N`` starts one per worker)."""
    from digitize.access import reading
    from digitize.core.profiles import load_libraries
    from digitize.core.settings import get_settings
    from digitize.ledger import database as ledger
    from digitize.ledger.plans import load_plans

    settings = get_settings()
    engine = ledger.open_ledger(settings.ledger_url).get_bind()
    return create_app(lambda: Session(engine), load_plans(settings.profiles), store_url=settings.store_url,
                      oai_page_size=settings.oai_page_size, secret_key=settings.token_key(), links=settings.links(),
                      reading_rooms=reading.networks(settings.reading_rooms, "DIGITIZE_READING_ROOMS"),
                      proxies=reading.networks(settings.trusted_proxies, "DIGITIZE_TRUSTED_PROXIES"),
                      data=settings.data, libraries=load_libraries(settings.profiles))


def server_options() -> dict:
    """uvicorn's options for ``digitize web``: h11, whose bound on a request's line and headers
    (MAX_HEADERS) ends a request with endless headers at once (httptools reads them without end)."""
    return {"http": "h11", "h11_max_incomplete_event_size": MAX_HEADERS, "log_level": "warning"}


def require_loopback(host: str) -> None:
    """Raise ConfigError unless ``host`` is a loopback address (the staff app names restricted items)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(f"the staff dashboard is served on a loopback address only, not on {host}",
                          "digitize web --staff", "use --host 127.0.0.1 and reach it through an SSH tunnel, "
                          "or serve the public app (without --staff)")


def add_oai(app: FastAPI, open_session: Callable[[], Session], store_url: str, links: PublicLinks,
            page_size: int = 100, repository_id: str = "digitize", secret: bytes | None = None,
            path: str = "/oai") -> None:
    """Serve OAI-PMH at ``path`` (GET and POST) from a provider of its own, as ``oai.Provider`` says."""
    provider = oai.Provider(open_session, open_store(store_url), links, page_size, repository_id, secret)
    app.add_route(path, provider.endpoint, methods=["GET", "POST"], include_in_schema=False)
