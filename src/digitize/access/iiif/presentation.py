"""IIIF Presentation API 3.0 documents of the stored items, for IIIF viewers (Mirador, Universal
Viewer) and aggregators: a Manifest per item (its pages as Canvases painted with the page images of
the IIIF Image service, with each page's ALTO and the item's PDF/A linked), a Collection per library
and one Collection of all libraries. Every URL comes from ``digitize.core.links.PublicLinks``, as the
web app's routes and the other exports do.

A document names public URLs only, under the site's public base URL: never where the store keeps a
file (its file:// or s3:// href), a local path, a master or the METS. Who may see an item is the
web layer's decision, not this module's.
"""

from __future__ import annotations

from digitize.access.iiif import content_search, image as iiif_image
from digitize.describe import dublincore
from digitize.describe.mets import stored_path
from digitize.core import rights
from digitize.core.labels import CATEGORY_LABELS
from digitize.core.links import PublicLinks
from digitize.core.models import FileEntry, ItemPackage, Name, PageImage

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
IMAGE_SERVICE = "ImageService3"
IMAGE_PROFILE = iiif_image.PROFILE
ALTO_PROFILE = "http://www.loc.gov/standards/alto/v3/alto.xsd"
PDF_FILE = "access-pdf"  # FileEntry id of the item's PDF/A
THUMBNAIL_WIDTH = 256
TOP_LABEL = {"vi": ["Tài liệu số hóa của các thư viện"], "en": ["Digitized collections of the libraries"]}

LANGUAGE_NAMES = {  # ISO 639-2 codes of the catalogues: (Vietnamese, English)
    "vie": ("Tiếng Việt", "Vietnamese"), "chi": ("Tiếng Hán", "Chinese"), "zho": ("Tiếng Hán", "Chinese"),
    "lzh": ("Hán văn cổ", "Literary Chinese"), "fre": ("Tiếng Pháp", "French"),
    "fra": ("Tiếng Pháp", "French"), "eng": ("Tiếng Anh", "English"),
}
ROLE_NAMES = {  # MARC relator terms (as digitize.describe.marc gives them) in Vietnamese
    "author": "tác giả", "editor": "biên tập", "translator": "dịch", "compiler": "biên soạn",
    "illustrator": "minh họa", "photographer": "chụp ảnh", "annotator": "chú giải",
    "commentator": "bình luận", "author of introduction": "viết lời giới thiệu", "publisher": "xuất bản",
    "issuing body": "cơ quan ban hành", "cartographer": "vẽ bản đồ",
}
UNNAMED_ROLES = ("creator", "contributor")


def _image(links: PublicLinks, library: str, item_id: str, page: int, size: str = "max") -> str:
    """A page's whole image as JPEG from its image service, at an Image API size (``max``, ``256,``)."""
    return f"{links.image_service(library, item_id, page)}/full/{size}/0/default.jpg"


def _annotation_page(links: PublicLinks, library: str, item_id: str, page: int) -> str:
    return f"{links.canvas(library, item_id, page)}/page"


def _painting(links: PublicLinks, library: str, item_id: str, page: int) -> str:
    return f"{links.canvas(library, item_id, page)}/page/image"


def _words(vi: str | list[str], en: str | list[str]) -> dict[str, list[str]]:
    """A language map in Vietnamese and English."""
    return {"vi": [vi] if isinstance(vi, str) else vi, "en": [en] if isinstance(en, str) else en}


def _person(name: Name, language: str) -> str:
    if name.role in UNNAMED_ROLES:
        return name.name
    return f"{name.name} ({ROLE_NAMES.get(name.role, name.role) if language == 'vi' else name.role})"


def _names(names: list[Name]) -> dict[str, list[str]]:
    """Names with their roles in words, in Vietnamese and English (the names alone when no role is given)."""
    vi, en = [_person(n, "vi") for n in names], [_person(n, "en") for n in names]
    return _words(vi, en) if vi != en else {"none": vi}


