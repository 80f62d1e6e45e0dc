"""METS 1.12 package description of an item, written from an ItemPackage and read back into one.

- metsHdr: the library (creator) and the software as agents; category and access as altRecordIDs
- dmdSec: MODS, Dublin Core (oai_dc) and the dcterms statements
- amdSec: a techMD per page image (PREMIS object with its technical properties), a techMD per
  file (PREMIS object with its PRONOM format: PUID in formatRegistry), a digiprovMD per PREMIS
  event and one holding the PREMIS agents
- fileSec: groups master, access, alto, text; SIZE, MIMETYPE and SHA-256 CHECKSUM on every file,
  ADMID naming its PREMIS object
- structMap PHYSICAL (a div per page, in order) and LOGICAL (the item)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from digitize.describe import dublincore, mods, schemas
from digitize.core.models import Agent, Event, FileEntry, FileFormat, ItemMetadata, ItemPackage, PageImage

METS = "http://www.loc.gov/METS/"
PREMIS = "http://www.loc.gov/premis/v3"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"mets": METS, "premis": PREMIS, "xlink": XLINK, "mods": mods.MODS, "dc": dublincore.DC,
      "oai_dc": dublincore.OAI_DC, "dcterms": dublincore.DCTERMS, "xsi": XSI}
GROUPS = ("master", "image", "access", "alto", "text")
PAGE_PROPERTIES = ("width", "height", "dpi", "mode", "format", "frame")


def _m(tag: str) -> str:
    return f"{{{METS}}}{tag}"


def _p(tag: str) -> str:
    return f"{{{PREMIS}}}{tag}"


def _sub(parent, tag: str, text: str | None = None, **attrs) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _wrap(parent, section: str, section_id: str, mdtype: str, content: list[etree._Element],
          **attrs) -> etree._Element:
    holder = _sub(parent, _m(section), ID=section_id)
    data = _sub(_sub(holder, _m("mdWrap"), MDTYPE=mdtype, **attrs), _m("xmlData"))
    data.extend(content)
    return holder


def _identifier(parent, kind: str, value: str) -> None:
    holder = _sub(parent, _p(f"{kind}Identifier"))
    _sub(holder, _p(f"{kind}IdentifierType"), "local")
    _sub(holder, _p(f"{kind}IdentifierValue"), value)


def _premis_event(event: Event) -> etree._Element:
    element = etree.Element(_p("event"), nsmap={"premis": PREMIS})
    _identifier(element, "event", event.id)
    _sub(element, _p("eventType"), event.type)
    _sub(element, _p("eventDateTime"), event.date)
    _sub(_sub(element, _p("eventDetailInformation")), _p("eventDetail"), event.detail)
    outcome = _sub(element, _p("eventOutcomeInformation"))
    _sub(outcome, _p("eventOutcome"), event.outcome)
    if event.outcome_detail:
        _sub(_sub(outcome, _p("eventOutcomeDetail")), _p("eventOutcomeDetailNote"), event.outcome_detail)
    for agent in event.agents:
        _identifier(element, "linkingAgent", agent)
    for obj in event.objects:
        _identifier(element, "linkingObject", obj)
    return element


def _premis_agent(agent: Agent) -> etree._Element:
    element = etree.Element(_p("agent"), nsmap={"premis": PREMIS})
    _identifier(element, "agent", agent.id)
    _sub(element, _p("agentName"), agent.name)
    _sub(element, _p("agentType"), agent.kind)
    if agent.version:
        _sub(element, _p("agentVersion"), agent.version)
    return element


def _characteristics(element, entry: FileEntry) -> etree._Element:
    """A PREMIS object's characteristics of ``entry``: its SHA-256 and size (the format follows)."""
    characteristics = _sub(element, _p("objectCharacteristics"))
    _sub(characteristics, _p("compositionLevel"), "0")
    fixity = _sub(characteristics, _p("fixity"))
    _sub(fixity, _p("messageDigestAlgorithm"), "SHA-256")
    _sub(fixity, _p("messageDigest"), entry.sha256)
    _sub(characteristics, _p("size"), str(entry.size))
    return characteristics


