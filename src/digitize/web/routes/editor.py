"""The page editor of review: ``GET /staff/review/{library}/{item_id}/pages/{n}`` shows a page's
lines to signed-in staff (editable for a reviewer, read-only for the others); ``POST`` to the same
address saves its lines (a reviewer, with the form's CSRF token): a form (answered by a redirect
back to the page, or the page again with the lines someone else changed) or, from the page's
script, JSON ``{"csrf", "lines": [{"line", "was", "text"}]}`` (answered in JSON)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from digitize.access import editor, pages, site
from digitize.core.errors import BadInput
from digitize.ledger import accounts
from digitize.review import alto_edit, revision
from digitize.web import responses
from digitize.web.limits import whole_number
from digitize.web.visit import CurrentVisit, Visit

PAGE = "/staff/review/{library}/{item_id}/pages/{number}"
MOST_LINES = 2000  # lines a save may carry (a page has far fewer)
REVIEWER = "reviewer"

router = APIRouter(include_in_schema=False)


def _page_path(library: str, item_id: str, number: int) -> str:
    return f"/staff/review/{quote(library, safe='')}/{quote(item_id, safe='')}/pages/{number}"


def _sign_in(visit: Visit) -> RedirectResponse:
    target = visit.request.url.path + (f"?{visit.request.url.query}" if visit.request.url.query else "")
    return RedirectResponse(f"{visit.config.links.base}/staff/login?next={quote(target, safe='')}", 303)


def view(visit: Visit, item, number: int, opened: revision.OpenedPage, shown: dict[str, str] | None = None,
         conflicts: dict[str, revision.Conflict] | None = None, saved: int | None = None,
         checked: bool = False) -> editor.EditorView:
    """What the editor shows of page ``number``; ``shown``: the text a field holds instead of the
    stored line (a refused save's), ``conflicts`` by line."""
    links, shown, conflicts = visit.config.links, shown or {}, conflicts or {}
    service = links.image_service(item.library, item.item_id, number)
    lines = []
    for position, line in enumerate(opened.lines, start=1):
        words = [editor.WordView(text=w.text, low=w.low, alternatives=w.alternatives,
                                 confidence=round(w.confidence * 100) if w.confidence is not None else None)
                 for w in line.words]
        conflict = conflicts.get(line.id)
        lines.append(editor.LineView(
            id=line.id, number=position, text=shown.get(line.id, line.text), loaded=line.text,
            crop=editor.crop_url(service, line.box, opened.width, opened.height), words=words,
            readings=editor.readings(words),
            conflict=editor.ConflictView(theirs=conflict.theirs, by=conflict.by) if conflict else None))
    base = links.base
    path = _page_path(item.library, item.item_id, number)
    return editor.EditorView(
        library=item.library, item_id=item.item_id, title=item.title or item.item_id, page=number,
        pages=opened.pages, image=f"{service}/full/max/0/default.jpg", action=base + path,
        item_url=f"{base}/staff/review/{quote(item.library, safe='')}/{quote(item.item_id, safe='')}",
        previous=base + _page_path(item.library, item.item_id, number - 1) if number > 1 else None,
        following=base + _page_path(item.library, item.item_id, number + 1) if number < opened.pages else None,
        lines=lines, may_save=visit.who.may(REVIEWER), state=opened.state, saved=saved, checked=checked,
        csrf=visit.context.csrf)


def _found(visit: Visit, library: str, item_id: str, number: str):
    page = whole_number(number)
    item = visit.item(library, item_id) if page is not None and page >= 1 else None
    return item, page


@router.get(PAGE)
def editor_page(visit: CurrentVisit, library: str, item_id: str, number: str, saved: str | None = None,
                checked: str | None = None):
    if not visit.who.staff:
        return _sign_in(visit)
    item, page = _found(visit, library, item_id, number)
    if item is None:
        return visit.not_found()
    try:
        opened = revision.open_page(visit.session, visit.config.store, item, page)
    except revision.PageMissing:
        return visit.not_found()
    count = whole_number(saved, canonical=False) if saved is not None else None
    return visit.page(editor.editor_page(visit.context, view(visit, item, page, opened, saved=count,
                                                               checked=checked == "1")))


@router.post(PAGE)
async def save_page(request: Request, visit: CurrentVisit, library: str, item_id: str, number: str):
    body = await request.body()
    as_json = "json" in request.headers.get("content-type", "")
    return await run_in_threadpool(saving, visit, library, item_id, number, body, as_json)


def _changes(body: bytes, as_json: bool) -> tuple[str | None, list[revision.Change]] | None:
    """The CSRF token and the lines of a save, or None when the body is not one."""
    try:
        if as_json:
            data = json.loads(body.decode("utf-8"))
            return data.get("csrf"), [revision.Change(line=str(entry["line"]), loaded=str(entry["was"]),
                                                      text=str(entry["text"])) for entry in data["lines"]]
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=3 * MOST_LINES + 4)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name, []).append(value)
    lines, was, texts = values.get("line", []), values.get("was", []), values.get("text", [])
    if not (len(lines) == len(was) == len(texts)):
        return None
    return (values.get("csrf") or [None])[0], [revision.Change(line=a, loaded=b, text=c)
                                                for a, b, c in zip(lines, was, texts)]