def _metadata(package: ItemPackage) -> list[dict]:
    """The Dublin Core of the item as label/value pairs, labelled in Vietnamese and English."""
    d = package.description
    entries: list[dict] = []

    def add(vi: str, en: str, value: dict[str, list[str]]) -> None:
        value = {language: [v for v in values if v] for language, values in value.items()}
        if all(value.values()):
            entries.append({"label": _words(vi, en), "value": value})

    primary = [n for n in d.names if n.primary]
    others = [n for n in d.names if not n.primary]
    languages = [LANGUAGE_NAMES.get(code, (code, code)) for code in d.languages]
    extent = f"{len(package.pages)} trang ảnh (page images)" + (f"; {d.extent}" if d.extent else "")
    add("Nhan đề", "Title", {"vi": [dublincore.title(d)]})
    add("Tác giả", "Creator", _names(primary))
    add("Người đóng góp", "Contributor", _names(others))
    add("Thông tin trách nhiệm", "Statement of responsibility", {"vi": [d.responsibility]})
    add("Nơi xuất bản", "Place of publication", {"vi": [d.place]})
    add("Nhà xuất bản", "Publisher", {"vi": [d.publisher]})
    add("Năm", "Date", {"none": [d.date or d.date_w3cdtf]})
    add("Ngôn ngữ", "Language", _words([vi for vi, _ in languages], [en for _, en in languages]))
    add("Mô tả vật lý", "Extent", {"vi": [extent]})
    add("Chủ đề", "Subject", {"vi": d.subjects})
    add("Địa danh", "Place", {"vi": d.places})
    add("Thời kỳ", "Period", {"vi": d.periods})
    add("Ký hiệu xếp giá", "Call number", {"none": [d.call_number]})
    add("Mã tài liệu", "Identifier", {"none": [package.item_id]})
    add("Nhóm tài liệu (kế hoạch số hóa)", "Collection (digitization plan)", _words(CATEGORY_LABELS["vi"][package.category.value],
                                            CATEGORY_LABELS["en"][package.category.value]))
    add("Quyền truy cập", "Access", {"vi": [dublincore.ACCESS_TEXT[package.access]]})
    if d.rights:
        licence = rights.name(d.rights)
        add("Quyền sử dụng", "Rights", _words(licence.in_language("vi"), licence.in_language("en")))
    return entries


def _image_service(links: PublicLinks, package: ItemPackage, page: PageImage) -> list[dict]:
    return [{"id": links.image_service(package.library, package.item_id, page.number), "type": IMAGE_SERVICE,
             "profile": IMAGE_PROFILE}]


def _size(package: ItemPackage, page: PageImage) -> tuple[int, int]:
    if not page.image or not page.image_width or not page.image_height:
        raise ValueError(f"{package.library}/{package.item_id}: page {page.number} has no page image in its "
                         "METS (stored before page images were kept); store the item again")
    return page.image_width, page.image_height


def _canvas(links: PublicLinks, package: ItemPackage, page: PageImage, files: dict[str, FileEntry]) -> dict:
    library, item_id, number = package.library, package.item_id, page.number
    width, height = _size(package, page)
    canvas_id = links.canvas(library, item_id, number)
    image = {"id": _image(links, library, item_id, number), "type": "Image", "format": "image/jpeg",
             "width": width, "height": height, "service": _image_service(links, package, page)}
    painting = {"id": _painting(links, library, item_id, number), "type": "Annotation", "motivation": "painting",
                "body": image, "target": canvas_id}
    canvas = {"id": canvas_id, "type": "Canvas", "label": _words(f"Trang {page.label}", f"Page {page.label}"),
              "width": width, "height": height,
              "items": [{"id": _annotation_page(links, library, item_id, number), "type": "AnnotationPage",
                         "items": [painting]}]}
    if page.alto and page.alto in files:
        canvas["seeAlso"] = [{"id": links.file(library, item_id, stored_path(package, files[page.alto])),
                              "type": "Dataset", "format": "application/xml", "profile": ALTO_PROFILE,
                              "label": {"none": ["ALTO"]}}]
    return canvas


def _thumbnail(links: PublicLinks, package: ItemPackage) -> list[dict]:
    """The first page with ink (else the first page), THUMBNAIL_WIDTH pixels wide at most."""
    page = next((p for p in package.pages if not p.blank), package.pages[0])
    width, height = _size(package, page)
    small = min(THUMBNAIL_WIDTH, width)
    return [{"id": _image(links, package.library, package.item_id, page.number, f"{small},"), "type": "Image",
             "format": "image/jpeg", "width": small, "height": max(1, round(height * small / width)),
             "service": _image_service(links, package, page)}]


def viewing_direction(package: ItemPackage) -> str:
    """right-to-left when most pages with ink are read in columns (Hán-Nôm), else left-to-right."""
    read = [p for p in package.pages if not p.blank]
    vertical = sum(p.direction == "vertical" for p in read)
    return "right-to-left" if read and vertical * 2 > len(read) else "left-to-right"


