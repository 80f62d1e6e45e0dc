"""Dublin Core of an item: the simple oai_dc record national aggregators harvest, and the
qualified (dcterms) statements that go with it. Also the values the PDF's XMP repeats."""

from __future__ import annotations

from lxml import etree

from digitize.core.models import Access, Description, ItemMetadata, Name

DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# ISO 639-2 (what catalogues record) to the ISO 639-1 tags of xml:lang, for the languages we meet
LANGUAGE_TAGS = {"vie": "vi", "fre": "fr", "fra": "fr", "eng": "en", "chi": "zh", "zho": "zh", "lzh": "lzh"}

ACCESS_TEXT = {
    Access.open: "Truy cập mở (open access)",
    Access.restricted: "Hạn chế: chỉ phục vụ tại thư viện (restricted: on-site use only)",
    Access.secret: "Tài liệu mật: không phục vụ công khai (state secret: excluded from public services)",
}


def from_item(meta: ItemMetadata) -> Description:
    """The description an item's own metadata gives, when no catalogue record matches it."""
    year = meta.date[:4] if meta.date[:4].isdigit() else ""
    return Description(title=meta.title, names=[Name(name=meta.creator, primary=True)] if meta.creator else [],
                       date=meta.date, date_w3cdtf=year, languages=[meta.language],
                       call_number=meta.call_number, publisher=meta.publisher, place=meta.place,
                       extent=meta.extent, rights=meta.rights)


def publication(description: Description) -> str:
    """Place and publisher in one dc:publisher, as the Library of Congress' MARC to Dublin Core
    crosswalk joins 264 $a and $b ("Hà Nội : Văn học"; "[s.n.]" where the publisher is not known). The
    place of publication is not dc:coverage: coverage is what the item is about, and a local-history
    (địa chí) book about Hải Dương printed in Hà Nội must not be harvested as covering Hà Nội."""
    if not description.place:
        return description.publisher
    return f"{description.place} : {description.publisher or '[s.n.]'}"


def title(description: Description) -> str:
    return f"{description.title} : {description.subtitle}" if description.subtitle else description.title


def creators(description: Description) -> list[str]:
    return [n.name for n in description.names if n.primary]


def contributors(description: Description) -> list[str]:
    return [n.name for n in description.names if not n.primary]


def oai_dc(description: Description, meta: ItemMetadata, identifiers: list[str]) -> etree._Element:
    d = description
    record = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC})

    def add(tag: str, text: str, **attrs) -> None:
        if text:
            etree.SubElement(record, f"{{{DC}}}{tag}", attrs).text = text

    add("title", title(d), **{XML_LANG: LANGUAGE_TAGS.get(d.languages[0] if d.languages else "vie", "vi")})
    for name in creators(d):
        add("creator", name)
    for subject in d.subjects:
        add("subject", subject)
    for note in d.notes:
        add("description", note)
    add("publisher", publication(d))
    for name in contributors(d):
        add("contributor", name)
    add("date", d.date_w3cdtf)
    add("type", "Text")
    add("format", "application/pdf")
    for identifier in identifiers:
        add("identifier", identifier)
    add("source", d.call_number)
    for code in d.languages:
        add("language", code)
    for coverage in d.places + d.periods:
        add("coverage", coverage)
    add("rights", ACCESS_TEXT[meta.access])
    add("rights", d.rights)
    return record


def dcterms(description: Description, meta: ItemMetadata, pages: int) -> list[etree._Element]:
    """Qualified statements: access rights, extent, and the spatial and temporal coverage."""
    def element(tag: str, text: str) -> etree._Element:
        node = etree.Element(f"{{{DCTERMS}}}{tag}", nsmap={"dcterms": DCTERMS})
        node.text = text
        return node

    extent = f"{pages} trang ảnh (page images)" + (f"; {description.extent}" if description.extent else "")
    return ([element("accessRights", ACCESS_TEXT[meta.access]), element("extent", extent)]
            + [element("spatial", p) for p in description.places]
            + [element("temporal", p) for p in description.periods])