def _premis_page(page: PageImage, master: FileEntry) -> etree._Element:
    element = etree.Element(_p("object"), {f"{{{XSI}}}type": "premis:file"}, nsmap={"premis": PREMIS, "xsi": XSI})
    _identifier(element, "object", f"{page.master}#{page.frame + 1}")
    for name in PAGE_PROPERTIES:
        holder = _sub(element, _p("significantProperties"))
        _sub(holder, _p("significantPropertiesType"), name)
        _sub(holder, _p("significantPropertiesValue"), str(getattr(page, name)))
    extra = {"blank": "true"} if page.blank else {}  # read back by read() with the other properties
    if page.direction != "horizontal":
        extra["direction"] = page.direction
    if page.image:
        extra.update(image_width=str(page.image_width), image_height=str(page.image_height))
    if page.dpi_method != "tag":  # the file's own dpi was not used: say what was, and how it was found
        extra.update(dpi_method=page.dpi_method, **({"dpi_tag": str(page.dpi_tag)} if page.dpi_tag else {}))
    for name, value in extra.items():
        holder = _sub(element, _p("significantProperties"))
        _sub(holder, _p("significantPropertiesType"), name)
        _sub(holder, _p("significantPropertiesValue"), value)
    if page.not_syllables is not None:  # the page's OCR quality figure, read back like the others
        holder = _sub(element, _p("significantProperties"))
        _sub(holder, _p("significantPropertiesType"), "not_syllables")
        _sub(holder, _p("significantPropertiesValue"), f"{page.not_syllables:.4f}")
    characteristics = _characteristics(element, master)
    page_format = _sub(characteristics, _p("format"))
    _sub(_sub(page_format, _p("formatDesignation")), _p("formatName"), master.mimetype)
    if master.format is not None and master.format.puid:
        _format_registry(page_format, master.format)
    return element


# --- PRONOM format identification: a PREMIS object per file (digitize.capture.formats) ---

IDENTIFIED_BY = "identified by "  # formatNote: "identified by signature" or "identified by extension"
PROMISED = "the extension says "  # formatNote of a file whose content contradicts its extension
NOT_IDENTIFIED = "not identified by PRONOM signatures or extension"


def _file_object_id(entry: FileEntry) -> str:
    return f"tech-file-{entry.id}"


def _format_registry(parent, found: FileFormat) -> None:
    registry = _sub(parent, _p("formatRegistry"))
    _sub(registry, _p("formatRegistryName"), "PRONOM")
    _sub(registry, _p("formatRegistryKey"), found.puid)
    _sub(registry, _p("formatRegistryRole"), "specification")


def _premis_file(entry: FileEntry) -> etree._Element:
    """A file's PREMIS object: its fixity, size and format, the PUID in formatRegistry."""
    found = entry.format
    element = etree.Element(_p("object"), {f"{{{XSI}}}type": "premis:file"}, nsmap={"premis": PREMIS, "xsi": XSI})
    _identifier(element, "object", entry.id)
    characteristics = _characteristics(element, entry)
    holder = _sub(characteristics, _p("format"))
    designation = _sub(holder, _p("formatDesignation"))
    _sub(designation, _p("formatName"), found.name if found.puid else entry.mimetype or "unknown")
    if found.puid and found.version:
        _sub(designation, _p("formatVersion"), found.version)
    if found.puid:
        _format_registry(holder, found)
        _sub(holder, _p("formatNote"), IDENTIFIED_BY + found.basis)
    else:
        _sub(holder, _p("formatNote"), NOT_IDENTIFIED)
    if found.expected:
        _sub(holder, _p("formatNote"), PROMISED + found.expected)
    return element


def _read_file_format(root: etree._Element, admid: str | None) -> FileFormat | None:
    """The format a file's PREMIS object records (None for a file without one: an older METS)."""
    objects = root.xpath(f"mets:amdSec/mets:techMD[@ID='{admid}']//premis:object", namespaces=NS) if admid else []
    if not objects:
        return None
    holder = objects[0].xpath("premis:objectCharacteristics/premis:format", namespaces=NS)[0]
    notes = _values(holder, "premis:formatNote")
    puid = _value(holder, "premis:formatRegistry/premis:formatRegistryKey")
    basis = next((n.removeprefix(IDENTIFIED_BY) for n in notes if n.startswith(IDENTIFIED_BY)), "none")
    return FileFormat(puid=puid, name=_value(holder, "premis:formatDesignation/premis:formatName") if puid else "",
                      version=_value(holder, "premis:formatDesignation/premis:formatVersion"), basis=basis,
                      expected=next((n.removeprefix(PROMISED) for n in notes if n.startswith(PROMISED)), ""))


