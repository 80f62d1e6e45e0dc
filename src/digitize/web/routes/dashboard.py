"""The coordinators' dashboard alone at /, the app of ``digitize web --staff`` (on loopback only)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from digitize.access import dashboard
from digitize.web.config import LoopbackConfig

EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # the dates the dashboard accepts

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def show_dashboard(config: LoopbackConfig, lang: str = "vi", province: str | None = None,
                   library: str | None = None, since: date | None = None, as_of: date | None = None):
    """The dashboard (?lang=en, province, library, since, as_of)."""
    if any(day is not None and not EARLIEST <= day <= LATEST for day in (since, as_of)):
        return PlainTextResponse(f"since and as_of must lie between {EARLIEST} and {LATEST}.", 400)
    session = config.open_session()
    try:
        return dashboard.render(session, config.plans, as_of or config.today(), lang, province, library, since,
                                data=config.data)
    finally:
        session.close()
