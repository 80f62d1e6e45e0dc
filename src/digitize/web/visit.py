"""Who is asking, as a dependency of every route that reads the ledger: the client's address
(behind the trusted proxies), the reading room or not, the signed-in staff member, the language,
and the ledger session, closed when the route has answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from digitize.access import reading, site
from digitize.ledger import accounts
from digitize.ledger.database import Item, Library
from digitize.web import responses
from digitize.web.config import Config, SiteConfig

LANGUAGES = ("vi", "en")


class Visit:
    """One request of the public app: its ledger session, its visitor and its page context."""

    def __init__(self, request: Request, config: SiteConfig, session: Session):
        self.request, self.config, self.session = request, config, session
        cookie = request.cookies.get(accounts.SESSION_COOKIE, "")
        user = accounts.signed_in_user(session, cookie, config.secret_key, datetime.now(timezone.utc)) \
            if cookie else None
        # every X-Forwarded-For line, in order: a proxy may add its own line after the client's
        forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
        self.address = reading.client_address(request.client.host if request.client else "", forwarded,
                                              config.proxies)
        self.who = reading.visitor(self.address, user.name if user else None, config.reading_rooms,
                                   accounts.roles_of(user) if user else frozenset())
        lang = request.query_params.get("lang", "vi")
        self.lang = lang if lang in LANGUAGES else "vi"
        self.context = site.Context(base=config.links.base, lang=self.lang, path=request.url.path,
                                    query=request.url.query, user=self.who.staff,
                                    csrf=accounts.csrf_token(cookie, config.secret_key) if user else "")

    def item(self, library: str, item_id: str) -> Item | None:
        """The item if this visitor may open it; None however it is not (the routes' one 404)."""
        return reading.find_item(self.session, library, item_id, self.who)

    def record(self, library: str, item_id: str) -> Item | None:
        """The item whose public record (description, where to read it) anyone may see."""
        return reading.find_record(self.session, library, item_id)

    def downloads(self, item: Item) -> bool:
        """Whether this visitor is offered the item's PDF and files (an item they may open)."""
        return reading.downloads_offered(self.who, item, self.config.room_downloads)

    def libraries(self, who: reading.Visitor | None = None, records: bool = True) -> list[site.LibrarySummary]:
        """The libraries with what ``who`` (this visitor) may see of them: the items listed to them
        (``records``: restricted records too) or only those they may open."""
        links = self.config.links
        plans = self.config.plans
        return [site.LibrarySummary(code=row.code, name=row.name or row.code, province=row.province or "",
                                    url=links.library(row.code), counts=counts, tier=row.tier or "",
                                    province_name=plans[row.province].name if row.province in plans else "")
                for row, counts in reading.libraries(self.session, who or self.who, self.config.unlisted, records)]

    def library(self, code: str, records: bool = True) -> site.LibrarySummary | None:
        return next((s for s in self.libraries(records=records) if s.code == code), None)

    def record_library(self, code: str) -> site.LibrarySummary | None:
        """The library holding a record shown: as listed, or (all its items unlisted) by its name."""
        found = self.library(code)
        row = self.session.get(Library, code) if found is None else None
        return found or (site.LibrarySummary(code=code, name=row.name or code, province=row.province or "",
                                              url=self.config.links.library(code)) if row is not None else None)

    def page(self, html: str, status: int = 200) -> HTMLResponse:
        return responses.html_page(html, self.who.opens_restricted, status)

    def not_found(self) -> HTMLResponse:
        return self.page(site.not_found_page(self.context), 404)


def get_visit(request: Request, config: Config) -> Iterator[Visit]:
    session = config.open_session()
    try:
        yield Visit(request, config, session)
    finally:
        session.close()


# Closed as the route returns, before the answer is sent: a streamed file holds no connection.
CurrentVisit = Annotated[Visit, Depends(get_visit, scope="function")]
