"""The web app served by ``digitize web``. The public app is the reading service
(``digitize.web.reading``: the site, IIIF, the staff area behind a sign-in) and the OAI-PMH data
provider at /oai; it publishes, so it needs the public base URL. The loopback app
(``digitize web --staff``, on a loopback address only, for an SSH tunnel) is the coordinators'
dashboard alone, at /. This module only wires HTTP to them: the dashboard's HTML comes from
``digitize.access.dashboard``, the OAI-PMH responses from ``digitize.access.oai``. Every request goes through
``RequestLimits`` first."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import date

from digitize.access import dashboard, oai
from digitize.core.errors import ConfigError
from digitize.core.links import PublicLinks
from digitize.ledger.plans import Plan
from digitize.web.reading import ReadingConfig, add_reading_service

MAX_BODY = 64 * 1024  # bytes of a request body (an OAI-PMH POST needs a few hundred)
MAX_QUERY = 2048  # bytes of a query string
MAX_PARAMETERS = 20
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # the dates the dashboard accepts
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    # the dashboard is one self-contained page: its inline style, nothing loaded, never in a frame
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]


def create_app(open_session, plans: dict[str, Plan], store_url: str | None = None, oai_page_size: int = 100,
               today: Callable[[], date] = date.today, staff: bool = False, secret_key: bytes | None = None,
               links: PublicLinks | None = None, reading_rooms: list | None = None, proxies: list | None = None):
    """The web app. With ``staff``: the dashboard at / alone. Otherwise the public app: the reading
    service and OAI-PMH at /oai, from the items in the store at ``store_url``, with every link
    under ``links`` (the public base URL). ``open_session`` gives a ledger session per request;
    ``secret_key`` signs the resumption tokens and the staff sessions: ``Settings.token_key()``,
    which every worker shares [default: a key of this process only]. ``reading_rooms`` and
    ``proxies``: networks (``reading.networks``) of the reading rooms, where restricted items are
    open, and of the reverse proxies whose X-Forwarded-For is believed."""
    from fastapi import FastAPI

    app = FastAPI(title="digitize", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestLimits)
    add_plain_errors(app)
    if staff:
        add_dashboard(app, open_session, plans, today)
        return app
    if store_url is None or links is None:
        raise ConfigError("the public app needs the store and the public address", "digitize web",
                          "set DIGITIZE_PUBLIC_URL (and DIGITIZE_STORE)")
    secret_key = secret_key or oai.PROCESS_KEY
    add_reading_service(app, ReadingConfig(open_session=open_session, store_url=store_url, links=links,
                                           secret_key=secret_key, plans=plans, reading_rooms=reading_rooms or [],
                                           proxies=proxies or [], today=today))
    add_oai(app, open_session, store_url, links, oai_page_size, secret=secret_key)
    return app


def app_from_settings():
    """The public app as the settings say (``digitize web --workers N`` starts one per worker)."""
    from sqlalchemy.orm import Session

    from digitize.ledger import database as ledger
    from digitize.access import reading
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    engine = ledger.open_ledger(settings.ledger_url).get_bind()
    return create_app(lambda: Session(engine), load_plans(settings.profiles), store_url=settings.store_url,
                      oai_page_size=settings.oai_page_size, secret_key=settings.token_key(), links=settings.links(),
                      reading_rooms=reading.networks(settings.reading_rooms, "DIGITIZE_READING_ROOMS"),
                      proxies=reading.networks(settings.trusted_proxies, "DIGITIZE_TRUSTED_PROXIES"))


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


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware: refuses a query string longer than ``max_query`` bytes (414) or with more
    than ``max_parameters`` parameters (400), and a body over ``max_body`` bytes (413), by its
    Content-Length or, without one, once that much has streamed in; adds SECURITY_HEADERS that the
    response does not set itself."""

    def __init__(self, app, max_body: int = MAX_BODY, max_query: int = MAX_QUERY,
                 max_parameters: int = MAX_PARAMETERS):
        self.app, self.max_body, self.max_query, self.max_parameters = app, max_body, max_query, max_parameters

    def refusal(self, scope):
        from starlette.responses import PlainTextResponse

        query = scope.get("query_string", b"")
        if len(query) > self.max_query:
            return PlainTextResponse(f"The query string is longer than {self.max_query} bytes.", 414)
        if query.count(b"&") >= self.max_parameters:
            return PlainTextResponse(f"More than {self.max_parameters} parameters.", 400)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            return self.too_large()

    def too_large(self):
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(f"The request body is larger than {self.max_body} bytes.", 413)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, received = False, 0

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                given = message.get("headers", [])
                names = {name.lower() for name, _ in given}  # a route may set its own policy (the site's pages)
                message = {**message, "headers": [*given, *(h for h in SECURITY_HEADERS if h[0] not in names)]}
            await send(message)

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise BodyTooLarge
            return message

        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if started:
                raise
            await self.too_large()(scope, receive, send_with_headers)


