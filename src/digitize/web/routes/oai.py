"""The OAI-PMH data provider at /oai (GET and POST)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from digitize.access import oai
from digitize.core.links import PublicLinks
from digitize.store.storage import Store
from digitize.web.limits import MAX_PARAMETERS


@dataclass
class Provider:
    """An OAI-PMH data provider over a ledger and a store; ``links``: the public addresses (the
    base URL harvesters use, and what the records link to); ``secret``: the key of the
    resumption tokens."""

    open_session: Callable[[], Session]
    store: Store
    links: PublicLinks
    page_size: int = 100
    repository_id: str = "digitize"
    secret: bytes | None = None

    async def endpoint(self, request: Request) -> Response:
        pairs = request.query_params.multi_items()
        if request.method == "POST":
            try:
                pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True,
                                  max_num_fields=MAX_PARAMETERS)
            except ValueError:
                return PlainTextResponse(f"More than {MAX_PARAMETERS} parameters.", 400)
        return await run_in_threadpool(self.answer, pairs)

    def answer(self, pairs: list[tuple[str, str]]) -> Response:
        session = self.open_session()
        try:
            body = oai.respond(session, self.store, pairs, self.links, self.repository_id, self.page_size,
                               secret=self.secret)
        finally:
            session.close()
        return Response(body, media_type="text/xml; charset=utf-8")


async def oai_pmh(request: Request) -> Response:
    return await request.app.state.oai.endpoint(request)


router = APIRouter()
# A plain Starlette route: the OAI arguments are not FastAPI parameters (and HEAD is answered too).
router.add_route("/oai", oai_pmh, methods=["GET", "POST"], include_in_schema=False)
