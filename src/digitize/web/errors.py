"""The exception handlers: plain answers that name what went wrong, never echo what was sent."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import PlainTextResponse, Response

from digitize.access.reading import ItemUnreadable

log = logging.getLogger(__name__)


async def bad_parameter(request: Request, error: RequestValidationError) -> Response:
    """A query parameter FastAPI cannot read (as_of=tomorrow) gives a plain 400 naming the
    parameter, not its value (FastAPI's own answer would echo it)."""
    names = sorted({str(e["loc"][-1]) for e in error.errors() if e.get("loc")})
    return PlainTextResponse(f"Bad value of {', '.join(names) or 'a parameter'}.", 400)


async def item_unreadable(request: Request, error: ItemUnreadable) -> Response:
    log.warning("a stored item cannot be read (run digitize audit): %s", error)
    return Response(b"This item cannot be shown right now; please try again later.\n", 503,
                    media_type="text/plain; charset=utf-8", headers={"retry-after": "3600"})