def add_plain_errors(app) -> None:
    """A query parameter FastAPI cannot read (as_of=tomorrow) gives a plain 400 naming the
    parameter, not its value (FastAPI's own answer would echo it)."""
    from fastapi.exceptions import RequestValidationError
    from starlette.responses import PlainTextResponse

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request, error):
        names = sorted({str(e["loc"][-1]) for e in error.errors() if e.get("loc")})
        return PlainTextResponse(f"Bad value of {', '.join(names) or 'a parameter'}.", 400)


def add_dashboard(app, open_session, plans: dict[str, Plan], today: Callable[[], date] = date.today,
                  path: str = "/") -> None:
    """Serve the dashboard at ``path`` (GET; ?lang=en, province, library, since, as_of)."""
    from fastapi.responses import HTMLResponse, PlainTextResponse

    @app.get(path, response_class=HTMLResponse)
    def show_dashboard(lang: str = "vi", province: str | None = None, library: str | None = None,
                       since: date | None = None, as_of: date | None = None):
        if any(day is not None and not EARLIEST <= day <= LATEST for day in (since, as_of)):
            return PlainTextResponse(f"since and as_of must lie between {EARLIEST} and {LATEST}.", 400)
        session = open_session()
        try:
            return dashboard.render(session, plans, as_of or today(), lang, province, library, since)
        finally:
            session.close()


def add_oai(app, open_session, store_url: str, links: PublicLinks, page_size: int = 100,
            repository_id: str = "digitize", secret: bytes | None = None, path: str = "/oai") -> None:
    """Serve OAI-PMH at ``path`` (GET and POST) on a FastAPI app; ``links``: the public addresses
    (the base URL harvesters use, and what the records link to). ``secret``: the key of the
    resumption tokens, as for ``create_app``."""
    from urllib.parse import parse_qsl

    from starlette.concurrency import run_in_threadpool
    from starlette.responses import PlainTextResponse, Response

    from digitize.store.storage import open_store

    stores = []

    def answer(pairs: list[tuple[str, str]]) -> Response:
        if not stores:
            stores.append(open_store(store_url))
        session = open_session()
        try:
            body = oai.respond(session, stores[0], pairs, links, repository_id, page_size, secret=secret)
        finally:
            session.close()
        return Response(body, media_type="text/xml; charset=utf-8")

    async def endpoint(request):  # a plain Starlette route: the OAI arguments are not FastAPI parameters
        pairs = request.query_params.multi_items()
        if request.method == "POST":
            try:
                pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True,
                                  max_num_fields=MAX_PARAMETERS)
            except ValueError:
                return PlainTextResponse(f"More than {MAX_PARAMETERS} parameters.", 400)
        return await run_in_threadpool(answer, pairs)

    app.add_route(path, endpoint, methods=["GET", "POST"], include_in_schema=False)
