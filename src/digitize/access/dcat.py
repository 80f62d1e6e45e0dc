"""A DCAT dataset description (JSON-LD) of a library's public digitized collection, for data
portals: its landing page is the library's collection page on the reading site, and its
distributions the OAI-PMH endpoint and the library's IIIF collection.

Only items that are open, stored ("ok") and not withdrawn are counted; restricted and secret items
never appear in it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core.files import nfc
from digitize.ledger.database import Item, Library, is_public
from digitize.core.links import PublicLinks

CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
OAI_PMH = "http://www.openarchives.org/OAI/2.0/"
DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "void": "http://rdfs.org/ns/void#",
}
CATEGORY_KEYWORDS = {"dia_chi": "tài liệu địa chí", "rare": "tài liệu quý hiếm",
                     "endogenous": "tài liệu nội sinh", "other": "tài liệu khác"}


def _date(moment: datetime | date | None) -> str:
    if isinstance(moment, datetime):
        return moment.date().isoformat()
    return moment.isoformat() if moment else ""


def dcat_record(session: Session, library_code: str, links: PublicLinks, today: date) -> dict:
    """A DCAT dataset (JSON-LD) describing a library's public digitized collection.

    - the count of public items is ``void:entities`` (VoID: "the total number of entities that
      are described in this dataset"), an xsd:integer; DCAT itself has no count property, and
      dct:extent expects a SizeOrDuration node rather than a number
    - ``dct:license`` is CC0: it covers the metadata (the records harvested over OAI-PMH), not
      the digitized documents, whose rights each record states (dc:rights)
    - ``dct:modified`` is the latest ledger datestamp (updated, else digitized) of the library's
      open stored items, withdrawn ones included (a withdrawal changes what is harvested); ``today``
      when there are none yet. ``dct:issued`` of the record itself is ``today``.
    Only items that are open, stored and not withdrawn are counted; restricted and secret items
    leave no trace (no id, title or count)."""
    library = session.get(Library, library_code)
    name = nfc(library.name if library is not None else library_code)
    public = list(session.scalars(select(Item).where(is_public(), Item.library == library_code,
                                                      Item.withdrawn.is_(None)).order_by(Item.item_id)))
    stamps = [i.updated or i.digitized for i in session.scalars(select(Item).where(
        is_public(), Item.library == library_code))]
    modified = max((s for s in stamps if s is not None), default=None)
    keywords = ["số hóa", "thư viện số", "tài liệu số"]
    keywords += [CATEGORY_KEYWORDS.get(c, c) for c in sorted({i.category for i in public})]
    count = len(public)
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{links.library(library_code)}#dataset",
        "@type": "dcat:Dataset",
        "dct:identifier": library_code,
        "dct:title": {"@value": f"Bộ sưu tập số của {name}", "@language": "vi"},
        "dct:description": {"@value": (
            f"Tài liệu số hóa truy cập mở của {name}: {count} tài liệu (bản PDF/A, văn bản nhận dạng "
            "ALTO và siêu dữ liệu METS, MODS, Dublin Core). Siêu dữ liệu được cung cấp qua OAI-PMH."),
            "@language": "vi"},
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": name},
        "dct:license": {"@id": CC0},
        "dct:issued": {"@value": _date(today), "@type": "xsd:date"},
        "dct:modified": {"@value": _date(modified) or _date(today), "@type": "xsd:date"},
        "dcat:landingPage": {"@id": links.library(library_code)},
        "dcat:keyword": [{"@value": nfc(k), "@language": "vi"} for k in dict.fromkeys(keywords)],
        "void:entities": {"@value": str(count), "@type": "xsd:integer"},
        "dcat:distribution": [{
            "@type": "dcat:Distribution",
            "dct:title": {"@value": "Thu thập siêu dữ liệu qua OAI-PMH", "@language": "vi"},
            "dcat:accessURL": {"@id": links.oai()},
            "dct:format": "application/xml",
            "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/application/xml"},
            "dct:conformsTo": {"@id": OAI_PMH},
            "dct:license": {"@id": CC0},
        }, {
            "@type": "dcat:Distribution",
            "dct:title": {"@value": "Bộ sưu tập IIIF (Presentation API 3.0)", "@language": "vi"},
            "dcat:accessURL": {"@id": links.collection(library_code)},
            "dcat:downloadURL": {"@id": links.collection(library_code)},
            "dct:format": "application/ld+json",
            "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/application/ld+json"},
            "dct:conformsTo": {"@id": "https://iiif.io/api/presentation/3.0/"},
        }],
    }
