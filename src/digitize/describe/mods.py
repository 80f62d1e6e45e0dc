"""MODS 3 from an item's Description, and back (the two are kept lossless for each other)."""

from __future__ import annotations

from lxml import etree

from digitize.core import rights
from digitize.core.models import Description, Name

MODS = "http://www.loc.gov/mods/v3"
XLINK = "http://www.w3.org/1999/xlink"
USE = "use and reproduction"
RESPONSIBILITY = "statement of responsibility"


def _q(tag: str) -> str:
    return f"{{{MODS}}}{tag}"


def _add(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, _q(tag), {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def to_mods(description: Description, item_id: str, access_text: str) -> etree._Element:
    d = description
    mods = etree.Element(_q("mods"), nsmap={"mods": MODS}, version="3.6")
    title = _add(mods, "titleInfo")
    _add(title, "title", d.title)
    if d.subtitle:
        _add(title, "subTitle", d.subtitle)
    for name in d.names:
        element = _add(mods, "name", type=name.kind, **({"usage": "primary"} if name.primary else {}))
        _add(element, "namePart", name.name)
        _add(_add(element, "role"), "roleTerm", name.role, type="text")
    _add(mods, "typeOfResource", "text")
    if d.place or d.publisher or d.date or d.date_w3cdtf:
        origin = _add(mods, "originInfo")
        if d.place:
            _add(_add(origin, "place"), "placeTerm", d.place, type="text")
        if d.publisher:
            _add(origin, "publisher", d.publisher)
        if d.date:
            _add(origin, "dateIssued", d.date)
        if d.date_w3cdtf:
            _add(origin, "dateIssued", d.date_w3cdtf, encoding="w3cdtf", keyDate="yes")
    for code in d.languages:
        _add(_add(mods, "language"), "languageTerm", code, type="code", authority="iso639-2b")
    if d.extent:
        _add(_add(mods, "physicalDescription"), "extent", d.extent)
    if d.responsibility:
        _add(mods, "note", d.responsibility, type=RESPONSIBILITY)
    for note in d.notes:
        _add(mods, "note", note)
    for subject in d.subjects:
        element = _add(mods, "subject")
        for part in subject.split(" -- "):
            _add(element, "topic", part)
    for place in d.places:
        _add(_add(mods, "subject"), "geographic", place)
    for period in d.periods:
        _add(_add(mods, "subject"), "temporal", period)
    _add(mods, "identifier", item_id, type="local")
    if d.call_number or d.links:
        location = _add(mods, "location")
        if d.call_number:
            _add(location, "shelfLocator", d.call_number)
        for link in d.links:
            _add(location, "url", link)
    _add(mods, "accessCondition", access_text, type="restriction on access")
    if d.rights:  # the licence by its URI, named in Vietnamese (what the record's other words are in)
        licence = etree.SubElement(mods, _q("accessCondition"), {"type": USE, f"{{{XLINK}}}href": d.rights},
                                   nsmap={"xlink": XLINK})
        licence.text = rights.name(d.rights).in_language("vi")
    if d.control_number:
        _add(_add(mods, "recordInfo"), "recordIdentifier", d.control_number)
    return mods


def _texts(mods: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in mods.xpath(path, namespaces={"m": MODS})]


def _first(mods: etree._Element, path: str) -> str:
    found = _texts(mods, path)
    return found[0] if found else ""


def from_mods(mods: etree._Element) -> Description:
    names = []
    for element in mods.xpath("m:name", namespaces={"m": MODS}):
        names.append(Name(name=_first(element, "m:namePart"), kind=element.get("type", "personal"),
                          role=_first(element, "m:role/m:roleTerm") or "creator",
                          primary=element.get("usage") == "primary"))
    subjects = [" -- ".join(_texts(s, "m:topic")) for s in mods.xpath("m:subject[m:topic]", namespaces={"m": MODS})]
    return Description(
        title=_first(mods, "m:titleInfo/m:title"), subtitle=_first(mods, "m:titleInfo/m:subTitle"),
        responsibility=_first(mods, f"m:note[@type='{RESPONSIBILITY}']"), names=names,
        place=_first(mods, "m:originInfo/m:place/m:placeTerm"), publisher=_first(mods, "m:originInfo/m:publisher"),
        date=_first(mods, "m:originInfo/m:dateIssued[not(@encoding)]"),
        date_w3cdtf=_first(mods, "m:originInfo/m:dateIssued[@encoding='w3cdtf']"),
        languages=_texts(mods, "m:language/m:languageTerm"), extent=_first(mods, "m:physicalDescription/m:extent"),
        notes=_texts(mods, "m:note[not(@type)]"), subjects=subjects,
        places=_texts(mods, "m:subject/m:geographic"), periods=_texts(mods, "m:subject/m:temporal"),
        call_number=_first(mods, "m:location/m:shelfLocator"), links=_texts(mods, "m:location/m:url"),
        control_number=_first(mods, "m:recordInfo/m:recordIdentifier"),
        rights=str(next(iter(mods.xpath(f"m:accessCondition[@type='{USE}']/@xlink:href",
                                        namespaces={"m": MODS, "xlink": XLINK})), "")))
