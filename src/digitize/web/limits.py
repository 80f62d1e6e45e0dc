"""The bounds of a request, and the middleware every request goes through first."""

from __future__ import annotations

import os
import re

from starlette.responses import PlainTextResponse

MAX_BODY = 64 * 1024  # bytes of a request body (an OAI-PMH POST needs a few hundred)
MAX_QUERY_STRING = 2048  # bytes
MAX_PARAMETERS = 20
MAX_FORM = 4096  # bytes of a sign-in form read
MAX_SEARCH = 500  # characters of a search
MAX_PAGE = 1_000_000  # larger page numbers are refused (400) before any query
PAGE_SIZE = 20  # items on a page of a library or of a search
MAX_HEADERS = 16 * 1024  # bytes of a request's line and headers (uvicorn's h11 answers 400 and closes beyond)
# IIIF images made at once by one server process, half its cores (answers already made are sent at once)
RENDERS = max(1, (os.cpu_count() or 2) // 2)
RENDER_WAIT = 3.0  # seconds a request waits for its turn to be made, before a 503
RETRY_AFTER = 5  # seconds, the Retry-After of that 503
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    # the dashboard is one self-contained page: its inline style, nothing loaded, never in a frame
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]


_DIGITS = re.compile(r"[0-9]{1,18}")  # str.isdigit() and int() also take "²", "١", "𝟏"


def whole_number(text: str | None, canonical: bool = True) -> int | None:
    """The number ``text`` writes in ASCII digits, else None; ``canonical``: None also for a leading
    zero ("01"), so that one page has one address."""
    if text is None or not _DIGITS.fullmatch(text) or (canonical and len(text) > 1 and text[0] == "0"):
        return None
    return int(text)


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware: refuses a query string longer than ``max_query`` bytes (414) or with more
    than ``max_parameters`` parameters (400), and a body over ``max_body`` bytes (413), by its
    Content-Length or, without one, once that much has streamed in; adds SECURITY_HEADERS that the
    response does not set itself."""

    def __init__(self, app, max_body: int = MAX_BODY, max_query: int = MAX_QUERY_STRING,
                 max_parameters: int = MAX_PARAMETERS):
        self.app, self.max_body, self.max_query, self.max_parameters = app, max_body, max_query, max_parameters

    def refusal(self, scope):
        query = scope.get("query_string", b"")
        if len(query) > self.max_query:
            return PlainTextResponse(f"The query string is longer than {self.max_query} bytes.", 414)
        if query.count(b"&") >= self.max_parameters:
            return PlainTextResponse(f"More than {self.max_parameters} parameters.", 400)
        length = whole_number(dict(scope["headers"]).get(b"content-length", b"0").decode("latin-1"), False)
        if length is None or length > self.max_body:
            return self.too_large()

    def too_large(self):
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
