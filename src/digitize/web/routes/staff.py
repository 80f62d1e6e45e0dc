"""The staff area: the sign-in form, signing in and out, and the dashboard at /staff/."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from digitize.access import dashboard, pages, site
from digitize.core.i18n import N_
from digitize.ledger import accounts, quota
from digitize.web import responses
from digitize.web.config import Config
from digitize.web.limits import MAX_FORM
from digitize.web.visit import CurrentVisit, Visit

DASHBOARD = "/staff/"

router = APIRouter(include_in_schema=False)


@router.get("/staff/login")
def sign_in_form(request: Request, visit: CurrentVisit, next: str | None = None):
    config = visit.config
    seed = request.cookies.get(accounts.FORM_COOKIE) or accounts.new_form_seed()
    answer = visit.page(site.sign_in_page(visit.context, accounts.csrf_token(seed, config.secret_key), None,
                                          local_path(next)))
    answer.headers.append("set-cookie", accounts.cookie_header(seed, config.secure, accounts.FORM_COOKIE))
    return answer


@router.post("/staff/login")
async def sign_in(request: Request, visit: CurrentVisit):
    fields = form((await request.body())[:MAX_FORM])
    return await run_in_threadpool(signing_in, visit, fields)


def signing_in(visit: Visit, fields: dict[str, str]) -> Response:
    config = visit.config
    seed = visit.request.cookies.get(accounts.FORM_COOKIE)
    if not accounts.check_csrf(fields.get("csrf"), seed, config.secret_key):
        return visit.page(site.refused_page(visit.context), 403)
    now = datetime.now(timezone.utc)
    name = fields.get("name", "")
    user = accounts.sign_in(visit.session, name, fields.get("password", ""), now, visit.address)
    if user is None:  # the same answers for a name that exists and one that does not
        error = "locked" if accounts.is_throttled(visit.session, visit.address, name, now) else "wrong"
        return visit.page(site.sign_in_page(visit.context, accounts.csrf_token(seed, config.secret_key), error,
                                            local_path(fields.get("next"))), 403)
    answer = RedirectResponse(config.links.base + local_path(fields.get("next")), 303)
    answer.headers.append("set-cookie", accounts.cookie_header(
        accounts.make_session(user.name, config.secret_key, now), config.secure))
    return answer


@router.post("/staff/logout")
async def sign_out(request: Request, config: Config):
    fields = form((await request.body())[:MAX_FORM])
    cookie = request.cookies.get(accounts.SESSION_COOKIE)
    if not accounts.check_csrf(fields.get("csrf"), cookie, config.secret_key):
        return responses.plain("Refused: the form is not this site's.\n", 403)
    await run_in_threadpool(end_session, config, cookie)  # a copy of the cookie kept elsewhere ends too
    answer = RedirectResponse(config.links.home(), 303)
    answer.headers.append("set-cookie", accounts.clearing_cookie_header(config.secure))
    return answer


@router.get(DASHBOARD)
def staff_dashboard(visit: CurrentVisit):
    config = visit.config
    if not visit.who.staff:
        return RedirectResponse(f"{config.links.base}/staff/login?next={DASHBOARD}", 303)
    # In the site's layout, so under the site's policy: the middleware's would block its stylesheet.
    return visit.page(dashboard.render(visit.session, config.plans, config.today(), visit.lang,
                                       data=config.data, context=visit.context, downloads=sees_figures(visit)))


PERIOD = re.compile(r"^(19|20)\d{2}(-H[12])?$")


@router.get("/staff/report")
def report_page(visit: CurrentVisit):
    """The report is downloaded from the dashboard."""
    return RedirectResponse(pages.link(f"{visit.config.links.base}{DASHBOARD}", visit.lang) + "#report", 303)


@router.get("/staff/report.{kind}")
def report_file(visit: CurrentVisit, kind: str, period: str | None = None):
    """The periodic report (this half-year's unless ``period`` says which: 2026-H1, 2026) as CSV or
    XLSX in the page's language, for a coordinator or an administrator."""
    config = visit.config
    if kind not in dashboard.REPORT_FORMATS or (period is not None and not PERIOD.match(period)):
        return visit.not_found()
    if not visit.who.staff:
        target = f"/staff/report.{kind}?{visit.request.url.query}" if visit.request.url.query else f"/staff/report.{kind}"
        return RedirectResponse(f"{config.links.base}/staff/login?next={quote(target, safe='')}", 303)
    if not sees_figures(visit):
        return visit.page(site.refused_page(visit.context, N_(
            "Only a coordinator or an administrator downloads the report.").in_language(visit.lang)), 403)
    today = config.today()
    name, contents = dashboard.report_download(visit.session, config.plans, period or quota.half_year(today), kind,
                                               visit.lang, today)
    return Response(contents, media_type=dashboard.REPORT_FORMATS[kind], headers={
        "content-disposition": f'attachment; filename="{name}"', "cache-control": "private, no-store"})


def sees_figures(visit: Visit) -> bool:
    """Whether the visitor may take the figures away: a coordinator or an administrator."""
    return visit.who.may("coordinator") or visit.who.may("administrator")


def end_session(config: Config, cookie: str) -> None:
    session = config.open_session()
    try:
        accounts.end_session(session, cookie, config.secret_key, datetime.now(timezone.utc))
    finally:
        session.close()


def form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        return {}


def local_path(target: str | None) -> str:
    """A path of this site to go to after signing in (never another site's address)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return DASHBOARD
    return target
