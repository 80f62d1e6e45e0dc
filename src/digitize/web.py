"""The web app served by ``digitize web``: the coordinators' dashboard at / and the OAI-PMH data
provider at /oai. This module only wires HTTP to them: the dashboard's HTML comes from
``digitize.dashboard``, the OAI-PMH responses from ``digitize.oai``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from digitize import dashboard, oai
from digitize.plans import Plan


def create_app(open_session, plans: dict[str, Plan], store_url: str | None = None, oai_page_size: int = 100,
               today: Callable[[], date] = date.today):
    """The web app: the dashboard at /, and the OAI-PMH data provider at /oai when ``store_url``
    (where the items' dc.xml and mets.xml are) is given. ``open_session`` gives a ledger session
    per request."""
    from fastapi import FastAPI

    app = FastAPI(title="digitize")
    add_dashboard(app, open_session, plans, today)
    if store_url is not None:
        add_oai(app, open_session, store_url, oai_page_size)
    return app


def add_dashboard(app, open_session, plans: dict[str, Plan], today: Callable[[], date] = date.today,
                  path: str = "/") -> None:
    """Serve the dashboard at ``path`` (GET; ?lang=en, province, library, since, as_of)."""
    from fastapi.responses import HTMLResponse

    @app.get(path, response_class=HTMLResponse)
    def show_dashboard(lang: str = "vi", province: str | None = None, library: str | None = None,
                       since: date | None = None, as_of: date | None = None) -> str:
        session = open_session()
        try:
            return dashboard.render(session, plans, as_of or today(), lang, province, library, since)
        finally:
            session.close()


def add_oai(app, open_session, store_url: str, page_size: int = 100, repository_id: str = "digitize",
            base_url: str | None = None, secret: bytes | None = None, path: str = "/oai") -> None:
    """Serve OAI-PMH at ``path`` (GET and POST) on a FastAPI app. ``base_url``: the address
    harvesters use, if it is not the one the request came to (behind a proxy)."""
    from urllib.parse import parse_qsl

    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    from digitize.storage import open_store

    stores = []

    def answer(url: str, pairs: list[tuple[str, str]]) -> Response:
        if not stores:
            stores.append(open_store(store_url))
        session = open_session()
        try:
            body = oai.respond(session, stores[0], pairs, base_url or url, repository_id, page_size, secret=secret)
        finally:
            session.close()
        return Response(body, media_type="text/xml; charset=utf-8")

    async def endpoint(request):  # a plain Starlette route: the OAI arguments are not FastAPI parameters
        pairs = request.query_params.multi_items()
        if request.method == "POST":
            pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        return await run_in_threadpool(answer, str(request.url.replace(query="", fragment="")), pairs)

    app.add_route(path, endpoint, methods=["GET", "POST"], include_in_schema=False)
