"""HEAD wherever GET is answered, and the CORS preflight of the public documents.

HEAD is the GET of the same address without its body (the same status and headers, Content-Length
included), as HTTP asks of every server; FastAPI's routes answer GET only. A browser asks a
preflight (OPTIONS with Origin and Access-Control-Request-Method) before another site's script
reads IIIF or the search's JSON with a header of its own: for the public paths it is granted for
GET and HEAD from any origin, without credentials. The documents themselves still say whether
another site may read them (a restricted item's images carry no CORS grant)."""

from __future__ import annotations

import re

PREFLIGHT_PATHS = ("/iiif/", "/search", "/oai")
ALLOWED_METHODS = b"GET, HEAD"
_HEADER_NAMES = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
PREFLIGHT_MAX_AGE = b"86400"


class Methods:
    """ASGI middleware: HEAD answered as GET without the body; the CORS preflight of PREFLIGHT_PATHS."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, without_body(send))
            return
        if scope["method"] == "OPTIONS" and scope["path"].startswith(PREFLIGHT_PATHS):
            headers = dict(scope["headers"])
            if b"origin" in headers and b"access-control-request-method" in headers:
                await preflight(headers, send)
                return
        await self.app(scope, receive, send)


def without_body(send):
    """``send`` that keeps the status and the headers and drops the body."""
    async def sending(message):
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)
    return sending


async def preflight(headers: dict[bytes, bytes], send) -> None:
    """204 granting GET and HEAD from any origin, with the headers asked for (names only)."""
    granted = [(b"access-control-allow-origin", b"*"), (b"access-control-allow-methods", ALLOWED_METHODS),
               (b"access-control-max-age", PREFLIGHT_MAX_AGE), (b"vary", b"Origin")]
    asked = headers.get(b"access-control-request-headers", b"").strip()
    if asked and len(asked) <= 1024 and _HEADER_NAMES.fullmatch(asked):
        granted.append((b"access-control-allow-headers", asked))
    await send({"type": "http.response.start", "status": 204, "headers": granted})
    await send({"type": "http.response.body", "body": b""})