def build(package: ItemPackage, meta: ItemMetadata, identifiers: list[str]) -> etree._Element:
    p = package
    root = etree.Element(_m("mets"), {"OBJID": p.item_id, "LABEL": dublincore.title(p.description), "TYPE": "book",
                                      f"{{{XSI}}}schemaLocation": (
                                          f"{METS} http://www.loc.gov/standards/mets/mets.xsd")},
                         nsmap={k: v for k, v in NS.items() if k in ("mets", "xlink", "xsi")})
    header = _sub(root, _m("metsHdr"), CREATEDATE=p.created, RECORDSTATUS="complete")
    _sub(_sub(header, _m("agent"), ROLE="CREATOR", TYPE="ORGANIZATION"), _m("name"), p.library)
    for agent in p.agents:
        if agent.kind == "software":
            _sub(_sub(header, _m("agent"), ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE"), _m("name"),
                 f"{agent.name} {agent.version}".strip())
    _sub(header, _m("altRecordID"), p.category.value, TYPE="category")
    _sub(header, _m("altRecordID"), p.access.value, TYPE="access")

    _wrap(root, "dmdSec", "dmd-mods", "MODS",
          [mods.to_mods(p.description, p.item_id, dublincore.ACCESS_TEXT[p.access])])
    _wrap(root, "dmdSec", "dmd-dc", "DC", [dublincore.oai_dc(p.description, meta, identifiers)])
    _wrap(root, "dmdSec", "dmd-dcterms", "OTHER", dublincore.dcterms(p.description, meta, len(p.pages)),
          OTHERMDTYPE="DCTERMS")

    files = {f.id: f for f in p.files}
    amd = _sub(root, _m("amdSec"), ID="amd")
    for page in p.pages:
        _wrap(amd, "techMD", f"tech-page-{page.number:04d}", "PREMIS:OBJECT", [_premis_page(page, files[page.master])])
    for entry in (f for f in p.files if f.format is not None):
        _wrap(amd, "techMD", _file_object_id(entry), "PREMIS:OBJECT", [_premis_file(entry)])
    for event in p.events:
        _wrap(amd, "digiprovMD", f"digiprov-{event.id}", "PREMIS:EVENT", [_premis_event(event)])
    _wrap(amd, "digiprovMD", "digiprov-agents", "PREMIS:AGENT", [_premis_agent(a) for a in p.agents])

    file_sec = _sub(root, _m("fileSec"))
    for use in GROUPS:
        group = _sub(file_sec, _m("fileGrp"), USE=use)
        for entry in (f for f in p.files if f.use == use):
            attrs = {"ID": entry.id, "MIMETYPE": entry.mimetype, "SIZE": str(entry.size),
                     "CHECKSUM": entry.sha256, "CHECKSUMTYPE": "SHA-256"}
            if entry.created:
                attrs["CREATED"] = entry.created
            if entry.format is not None:
                attrs["ADMID"] = _file_object_id(entry)
            node = _sub(group, _m("file"), **attrs)
            _sub(node, _m("FLocat"), LOCTYPE="URL", **{f"{{{XLINK}}}href": entry.href})

    physical = _sub(root, _m("structMap"), TYPE="PHYSICAL")
    sequence = _sub(physical, _m("div"), TYPE="physSequence", LABEL=p.item_id)
    for page in p.pages:
        div = _sub(sequence, _m("div"), TYPE="page", ID=f"page-{page.number:04d}", ORDER=str(page.number),
                   ORDERLABEL=page.label, ADMID=f"tech-page-{page.number:04d}")
        if page.blank:  # what a viewer shows for the page
            div.set("LABEL", "blank page")
        for file_id in (page.master, page.image, page.alto, page.text):
            if file_id:
                _sub(div, _m("fptr"), FILEID=file_id)
    logical = _sub(root, _m("structMap"), TYPE="LOGICAL")
    item = _sub(logical, _m("div"), TYPE="monograph", ID="item", LABEL=dublincore.title(p.description),
                DMDID="dmd-mods dmd-dc dmd-dcterms")
    for entry in (f for f in p.files if f.use == "access"):
        _sub(item, _m("fptr"), FILEID=entry.id)
    return root


def render(package: ItemPackage, meta: ItemMetadata, identifiers: list[str], where: str) -> bytes:
    """The item's METS document, validated (MODS, DC and PREMIS inside included); ``where`` names it
    in an error."""
    root = build(package, meta, identifiers)
    schemas.validate(root, where)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _value(element: etree._Element, path: str) -> str:
    found = element.xpath(path, namespaces=NS)
    return (found[0].text or "") if found else ""


def _values(element: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in element.xpath(path, namespaces=NS)]


def read(source: Path | bytes) -> ItemPackage:
    """Load an item's METS (its file, or its bytes as read from the store) back into the project's model."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    root = (etree.fromstring(source, parser) if isinstance(source, bytes)
            else etree.parse(str(source), parser).getroot())
    files = []
    for group in root.xpath("mets:fileSec/mets:fileGrp", namespaces=NS):
        for node in group.xpath("mets:file", namespaces=NS):
            files.append(FileEntry(id=node.get("ID"), use=group.get("USE"), mimetype=node.get("MIMETYPE"),
                                   size=int(node.get("SIZE")), sha256=node.get("CHECKSUM"),
                                   created=node.get("CREATED", ""), format=_read_file_format(root, node.get("ADMID")),
                                   href=node.xpath("mets:FLocat", namespaces=NS)[0].get(f"{{{XLINK}}}href")))
    uses = {f.id: f.use for f in files}
    pages = []
    for div in root.xpath("mets:structMap[@TYPE='PHYSICAL']//mets:div[@TYPE='page']", namespaces=NS):
        tech = root.xpath(f"mets:amdSec/mets:techMD[@ID='{div.get('ADMID')}']//premis:object", namespaces=NS)[0]
        props = dict(zip(_values(tech, "premis:significantProperties/premis:significantPropertiesType"),
                         _values(tech, "premis:significantProperties/premis:significantPropertiesValue")))
        pointers = {uses[f.get("FILEID")]: f.get("FILEID") for f in div.xpath("mets:fptr", namespaces=NS)}
        pages.append(PageImage(number=int(div.get("ORDER")), label=div.get("ORDERLABEL"), master=pointers["master"],
                               image=pointers.get("image"), alto=pointers.get("alto"), text=pointers.get("text"),
                               **props))
    events = []
    for node in root.xpath("mets:amdSec/mets:digiprovMD//premis:event", namespaces=NS):
        events.append(Event(
            id=_value(node, "premis:eventIdentifier/premis:eventIdentifierValue"),
            type=_value(node, "premis:eventType"), date=_value(node, "premis:eventDateTime"),
            detail=_value(node, "premis:eventDetailInformation/premis:eventDetail"),
            outcome=_value(node, "premis:eventOutcomeInformation/premis:eventOutcome"),
            outcome_detail=_value(node, "premis:eventOutcomeInformation/premis:eventOutcomeDetail/"
                                        "premis:eventOutcomeDetailNote"),
            agents=_values(node, "premis:linkingAgentIdentifier/premis:linkingAgentIdentifierValue"),
            objects=_values(node, "premis:linkingObjectIdentifier/premis:linkingObjectIdentifierValue")))
    agents = [Agent(id=_value(a, "premis:agentIdentifier/premis:agentIdentifierValue"),
                    name=_value(a, "premis:agentName"), kind=_value(a, "premis:agentType"),
                    version=_value(a, "premis:agentVersion"))
              for a in root.xpath("mets:amdSec/mets:digiprovMD//premis:agent", namespaces=NS)]
    header = root.xpath("mets:metsHdr", namespaces=NS)[0]
    return ItemPackage(
        item_id=root.get("OBJID"), library=_value(header, "mets:agent[@TYPE='ORGANIZATION']/mets:name"),
        category=_value(header, "mets:altRecordID[@TYPE='category']"),
        access=_value(header, "mets:altRecordID[@TYPE='access']"), created=header.get("CREATEDATE"),
        description=mods.from_mods(root.xpath("//mods:mods", namespaces=NS)[0]),
        agents=agents, files=files, pages=pages, events=events)


def stored_path(package: ItemPackage, entry: FileEntry) -> str:
    """A file's path in its item (``alto/0001.xml``), from its href in the METS (the store URL of
    the item followed by the path, or the path alone)."""
    href = unquote(entry.href)
    marker = f"/{package.library}/{package.item_id}/"
    if marker in href:
        return href.rsplit(marker, 1)[1]
    if "://" in href or href.startswith("/"):
        raise ValueError(f"{package.library}/{package.item_id}: the href of {entry.id} is not in the item")
    return href
