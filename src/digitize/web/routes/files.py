"""The stored files of an item (its PDF, METS, ALTO, images) and the site's static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from digitize.access import assets, reading
from digitize.web import responses
from digitize.web.visit import CurrentVisit

MEDIA_TYPES = {".pdf": "application/pdf", ".xml": "application/xml", ".txt": "text/plain; charset=utf-8",
               ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
               ".tiff": "image/tiff", ".jp2": "image/jp2"}

DOWNLOADS_REFUSED = ("This library's reading room offers no downloads of its restricted items: read it in the "
                     "viewer on the item's page.\nPhòng đọc của thư viện không cho tải tài liệu hạn chế: hãy đọc "
                     "trong trình xem trên trang tài liệu.\n")

router = APIRouter(include_in_schema=False)


@router.get("/items/{library}/{item_id}/files/{relative:path}")
def stored_file(request: Request, visit: CurrentVisit, library: str, item_id: str, relative: str):
    item = visit.item(library, item_id) if relative not in reading.NOT_SERVED else None
    facts = visit.config.stored_items.get(item).servable(relative) if item is not None else None
    if facts is None:
        return responses.not_found_plain()
    if not visit.downloads(item):
        # a reading room that offers no downloads: the reader knows the item is there (it opens
        # in the viewer), so the refusal says why rather than pretend the file is missing
        return responses.plain(DOWNLOADS_REFUSED, 403)
    headers = responses.caching(item, facts.sha256)
    if (answer := responses.unchanged(request, headers)) is not None:
        return answer
    headers["content-length"] = str(facts.size)
    if relative.endswith(".pdf"):
        headers["content-disposition"] = f'inline; filename="{Path(relative).name}"'
    return StreamingResponse(visit.config.store.read_chunks(f"{library}/{item_id}/{relative}"),
                             media_type=MEDIA_TYPES.get(Path(relative).suffix.lower(), "application/octet-stream"),
                             headers=headers)


@router.get("/static/{name:path}")
def static(request: Request, name: str):
    """A static file of the site: by its versioned name (``assets.url``, what the pages name) kept a
    year by every cache, by its plain name a day; gzip-encoded (made once) for a client that takes it."""
    found = assets.resolve(name)
    if found is None:
        return responses.not_found_plain()
    plain_name, versioned = found
    encoded = "gzip" in request.headers.get("accept-encoding", "").lower()
    headers = {"etag": f'"{assets.tag(plain_name)}{"-gzip" if encoded else ""}"',
               "cache-control": responses.IMMUTABLE_CACHE if versioned else responses.OPEN_CACHE,
               "vary": "accept-encoding"}
    if (answer := responses.unchanged(request, headers)) is not None:
        return answer
    if encoded:
        headers["content-encoding"] = "gzip"
        return Response(assets.gzipped(plain_name), media_type=assets.FILES[plain_name], headers=headers)
    return Response(assets.content(plain_name), media_type=assets.FILES[plain_name], headers=headers)
