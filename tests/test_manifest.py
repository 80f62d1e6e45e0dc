"""IIIF Presentation 3.0 manifests and collections of the stored test items (tests/data/stored/),
checked with iiif-prezi3 in an environment of its own (it pins an older Pillow than the project's),
once for the whole module: every page a canvas of its image's size, public URLs only."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

import pytest
from PIL import Image

from conftest import IIIF_TOOLS, ROOT, STORED, tool_python
from digitize.access.iiif import content_search, presentation as manifest
from digitize.describe import dublincore, mets
from digitize.core.links import PublicLinks
from digitize.core.models import ItemPackage, Name

STORE = STORED / "store"
LIBRARY, LIBRARY_NAME = "HD-TV", "Thư viện tỉnh Hải Dương"
DIA_CHI, HAN_NOM = "HD-DC-0001", "HN-TK-0002"
BASE = "https://thuvien.example.vn/so-hoa"
LINKS = PublicLinks(BASE)
PUBLIC_SCHEMAS = {manifest.PRESENTATION_CONTEXT, manifest.ALTO_PROFILE, content_search.SEARCH_PROFILE}

# Run by iiif-prezi3's Python: reads {name: document} and answers {name: [problems]}. A document is
# valid when iiif-prezi3 parses it and gives back the same JSON (it silently fills in a missing id,
# turns a plain string label into a language map and drops unknown properties), and when it has
# what Presentation 3.0 requires but iiif-prezi3's models leave optional: a label, a Manifest has a
# Canvas, a Canvas its width and height, and each painting annotation targets its canvas with an image.
CHECK = r'''
import json
import sys

from iiif_prezi3 import Collection, Manifest


def canvas_problems(canvas):
    found = []
    for side in ("width", "height"):
        if type(canvas.get(side)) is not int or canvas[side] < 1:
            found.append(f"{canvas.get('id')}: the canvas has no {side}")
    for page in canvas.get("items", []):
        for annotation in page.get("items", []):
            body = annotation.get("body", {})
            if annotation.get("motivation") != "painting" or annotation.get("target") != canvas.get("id"):
                found.append(f"{annotation.get('id')}: not a painting annotation of its canvas")
            if body.get("type") != "Image" or not str(body.get("format", "")).startswith("image/"):
                found.append(f"{annotation.get('id')}: its body is not an image")
    return found


def problems(document):
    model = {"Manifest": Manifest, "Collection": Collection}.get(document.get("type"))
    if model is None:
        return [f"not a Manifest or Collection: {document.get('type')!r}"]
    try:
        parsed = model(**document)
    except Exception as exc:
        return [f"iiif-prezi3: {exc}"]
    found = []
    if json.loads(parsed.json()) != document:
        found.append("iiif-prezi3 reads it otherwise (a property unknown, filled in or converted)")
    if not document.get("label"):
        found.append(f"a {document['type']} needs a label")
    if document["type"] == "Manifest":
        if not document["items"]:
            found.append("a Manifest needs at least one Canvas")
        for canvas in document["items"]:
            found += canvas_problems(canvas)
    return found


documents = json.load(sys.stdin)
json.dump({name: problems(document) for name, document in documents.items()}, sys.stdout)
'''


def load(item_id: str) -> ItemPackage:
    return mets.read((STORE / LIBRARY / item_id / "mets.xml").read_bytes())


def with_directions(package: ItemPackage, *directions: str, blank: tuple[int, ...] = ()) -> ItemPackage:
    """A copy of ``package`` whose pages are read in ``directions`` (one per page, the last one
    repeated), the pages numbered in ``blank`` being blank."""
    pages = [page.model_copy(update={"direction": directions[min(i, len(directions) - 1)],
                                     "blank": page.number in blank})
             for i, page in enumerate(package.pages)]
    return package.model_copy(update={"pages": pages})


def described(package: ItemPackage) -> ItemPackage:
    """A copy of ``package`` with a full catalogue description."""
    description = package.description.model_copy(update={
        "subtitle": "Đoạn trường tân thanh",
        "names": [Name(name="Nguyễn Du", role="author", primary=True), Name(name="Đào Duy Anh", role="annotator"),
                  Name(name="Nhà in Liễu Văn Đường", kind="corporate")],
        "place": "Hà Nội", "publisher": "Liễu Văn Đường", "date": "[1866?]", "date_w3cdtf": "1866",
        "languages": ["vie", "chi"], "extent": "2 tr. ; 24 cm", "notes": ["Bản khắc gỗ, chữ Nôm."],
        "subjects": ["Văn học cổ điển -- Việt Nam"], "places": ["Hải Dương"], "periods": ["Thế kỷ 19"],
        "rights": "http://creativecommons.org/licenses/by-nc/4.0/",
    })
    return package.model_copy(update={"description": description})


@pytest.fixture(scope="module")
def packages() -> dict[str, ItemPackage]:
    found = {item_id: load(item_id) for item_id in (DIA_CHI, HAN_NOM)}
    assert all(page.image for package in found.values() for page in package.pages), "fixtures without page images"
    return found


@pytest.fixture(scope="module")
def documents(packages) -> dict[str, dict]:
    han_nom = packages[HAN_NOM]
    return {
        DIA_CHI: manifest.item_manifest(packages[DIA_CHI], LINKS, LIBRARY_NAME),
        HAN_NOM: manifest.item_manifest(han_nom, LINKS, LIBRARY_NAME),
        "vertical": manifest.item_manifest(with_directions(han_nom, "vertical"), LINKS, LIBRARY_NAME),
        "described": manifest.item_manifest(described(han_nom), LINKS),
        "library": manifest.library_collection(
            LIBRARY, LIBRARY_NAME, [(p.item_id, dublincore.title(p.description)) for p in packages.values()], LINKS),
        "top": manifest.top_collection([(LIBRARY, LIBRARY_NAME), ("HN-TV", "Thư viện Hà Nội")], LINKS),
    }


def broken(good: dict[str, dict]) -> dict[str, dict]:
    """Copies of a good manifest and collection, each with one fault a viewer would trip on."""
    def changed(change, name: str = DIA_CHI) -> dict:
        copy = json.loads(json.dumps(good[name]))
        change(copy)
        return copy

    return {
        "canvas without width": changed(lambda d: d["items"][0].pop("width")),
        "canvas without id": changed(lambda d: d["items"][1].pop("id")),
        "height as text": changed(lambda d: d["items"][0].update(height=str(d["items"][0]["height"]))),
        "label not a language map": changed(lambda d: d.update(label=d["label"]["vi"][0])),
        "misspelt property": changed(lambda d: d["items"][0].update(seeALso=d["items"][0].pop("seeAlso"))),
        "no canvases": changed(lambda d: d.update(items=[])),
        "body not an image": changed(lambda d: d["items"][0]["items"][0]["items"][0]["body"].update(type="Text")),
        "unknown viewing direction": changed(lambda d: d.update(viewingDirection="rtl")),
        "relative ALTO link": changed(lambda d: d["items"][0]["seeAlso"][0].update(id="alto/0001.xml")),
        "collection without label": changed(lambda d: d.pop("label"), "library"),
        "manifest reference without label": changed(lambda d: d["items"][0].pop("label"), "library"),
    }


def prezi3_problems(documents: dict[str, dict]) -> dict[str, list[str]]:
    """What iiif-prezi3 and the rules beside it find wrong in each document, by name."""
    python = tool_python("iiif_prezi3", *IIIF_TOOLS)
    result = subprocess.run([str(python), "-c", CHECK], input=json.dumps(documents), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def checked(documents) -> dict[str, list[str]]:
    """The problems of each document, good and broken."""
    return prezi3_problems(documents | broken(documents))


def test_manifests_and_collections_are_valid_iiif(documents, checked):
    for name in documents:
        assert checked[name] == [], name


def test_the_licence_is_the_manifests_rights_and_named_in_its_required_statement(documents):
    """The item's rights URI is the manifest's ``rights`` (checked valid above, by iiif-prezi3), named
    in both languages in the statement a viewer shows; an item without one states no ``rights``."""
    described = documents["described"]
    assert described["rights"] == "http://creativecommons.org/licenses/by-nc/4.0/"
    statement = described["requiredStatement"]["value"]
    assert "Creative Commons Ghi công - Phi thương mại 4.0 (CC BY-NC)" in statement["vi"][0]
    assert "Creative Commons Attribution-NonCommercial 4.0 (CC BY-NC)" in statement["en"][0]
    assert "rights" not in documents[DIA_CHI]


def test_the_check_finds_broken_manifests(documents, checked):
    for name in broken(documents):
        assert checked[name], f"{name}: passed the check"


def test_every_page_is_a_canvas_of_its_image(packages, documents):
    for item_id, package in packages.items():
        canvases = documents[item_id]["items"]
        assert len(canvases) == len(package.pages) >= 2
        files = {entry.id: entry for entry in package.files}
        for number, (canvas, page) in enumerate(zip(canvases, package.pages), start=1):
            relative = mets.stored_path(package, files[page.image])
            assert relative == f"images/{number:04d}.jpg"
            with Image.open(STORE / LIBRARY / item_id / relative) as jpeg:
                size = jpeg.size
            assert (canvas["width"], canvas["height"]) == size == (page.image_width, page.image_height)
            assert canvas["id"] == f"{BASE}/iiif/{LIBRARY}/{item_id}/canvas/{number}"
            assert canvas["label"] == {"vi": [f"Trang {number}"], "en": [f"Page {number}"]}
            [annotation_page] = canvas["items"]
            [painting] = annotation_page["items"]
            assert painting["motivation"] == "painting" and painting["target"] == canvas["id"]
            service = f"{BASE}/iiif/{LIBRARY}/{item_id}/{number}"
            assert painting["body"] == {
                "id": f"{service}/full/max/0/default.jpg", "type": "Image", "format": "image/jpeg",
                "width": size[0], "height": size[1],
                "service": [{"id": service, "type": "ImageService3", "profile": manifest.IMAGE_PROFILE}]}
            assert canvas["seeAlso"] == [{
                "id": f"{BASE}/items/{LIBRARY}/{item_id}/files/alto/{number:04d}.xml", "type": "Dataset",
                "format": "application/xml", "profile": "http://www.loc.gov/standards/alto/v3/alto.xsd",
                "label": {"none": ["ALTO"]}}]
        ids = [node["id"] for canvas in canvases
               for node in (canvas, canvas["items"][0], canvas["items"][0]["items"][0])]
        assert len(set(ids)) == len(ids)


def test_item_links_and_labels(packages, documents):
    for item_id, package in packages.items():
        document = documents[item_id]
        assert document["@context"] == "http://iiif.io/api/presentation/3/context.json"
        assert document["type"] == "Manifest"
        assert document["id"] == f"{BASE}/iiif/{LIBRARY}/{item_id}/manifest.json"
        assert document["label"] == {"vi": [package.description.title]}
        assert document["homepage"][0] | {"label": None} == {
            "id": f"{BASE}/items/{LIBRARY}/{item_id}", "type": "Text", "format": "text/html", "label": None}
        assert document["rendering"] == [{"id": f"{BASE}/items/{LIBRARY}/{item_id}/files/{item_id}.pdf",
                                          "type": "Text", "label": {"none": ["PDF/A"]},
                                          "format": "application/pdf"}]
        assert document["provider"][0]["label"] == {"vi": [LIBRARY_NAME]}
        assert document["provider"][0]["homepage"][0]["id"] == f"{BASE}/libraries/{LIBRARY}"
        assert document["partOf"] == [{"id": f"{BASE}/iiif/{LIBRARY}/collection.json", "type": "Collection",
                                       "label": {"vi": [LIBRARY_NAME]}}]
        assert document["behavior"] == ["paged"]
        assert LIBRARY_NAME in document["requiredStatement"]["value"]["vi"][0]
        assert dublincore.ACCESS_TEXT[package.access] in document["requiredStatement"]["value"]["vi"][0]
        assert "rights" not in document  # the access in words is no licence URI
        for entry in document["metadata"]:
            assert set(entry["label"]) == {"vi", "en"}, entry
        metadata = {entry["label"]["en"][0]: entry["value"] for entry in document["metadata"]}
        assert metadata["Title"] == {"vi": [package.description.title]}
        assert metadata["Creator"] == {"none": [package.description.names[0].name]}
        assert metadata["Date"] == {"none": [package.description.date]}
        assert metadata["Call number"] == {"none": [package.description.call_number]}
        assert metadata["Language"] == {"vi": ["Tiếng Việt"], "en": ["Vietnamese"]}
        assert metadata["Access"] == {"vi": [dublincore.ACCESS_TEXT[package.access]]}
        [thumbnail] = document["thumbnail"]
        assert thumbnail["id"] == f"{BASE}/iiif/{LIBRARY}/{item_id}/1/full/256,/0/default.jpg"
        assert thumbnail["width"] == 256
        assert thumbnail["height"] == round(package.pages[0].image_height * 256 / package.pages[0].image_width)
    assert {e["label"]["en"][0]: e["value"] for e in documents[DIA_CHI]["metadata"]}["Collection (digitization plan)"] == {
        "vi": ["Địa chí"], "en": ["Local history (địa chí)"]}


def test_catalogue_description_in_words(documents):
    document = documents["described"]
    assert document["label"] == {"vi": ["Truyện Kiều (bản 1866) : Đoạn trường tân thanh"]}
    assert document["summary"] == {"vi": ["Bản khắc gỗ, chữ Nôm."]}
    metadata = {entry["label"]["en"][0]: entry["value"] for entry in document["metadata"]}
    assert metadata["Creator"] == {"vi": ["Nguyễn Du (tác giả)"], "en": ["Nguyễn Du (author)"]}
    assert metadata["Contributor"] == {"vi": ["Đào Duy Anh (chú giải)", "Nhà in Liễu Văn Đường"],
                                       "en": ["Đào Duy Anh (annotator)", "Nhà in Liễu Văn Đường"]}
    assert metadata["Publisher"] == {"vi": ["Liễu Văn Đường"]}
    assert metadata["Place of publication"] == {"vi": ["Hà Nội"]}
    assert metadata["Date"] == {"none": ["[1866?]"]}
    assert metadata["Language"] == {"vi": ["Tiếng Việt", "Tiếng Hán"], "en": ["Vietnamese", "Chinese"]}
    assert metadata["Extent"] == {"vi": ["2 trang ảnh (page images); 2 tr. ; 24 cm"]}
    assert metadata["Subject"] == {"vi": ["Văn học cổ điển -- Việt Nam"]}
    assert metadata["Place"] == {"vi": ["Hải Dương"]}
    assert metadata["Period"] == {"vi": ["Thế kỷ 19"]}
    assert metadata["Collection (digitization plan)"] == {"vi": ["Cổ, quý hiếm, có giá trị đặc biệt"],
                                    "en": ["Ancient, rare, special value"]}
    assert document["provider"][0]["label"] == {"vi": [LIBRARY]}  # no library name given: its code


def test_reading_direction(packages, documents):
    han_nom = packages[HAN_NOM]
    assert documents[DIA_CHI]["viewingDirection"] == "left-to-right"
    assert documents["vertical"]["viewingDirection"] == "right-to-left"
    read_in_columns = sum(p.direction == "vertical" for p in han_nom.pages) * 2 > len(han_nom.pages)
    assert documents[HAN_NOM]["viewingDirection"] == ("right-to-left" if read_in_columns else "left-to-right")
    assert manifest.viewing_direction(with_directions(han_nom, "horizontal")) == "left-to-right"
    assert manifest.viewing_direction(with_directions(han_nom, "vertical", "horizontal")) == "left-to-right"
    assert manifest.viewing_direction(with_directions(han_nom, "horizontal", "vertical", blank=(1,))) == "right-to-left"
    assert manifest.viewing_direction(with_directions(han_nom, "vertical", blank=(1, 2))) == "left-to-right"


def test_thumbnail_skips_blank_pages(packages):
    document = manifest.item_manifest(with_directions(packages[DIA_CHI], "horizontal", blank=(1,)), LINKS)
    assert document["thumbnail"][0]["service"][0]["id"] == f"{BASE}/iiif/{LIBRARY}/{DIA_CHI}/2"


def test_collections(packages, documents):
    library = documents["library"]
    assert library["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert library["id"] == f"{BASE}/iiif/{LIBRARY}/collection.json"
    assert library["label"] == {"vi": [LIBRARY_NAME]}
    assert library["homepage"][0]["id"] == f"{BASE}/libraries/{LIBRARY}"
    assert library["partOf"][0]["id"] == f"{BASE}/iiif/collection.json"
    assert library["items"] == [
        {"id": f"{BASE}/iiif/{LIBRARY}/{item_id}/manifest.json", "type": "Manifest",
         "label": {"vi": [package.description.title]}} for item_id, package in packages.items()]
    top = documents["top"]
    assert top["id"] == f"{BASE}/iiif/collection.json"
    assert top["items"] == [
        {"id": f"{BASE}/iiif/HD-TV/collection.json", "type": "Collection", "label": {"vi": [LIBRARY_NAME]}},
        {"id": f"{BASE}/iiif/HN-TV/collection.json", "type": "Collection", "label": {"vi": ["Thư viện Hà Nội"]}}]


def strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [key, *strings(value)]]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def test_nothing_but_public_urls(packages, documents):
    stored = [entry.href for package in packages.values() for entry in package.files]
    for name, document in documents.items():
        text = json.dumps(document, ensure_ascii=False)
        for private in ("file:", "s3:", "/tmp/", str(ROOT), "masters/", "mets", ".tif", *stored):
            assert private not in text, (name, private)
        for value in strings(document):
            if "://" in value:
                assert value.startswith(BASE + "/") or value in PUBLIC_SCHEMAS or value == document.get("rights"), \
                    (name, value)


def test_links_from_any_store(packages):
    """The public URLs do not depend on where the store is (a folder or S3) and are quoted."""
    package = packages[DIA_CHI]
    library = "ĐC-TV"

    def moved(store: str) -> ItemPackage:
        files = [entry.model_copy(update={"href": f"{store}/{entry.href.split(f'/{LIBRARY}/{DIA_CHI}/')[1]}"})
                 for entry in package.files]
        return package.model_copy(update={"library": library, "files": files})

    for store in (f"s3://archive/prefix/{library}/{DIA_CHI}", f"file:///srv/store/{quote(library)}/{DIA_CHI}"):
        document = manifest.item_manifest(moved(store), LINKS)
        assert document["rendering"][0]["id"] == f"{BASE}/items/%C4%90C-TV/{DIA_CHI}/files/{DIA_CHI}.pdf"
        assert document["items"][1]["seeAlso"][0]["id"] == f"{BASE}/items/%C4%90C-TV/{DIA_CHI}/files/alto/0002.xml"
        assert document["id"] == f"{BASE}/iiif/%C4%90C-TV/{DIA_CHI}/manifest.json"
        assert "s3:" not in json.dumps(document) and "file:" not in json.dumps(document)
    relative = package.model_copy(update={"files": [
        entry.model_copy(update={"href": entry.href.split(f"/{LIBRARY}/{DIA_CHI}/")[1]}) for entry in package.files]})
    assert manifest.item_manifest(relative, LINKS) == manifest.item_manifest(package, LINKS)
    elsewhere = package.model_copy(update={"files": [
        entry.model_copy(update={"href": "s3://archive/other/0001.xml"}) for entry in package.files]})
    with pytest.raises(ValueError, match="not in the item"):
        manifest.item_manifest(elsewhere, LINKS)


def test_pages_without_images_are_refused(packages):
    package = packages[DIA_CHI]
    old = package.model_copy(update={"pages": [p.model_copy(update={"image": None, "image_width": None,
                                                                     "image_height": None}) for p in package.pages]})
    with pytest.raises(ValueError, match="no page image"):
        manifest.item_manifest(old, LINKS)