def _collection_reference(links: PublicLinks, library: str, library_name: str) -> dict:
    return {"id": links.collection(library), "type": "Collection", "label": {"vi": [library_name or library]}}


def _library_homepage(links: PublicLinks, library: str, library_name: str) -> dict:
    return {"id": links.library(library), "type": "Text", "label": {"vi": [library_name or library]},
            "format": "text/html"}


def _provider(links: PublicLinks, library: str, library_name: str) -> dict:
    """The library as the provider of the items, with its page on the site."""
    return {"id": links.library(library), "type": "Agent", "label": {"vi": [library_name or library]},
            "homepage": [_library_homepage(links, library, library_name)]}


def item_manifest(package: ItemPackage, links: PublicLinks, library_name: str = "") -> dict:
    """The IIIF Presentation 3.0 Manifest of a stored item (JSON-ready), from its METS package;
    ``library_name`` is the library's name to show (else its code). Its rights are stated in words
    (requiredStatement): the access an item has is no Creative Commons or RightsStatements.org
    licence: ``rights`` is the item's RightsStatements.org or Creative Commons URI where its metadata
    (or its library's default) gives one, named in the requiredStatement too. ValueError for an item without pages or page images."""
    if not package.pages:
        raise ValueError(f"{package.library}/{package.item_id}: the item has no pages")
    library, item_id = package.library, package.item_id
    name = library_name or library
    files = {entry.id: entry for entry in package.files}
    access = dublincore.ACCESS_TEXT[package.access]
    manifest: dict = {
        "@context": PRESENTATION_CONTEXT,
        "id": links.manifest(library, item_id),
        "type": "Manifest",
        "label": {"vi": [dublincore.title(package.description)]},
        "metadata": _metadata(package),
    }
    if package.description.notes:
        manifest["summary"] = {"vi": package.description.notes}
    licence = rights.name(package.description.rights) if package.description.rights else None
    manifest["requiredStatement"] = {
        "label": _words("Nguồn và quyền sử dụng", "Attribution and rights"),
        "value": _words(f"Tài liệu của {name}. {access}" + (f" {licence.in_language('vi')}." if licence else ""),
                        f"Provided by {name}. {access}" + (f" {licence.in_language('en')}." if licence else ""))}
    if licence:
        manifest["rights"] = package.description.rights
    manifest["homepage"] = [{"id": links.item(library, item_id), "type": "Text",
                             "label": {"vi": [dublincore.title(package.description)]}, "format": "text/html"}]
    if PDF_FILE in files:
        manifest["rendering"] = [{"id": links.pdf(library, item_id), "type": "Text", "label": {"none": ["PDF/A"]},
                                  "format": "application/pdf"}]
    manifest["provider"] = [_provider(links, library, library_name)]
    manifest["thumbnail"] = _thumbnail(links, package)
    manifest["service"] = [content_search.service(links.search(library, item_id))]
    manifest["viewingDirection"] = viewing_direction(package)
    if len(package.pages) > 1:
        manifest["behavior"] = ["paged"]
    manifest["partOf"] = [_collection_reference(links, library, library_name)]
    pages = sorted(package.pages, key=lambda p: p.number)
    manifest["items"] = [_canvas(links, package, page, files) for page in pages]
    return manifest


def library_collection(library: str, library_name: str, items: list[tuple[str, str]], links: PublicLinks) -> dict:
    """The IIIF Collection of a library: a reference to each item's Manifest, ``items`` as
    (item_id, title) in the order given."""
    collection = {"@context": PRESENTATION_CONTEXT} | _collection_reference(links, library, library_name)
    collection |= {
        "homepage": [_library_homepage(links, library, library_name)],
        "provider": [_provider(links, library, library_name)],
        "partOf": [{"id": links.collection(), "type": "Collection", "label": TOP_LABEL}],
        "items": [{"id": links.manifest(library, item_id), "type": "Manifest", "label": {"vi": [title]}}
                  for item_id, title in items],
    }
    return collection


def top_collection(libraries: list[tuple[str, str]], links: PublicLinks) -> dict:
    """The IIIF Collection of all libraries: a reference to each library's Collection,
    ``libraries`` as (code, name) in the order given."""
    return {"@context": PRESENTATION_CONTEXT, "id": links.collection(), "type": "Collection",
            "label": TOP_LABEL, "homepage": [{"id": links.home(), "type": "Text", "label": TOP_LABEL,
                                              "format": "text/html"}],
            "items": [_collection_reference(links, library, name) for library, name in libraries]}
