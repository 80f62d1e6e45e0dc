"""The Hán-Nôm transcription of a page (staff): the editor, saving it, and the candidate characters
of a typed reading (JSON, for the editor's script)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from digitize.access import site
from digitize.access import transcription as views
from digitize.describe.dublincore import title
from digitize.ledger import accounts
from digitize.review import hannom
from digitize.review import transcription as pages
from digitize.web import responses
from digitize.web.limits import MAX_BODY, MAX_PAGE
from digitize.web.visit import CurrentVisit, Visit

PATH = "/staff/review/{library}/{item_id}/pages/{number}/transcription"
CROP_HEIGHT = 480  # pixels of a column's crop, at most
PAGE_BOX = (1000, 1400)  # the page image, fitted within (never enlarged)

router = APIRouter(include_in_schema=False)


def page_size(width: int, height: int) -> str:
    """The IIIF size of the page image shown: the image fitted within PAGE_BOX, never enlarged."""
    return "max" if width <= PAGE_BOX[0] and height <= PAGE_BOX[1] else f"!{PAGE_BOX[0]},{PAGE_BOX[1]}"


def editor_url(visit: Visit, library: str, item_id: str, number: int) -> str:
    return visit.config.links.base + PATH.format(library=library, item_id=item_id, number=number)


def found(visit: Visit, library: str, item_id: str, number: int):
    """The item and the page's stored files, if the item is Hán-Nôm and has the page; else None."""
    item = visit.item(library, item_id)
    if item is None or not pages.is_han_nom(item):
        return None
    stored = visit.config.stored_items.get(item)
    files = pages.page_files(stored.package, number)
    return (item, stored, files) if files is not None else None


@router.get(PATH)
def editor(visit: CurrentVisit, library: str, item_id: str, number: int = Path(..., ge=1, le=MAX_PAGE),
           saved: str | None = None):
    if not visit.who.staff:
        return sign_in_first(visit)
    target = found(visit, library, item_id, number)
    if target is None:
        return visit.not_found()
    return visit.page(render(visit, *target, None, message="saved" if saved else None))


def render(visit: Visit, item, stored, files: pages.PageFiles, typed: pages.PageTranscription | None,
           message: str | None = None, error: str | None = None) -> str:
    links, store = visit.config.links, visit.config.store
    prefix = f"{item.library}/{item.item_id}/"
    current = typed
    if current is None:
        current = pages.stored_transcription(store, prefix, files, stored.objects)
    alto = store.read_bytes(prefix + files.alto) if files.alto in stored.objects else None
    boxes = pages.column_boxes(alto, files.width, files.height, len(current.columns) if current else 0)
    service = links.image_service(item.library, item.item_id, files.number)
    columns = []
    for k in range(max(len(boxes), len(current.columns) if current else 0)):
        box = boxes[k] if k < len(boxes) else boxes[-1]
        column = current.columns[k] if current and k < len(current.columns) else pages.Column()
        size = "max" if box.height <= CROP_HEIGHT else f",{CROP_HEIGHT}"
        columns.append(views.ColumnView(number=k + 1, crop_url=f"{service}/{box.region()}/{size}/0/default.jpg",
                                        typed=column.typed, phien_am=column.phien_am, suggested=column.suggested()))
    url = editor_url(visit, item.library, item.item_id, files.number)
    view = views.EditorView(
        title=title(stored.package.description), page=files.number, pages=len(stored.package.pages),
        image_url=f"{service}/full/{page_size(files.width, files.height)}/0/default.jpg", save_url=url, candidates_url=url + "/candidates",
        review_url=f"{links.base}/staff/review/{item.library}/{item.item_id}",
        reader_url=links.item(item.library, item.item_id), columns=columns, csrf=visit.context.csrf,
        message=message, error=error, may_save=visit.who.may("reviewer"))
    return views.editor_page(visit.context, view)


@router.post(PATH)
async def save(request: Request, visit: CurrentVisit, library: str, item_id: str,
               number: int = Path(..., ge=1, le=MAX_PAGE)):
    body = await request.body()
    return await run_in_threadpool(saving, visit, library, item_id, number, body)


def saving(visit: Visit, library: str, item_id: str, number: int, body: bytes) -> Response:
    if not visit.who.staff:
        return sign_in_first(visit)
    fields = form(body)
    cookie = visit.request.cookies.get(accounts.SESSION_COOKIE)
    if not accounts.check_csrf(fields.get("csrf"), cookie, visit.config.secret_key):
        return visit.page(site.refused_page(visit.context), 403)
    if not visit.who.may("reviewer"):
        return visit.page(site.refused_page(visit.context), 403)
    target = found(visit, library, item_id, number)
    if target is None:
        return visit.not_found()
    item, stored, files = target
    try:
        typed = pages.from_form(fields)
    except pages.TranscriptionRefused as refused:
        return visit.page(render(visit, item, stored, files, None, error=str(refused)), 400)
    pages.save_transcription(visit.session, visit.config.store, item, number, typed, visit.who.staff)
    url = editor_url(visit, library, item_id, number)
    query = urlencode([("saved", "1")] + ([("lang", visit.lang)] if visit.lang != "vi" else []))
    return RedirectResponse(f"{url}?{query}", 303)


@router.get(PATH + "/candidates")
def candidates(visit: CurrentVisit, library: str, item_id: str, number: int = Path(..., ge=1, le=MAX_PAGE),
               reading: str = Query("", max_length=40)):
    if not visit.who.staff:
        return responses.plain("Sign in first.\n", 401)
    found_chars = hannom.candidates(reading)
    return responses.json_answer({"reading": reading, "candidates": [
        {"char": c.char, "reading": c.reading, "readings": list(c.readings), "exact": c.exact}
        for c in found_chars]}, {"cache-control": "private, max-age=3600"})


def sign_in_first(visit: Visit) -> Response:
    request = visit.request
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{visit.config.links.base}/staff/login?{urlencode({'next': back})}", 303)


def form(body: bytes) -> dict[str, str]:
    if len(body) > MAX_BODY:
        return {}
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=2 * pages.MOST_COLUMNS + 4))
    except (UnicodeDecodeError, ValueError):
        return {}


def reader_transcription(visit: Visit, item, package, objects, asked: int | None) -> site.ReaderTranscription | None:
    """The transcribed page the item page shows: the page asked for if it is transcribed, else the
    first transcribed page; None when no page is."""
    prefix = f"{item.library}/{item.item_id}/"
    numbers = sorted(p.number for p in package.pages)
    for number in ([asked] if asked in numbers else []) + numbers:
        files = pages.page_files(package, number)
        if files is None or files.phien_am not in objects:
            continue
        found_text = pages.stored_transcription(visit.config.store, prefix, files, objects)
        if found_text is None:
            continue
        service = visit.config.links.image_service(item.library, item.item_id, number)
        return site.ReaderTranscription(page=number, image_url=f"{service}/full/{page_size(files.width, files.height)}/0/default.jpg",
                                        columns=[(c.text, c.phien_am) for c in found_text.columns])
    return None