def _refused(visit: Visit, reason: str, as_json: bool) -> Response:
    message = editor.refusal_message(visit.lang, reason)
    if as_json:
        return Response(json.dumps({"error": reason, "message": message}, ensure_ascii=False), 403,
                        media_type="application/json")
    return visit.page(site.refused_page(visit.context, message), 403)


def saving(visit: Visit, library: str, item_id: str, number: str, body: bytes, as_json: bool) -> Response:
    if not visit.who.staff:
        return _sign_in(visit) if not as_json else Response(status_code=401)
    parsed = _changes(body, as_json)
    cookie = visit.request.cookies.get(accounts.SESSION_COOKIE)
    if parsed is None or not accounts.check_csrf(parsed[0], cookie, visit.config.secret_key):
        return _refused(visit, "csrf", as_json)
    if not visit.who.may(REVIEWER):
        return _refused(visit, "role", as_json)
    item, page = _found(visit, library, item_id, number)
    if item is None:
        return visit.not_found() if not as_json else responses.not_found_plain()
    store = visit.config.store
    changes = parsed[1][:MOST_LINES]
    try:
        result = revision.save_lines(visit.session, store, item, page, changes, visit.who.staff)
        checked = not result.saved and not result.conflicts
        if checked:
            revision.mark_checked(visit.session, item, page, visit.who.staff)
    except (revision.PageMissing, alto_edit.LineNotFound):
        return visit.not_found() if not as_json else responses.not_found_plain()
    except BadInput as exc:
        if as_json:
            return Response(json.dumps({"error": "bad", "message": str(exc)}, ensure_ascii=False), 400,
                            media_type="application/json")
        return responses.plain(f"{exc}\n", 400)
    message = editor.save_message(visit.lang, len(result.saved), len(result.conflicts), checked)
    status = 409 if result.conflicts else 200
    if as_json:
        answer = {"saved": result.saved, "message": message, "checked": checked,
                  "conflicts": [{"line": c.line, "yours": c.yours, "theirs": c.theirs, "by": c.by,
                                 "message": editor.conflict_message(visit.lang, c.by)} for c in result.conflicts]}
        return Response(json.dumps(answer, ensure_ascii=False), status, media_type="application/json",
                        headers={"cache-control": "no-store"})
    if not result.conflicts:
        target = pages.link(visit.config.links.base + _page_path(item.library, item.item_id, page), visit.lang,
                            saved=len(result.saved), checked="1" if checked else None)
        return RedirectResponse(target, 303)
    opened = revision.open_page(visit.session, store, item, page)
    shown = {c.line: c.yours for c in result.conflicts}
    conflicts = {c.line: c for c in result.conflicts}
    return visit.page(editor.editor_page(visit.context, view(visit, item, page, opened, shown, conflicts,
                                                               saved=len(result.saved))), status)
