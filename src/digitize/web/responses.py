"""The answers every route shares: HTML pages under the site's policy, JSON, the plain not-found,
and the headers of caching (ETag, Last-Modified, 304), CORS and listings. JSON or HTML is chosen
here (``wants_json``) and nowhere else."""

from __future__ import annotations

import json
from datetime import timezone
from email.utils import format_datetime

from fastapi import Request
from starlette.responses import HTMLResponse, Response

from digitize.access.iiif import image as iiif_image
from digitize.ledger.database import Item

# The item pages run Mirador: its scripts from here, the styles it injects, images and the IIIF
# documents from here. Nothing from elsewhere, never framed.
SITE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
OPEN_CACHE = "public, max-age=86400"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"  # a static file by its versioned name
PRIVATE_CACHE = "private, no-store"  # what a reading room or staff opened stays out of shared caches
PRESENTATION_MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
NOT_FOUND_TEXT = b"Not found.\n"


def wants_json(request: Request) -> bool:
    """Whether the client asks for JSON rather than HTML (a browser's Accept names text/html first)."""
    accept = request.headers.get("accept", "").lower()
    return "json" in accept and "text/html" not in accept


def json_answer(document: dict, headers: dict[str, str], media_type: str = "application/json") -> Response:
    return Response(json.dumps(document, ensure_ascii=False, indent=1).encode(), media_type=media_type,
                    headers=headers)


def html_page(html: str, private: bool, status: int = 200) -> HTMLResponse:
    """A page of the site; ``private`` when its visitor opens restricted items."""
    return HTMLResponse(html, status, headers={"content-security-policy": SITE_POLICY,
                                               "cache-control": PRIVATE_CACHE if private else "no-cache"})


def plain(text: str, status: int) -> Response:
    return Response(text.encode(), status, media_type="text/plain; charset=utf-8")


def not_found_plain() -> Response:
    """The 404 of files, images and IIIF documents: the same for whatever was not found or refused."""
    return Response(NOT_FOUND_TEXT, 404, media_type="text/plain; charset=utf-8")


def caching(item: Item, tag: str) -> dict[str, str]:
    """ETag, Last-Modified and Cache-Control of what is read from ``item``."""
    changed = item.updated or item.digitized
    if changed.tzinfo is None:
        changed = changed.replace(tzinfo=timezone.utc)
    return {"etag": f'"{tag}"', "last-modified": format_datetime(changed.astimezone(timezone.utc), usegmt=True),
            "cache-control": OPEN_CACHE if item.access == "open" else PRIVATE_CACHE}


def item_cache_control(item: Item) -> dict[str, str]:
    return {"cache-control": OPEN_CACHE if item.access == "open" else PRIVATE_CACHE}


def iiif_headers(item: Item, headers: dict[str, str]) -> dict[str, str]:
    """The IIIF module's ``headers`` (lower-cased); for an item that is not open without their
    CORS grant: a reading room is let in by its address, so another site's script in a
    reader's browser must not read its images."""
    return {k.lower(): v for k, v in headers.items()
            if item.access == "open" or not k.lower().startswith("access-control-")}


def listing_headers(opens_restricted: bool) -> dict[str, str]:
    """A listing shows what its visitor may see: other sites read it only when that is public."""
    cors = {} if opens_restricted else {k.lower(): v for k, v in iiif_image.CORS_HEADERS.items()}
    return {**cors, "cache-control": PRIVATE_CACHE if opens_restricted else "no-cache"}


def unchanged(request: Request, headers: dict[str, str]) -> Response | None:
    """A 304 when the client's If-None-Match names the ETag in ``headers``."""
    tags = request.headers.get("if-none-match", "")
    if tags and (tags.strip() == "*" or headers["etag"] in [t.strip() for t in tags.split(",")]):
        return Response(status_code=304, headers=headers)
    return None
