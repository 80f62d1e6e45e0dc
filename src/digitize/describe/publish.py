"""An item's records as the public sees them. The stored dc.xml and mets.xml name where the store
keeps each file (file:// or s3:// URLs: the archive's own business); what is published (OAI-PMH,
public bags) names the reading service instead: the item page, its IIIF manifest and its PDF/A
as Dublin Core identifiers, and each file of the METS at its public address."""

from __future__ import annotations

import copy
import re
from urllib.parse import unquote

from lxml import etree

from digitize.describe.dublincore import DC, OAI_DC
from digitize.core.links import PublicLinks

METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
ADDRESS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def public_dc(dc: etree._Element, links: PublicLinks, library: str, item_id: str) -> etree._Element:
    """A copy of the item's Dublin Core record (oai_dc:dc) whose identifiers are the item id and
    its public links, in place of any stored location."""
    record = copy.deepcopy(dc)
    identifiers = record.findall(f"{{{DC}}}identifier")
    for element in identifiers:
        if ADDRESS.match(element.text or ""):
            record.remove(element)
    anchor = next((e for e in identifiers if e.getparent() is record), None)
    position = list(record).index(anchor) + 1 if anchor is not None else len(record)
    for offset, url in enumerate(links.item_links(library, item_id)):
        element = etree.Element(f"{{{DC}}}identifier")
        element.text = url
        element.tail = anchor.tail if anchor is not None else None
        record.insert(position + offset, element)
    return record


def public_mets(mets: etree._Element, links: PublicLinks, library: str, item_id: str) -> etree._Element:
    """A copy of the item's METS whose file locations are the files' public addresses, whose
    Dublin Core section is ``public_dc``'s, and whose texts (the PREMIS storage event) name the
    item page where they named the item's place in the store."""
    document = copy.deepcopy(mets)
    marker = f"/{library}/{item_id}/"
    stored_at = set()
    for location in document.iter(f"{{{METS}}}FLocat"):
        href = location.get(f"{{{XLINK}}}href", "")
        if marker in href:
            stored_at.add(href.rpartition(marker)[0] + marker.rstrip("/"))
        relative = unquote(href.rpartition(marker)[2] if marker in href else href)
        location.set(f"{{{XLINK}}}href", links.file(library, item_id, relative))
    for dc in list(document.iter(f"{{{OAI_DC}}}dc")):
        dc.getparent().replace(dc, public_dc(dc, links, library, item_id))
    for element in document.iter():
        for place in stored_at:
            if element.text and place in element.text:
                element.text = element.text.replace(place, links.item(library, item_id))
    return document
