"""The staff area's review: the queue (/staff/review), an item in review
(/staff/review/{library}/{item_id}) with its accept and return forms, the bulk acceptance of a
batch, and the staff accounts' roles (/staff/users). Signed-in staff only (else the sign-in form);
accepting and returning are for reviewers, roles for administrators (others get 403); every POST
carries the session's CSRF token (a form without it is refused)."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from digitize.access import pages, site, staff_review
from digitize.core.errors import BadInput
from digitize.core.i18n import N_
from digitize.ledger import accounts, review
from digitize.review import decisions, queue
from digitize.web.limits import MAX_FORM
from digitize.web.routes.site import thumbnail
from digitize.web.visit import CurrentVisit, Visit

QUEUE = "/staff/review"
USERS = "/staff/users"

router = APIRouter(include_in_schema=False)


def _sign_in(visit: Visit) -> Response:
    path = visit.request.url.path + (f"?{visit.request.url.query}" if visit.request.url.query else "")
    return RedirectResponse(f"{visit.config.links.base}/staff/login?next={quote(path, safe='/?=&')}", 303)


def _refused(visit: Visit, message=None, status: int = 403) -> Response:
    return visit.page(site.refused_page(visit.context, message), status)


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return []


def _csrf_ok(visit: Visit, fields: list[tuple[str, str]]) -> bool:
    return accounts.check_csrf(dict(fields).get("csrf"), visit.request.cookies.get(accounts.SESSION_COOKIE),
                               visit.config.secret_key)


def _url(visit: Visit, path: str, **parameters) -> str:
    return pages.link(visit.config.links.base + path, visit.lang, **parameters)


def _item_path(library: str, item_id: str) -> str:
    return f"{QUEUE}/{quote(library, safe='')}/{quote(item_id, safe='')}"


# ---- the queue --------------------------------------------------------------------------------

@router.get(QUEUE)
def review_queue(visit: CurrentVisit, library: str = "", batch: str = "", profile: str = "",
                 state: str = review.IN_REVIEW, done: str = ""):
    if not visit.who.staff:
        return _sign_in(visit)
    state = "" if state == "all" else state
    if state not in ("", *queue.STATES):
        state = review.IN_REVIEW
    filters = queue.Filters(library=library or None, batch=batch or None, profile=profile or None, state=state or None)
    rows = queue.rows(visit.session, filters)
    base = visit.config.links.base
    entries = [staff_review.QueueEntry(
        library=r.library, item_id=r.item_id, title=r.title,
        secret=r.access == "secret", state=r.state, pages=r.pages, batch=r.batch, profile=r.profile,
        not_syllables=r.not_syllables, confidence=r.confidence, flagged_pages=r.flagged_pages, han_nom=r.han_nom,
        url=base + _item_path(r.library, r.item_id)) for r in rows]
    waiting = queue.rows(visit.session, queue.Filters())
    clean = Counter(r.batch for r in waiting if r.batch and not r.flagged_pages and not r.han_nom)
    view = staff_review.QueueView(
        url=base + QUEUE, filters={"library": library, "batch": batch, "profile": profile, "state": state},
        choices=queue.choices(visit.session), entries=entries, may_review=visit.who.may("reviewer"),
        clean_batches=sorted(clean.items()), accept_batch_url=base + QUEUE + "/accept-batch",
        message=_done_message(done, visit.lang))
    return visit.page(staff_review.queue_page(visit.context, view))


def _done_message(done: str, lang: str) -> str | None:
    if not done:
        return None
    accepted, _, left = done.partition("-")
    if not (accepted.isdigit() and left.isdigit()):
        return None
    return N_("{accepted} items accepted; {left} left in review (a page flagged, or Hán-Nôm)", accepted=int(accepted),
              left=int(left)).in_language(lang)


@router.post(QUEUE + "/accept-batch")
async def accept_batch(request: Request, visit: CurrentVisit):
    fields = _form((await request.body())[:MAX_FORM])
    return await run_in_threadpool(_accepting_batch, visit, fields)


def _form_refusal(visit: Visit, fields: list[tuple[str, str]], role: str, why) -> Response | None:
    """A form sent by someone not signed in (to the sign-in form), without this site's token, or
    without ``role`` (403, saying ``why``); None when it may be acted on."""
    if not visit.who.staff:
        return _sign_in(visit)
    if not _csrf_ok(visit, fields):
        return _refused(visit)
    if not visit.who.may(role):
        return _refused(visit, why.in_language(visit.lang))
    return None


def _accepting_batch(visit: Visit, fields: list[tuple[str, str]]) -> Response:
    refusal = _form_refusal(visit, fields, "reviewer", N_("Only a reviewer accepts or returns items."))
    if refusal is not None:
        return refusal
    try:
        accepted, left = decisions.accept_batch(visit.session, visit.config.store, dict(fields).get("batch", ""),
                                                visit.who.staff)
    except BadInput as exc:
        return _refused(visit, exc.words.in_language(visit.lang), 409)
    return RedirectResponse(_url(visit, QUEUE, done=f"{len(accepted)}-{len(left)}"), 303)


# ---- an item ----------------------------------------------------------------------------------

@router.get(QUEUE + "/{library}/{item_id}")
def review_item(visit: CurrentVisit, library: str, item_id: str, done: str = ""):
    if not visit.who.staff:
        return _sign_in(visit)
    item = review.find(visit.session, library, item_id)
    if item is None:
        return visit.not_found()
    return visit.page(staff_review.item_page(visit.context, _item_view(visit, item, done)))


def _item_view(visit: Visit, item, done: str = "") -> staff_review.ItemReview:
    links, base = visit.config.links, visit.config.links.base
    risk = item.review_risk or {}
    flagged = set(risk.get("flagged_pages") or [])
    states = review.page_states(visit.session, item)
    secret = item.access == "secret"
    path = _item_path(item.library, item.item_id)
    page_entries = [staff_review.PageEntry(
        number=n, thumbnail_url=None if secret else thumbnail(links.image_service(item.library, item.item_id, n)),
        image_url=None if secret else links.image_service(item.library, item.item_id, n) + "/full/max/0/default.jpg",
        editor_url=f"{base}{path}/pages/{n}", flagged=n in flagged or (n in states and states[n].state == "flagged"),
        state=states[n].state if n in states else "") for n in range(1, item.pages + 1)]
    events = [staff_review.EventEntry(at=e.at, actor=e.actor, action=e.action, state_from=e.state_from,
                                      state_to=e.state_to, reason=e.reason, pages=list(e.pages or []),
                                      kind=(e.detail or {}).get("kind", "") if e.action == "returned" else "")
              for e in review.history(visit.session, item) if e.action in staff_review.ACTIONS]
    message = {"accepted": N_("The item is accepted."), "returned": N_("The item is returned.")}.get(done)
    return staff_review.ItemReview(
        library=item.library, item_id=item.item_id, title=item.title, secret=secret, state=item.review_state,
        accepted_by=item.accepted_by, rule=item.acceptance_rule, not_syllables=risk.get("not_syllables"),
        confidence=risk.get("confidence"), han_nom=bool(risk.get("han_nom")), pages=page_entries, events=events,
        queue_url=base + QUEUE, accept_url=f"{base}{path}/accept", return_url=f"{base}{path}/return",
        may_review=visit.who.may("reviewer"), message=message.in_language(visit.lang) if message else None)


@router.post(QUEUE + "/{library}/{item_id}/accept")
async def accept_item(request: Request, visit: CurrentVisit, library: str, item_id: str):
    fields = _form((await request.body())[:MAX_FORM])
    return await run_in_threadpool(_deciding, visit, library, item_id, fields, "accepted")


@router.post(QUEUE + "/{library}/{item_id}/return")
async def return_item(request: Request, visit: CurrentVisit, library: str, item_id: str):
    fields = _form((await request.body())[:MAX_FORM])
    return await run_in_threadpool(_deciding, visit, library, item_id, fields, "returned")


def _deciding(visit: Visit, library: str, item_id: str, fields: list[tuple[str, str]], decision: str) -> Response:
    refusal = _form_refusal(visit, fields, "reviewer", N_("Only a reviewer accepts or returns items."))
    if refusal is not None:
        return refusal
    item = review.find(visit.session, library, item_id)
    if item is None:
        return visit.not_found()
    given = dict(fields)
    try:
        if decision == "accepted":
            decisions.accept(visit.session, visit.config.store, item, visit.who.staff)
        else:
            numbers = [int(part) for part in given.get("pages", "").replace(" ", "").split(",") if part.isdigit()]
            if any(part and not part.isdigit() for part in given.get("pages", "").replace(" ", "").split(",")):
                raise review.ReviewRefused(N_("page numbers are separated by commas, e.g. 2,5"), None, None)
            decisions.send_back(visit.session, visit.config.store, item, visit.who.staff, given.get("reason", ""),
                                numbers, given.get("kind", "other"))
    except BadInput as exc:
        return _refused(visit, exc.words.in_language(visit.lang), 409)
    return RedirectResponse(_url(visit, _item_path(library, item_id), done=decision), 303)


# ---- staff accounts ---------------------------------------------------------------------------

@router.get(USERS)
def staff_users(visit: CurrentVisit, done: str = ""):
    if not visit.who.staff:
        return _sign_in(visit)
    if not visit.who.may("administrator"):
        return _refused(visit, N_("Only an administrator manages staff accounts.").in_language(visit.lang))
    return visit.page(_users_page(visit, N_("The roles are saved.").in_language(visit.lang) if done else None))


def _users_page(visit: Visit, message: str | None) -> str:
    base = visit.config.links.base
    users = [staff_review.UserEntry(name=u.name, roles=[r for r in accounts.ROLES if r in accounts.roles_of(u)],
                                    url=f"{base}{USERS}/{quote(u.name, safe='')}/roles")
             for u in accounts.list_users(visit.session)]
    return staff_review.users_page(visit.context, users, accounts.ROLES, message)


@router.post(USERS + "/{name}/roles")
async def change_roles(request: Request, visit: CurrentVisit, name: str):
    fields = _form((await request.body())[:MAX_FORM])
    return await run_in_threadpool(_changing_roles, visit, name, fields)


def _changing_roles(visit: Visit, name: str, fields: list[tuple[str, str]]) -> Response:
    refusal = _form_refusal(visit, fields, "administrator", N_("Only an administrator manages staff accounts."))
    if refusal is not None:
        return refusal
    wanted = {value for key, value in fields if key == "role"}
    try:
        accounts.change_roles(visit.session, name, add=[r for r in accounts.ROLES if r in wanted],
                              remove=[r for r in accounts.ROLES if r not in wanted])
    except BadInput as exc:
        return _refused(visit, exc.words.in_language(visit.lang), 409)
    return RedirectResponse(_url(visit, USERS, done="1"), 303)
