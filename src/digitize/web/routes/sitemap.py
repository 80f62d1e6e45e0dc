"""The sitemap: the home page, the libraries and the items, as anyone outside a reading room sees them."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from digitize.access import reading, site
from digitize.web.visit import CurrentVisit

router = APIRouter(include_in_schema=False)


@router.get("/sitemap.xml")
def sitemap(visit: CurrentVisit):
    links = visit.config.links
    libraries = [s.url for s in visit.libraries(reading.Visitor())]
    items = [links.item(i.library, i.item_id) for i in reading.public_items(visit.session, visit.config.unlisted)]
    return Response(site.sitemap([links.home(), *libraries, *items]), media_type="application/xml")
