"""Standards metadata of stored items (the fixture tests/data/stored/, from a real run of the
pipeline): METS with MODS, DC and PREMIS valid against the official schemas, checksums and hrefs
that hold, XMP that agrees with DC, and a METS round trip."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pikepdf
import pytest
from lxml import etree

from conftest import ROOT, STORED, StoredItems, copy_stored_items, tree_hashes
from digitize.describe import mets, schemas
from digitize.describe.dublincore import DC, OAI_DC
from digitize.core.errors import OutputInvalid
from digitize.core.models import Description, ItemMetadata, Name, StoredManifest
from digitize.capture.pdf import validate_pdfa

NS = mets.NS


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> StoredItems:
    return copy_stored_items(tmp_path_factory.mktemp("stored"))


@pytest.fixture(scope="module")
def folders(stored) -> list[Path]:
    """The stored folder of each item."""
    found = [stored.folder(item_id) for item_id in stored.item_ids()]
    assert len(found) == 2 and all((folder / "mets.xml").is_file() for folder in found)
    return found


def test_mets_and_dc_of_every_sample_item_are_schema_valid(folders):
    for folder in folders:
        schemas.validate_file(folder / "mets.xml")
        schemas.validate_file(folder / "dc.xml")
        root = etree.parse(str(folder / "mets.xml")).getroot()
        # the embedded records are there (and were validated with the METS document)
        for path in ("//mods:mods", "//oai_dc:dc", "//dcterms:accessRights", "//premis:event", "//premis:agent",
                     "//premis:object"):
            assert root.xpath(path, namespaces=NS), path
        # ... and also validate on their own
        for path in ("//mods:mods", "//oai_dc:dc", "//premis:event"):
            for element in root.xpath(path, namespaces=NS):
                schemas.validate(etree.ElementTree(element), path)


@pytest.mark.parametrize("break_it,element", [
    (lambda root: root.xpath("//mets:dmdSec", namespaces=NS)[0].attrib.pop("ID"), "ID"),
    (lambda root: etree.SubElement(root.xpath("//mods:titleInfo", namespaces=NS)[0],
                                   "{http://www.loc.gov/mods/v3}titel"), "titel"),
    (lambda root: root.xpath("//premis:event/premis:eventType", namespaces=NS)[0].getparent().remove(
        root.xpath("//premis:event/premis:eventType", namespaces=NS)[0]), "eventDateTime"),
    (lambda root: root.xpath("//mets:file", namespaces=NS)[0].set("SIZE", "many"), "SIZE"),
    (lambda root: etree.SubElement(root.xpath("//oai_dc:dc", namespaces=NS)[0], f"{{{DC}}}author"), "author"),
])
def test_a_broken_record_is_refused_with_the_element_named(folders, break_it, element):
    root = etree.parse(str(folders[0] / "mets.xml")).getroot()
    break_it(root)
    with pytest.raises(OutputInvalid) as caught:
        schemas.validate(root, "mets.xml")
    assert "not valid against the official schema" in caught.value.message
    assert element in caught.value.message


def test_every_checksum_and_href_in_mets_holds(stored, folders):
    for folder in folders:
        package = mets.read(folder / "mets.xml")
        manifest = StoredManifest.model_validate_json((folder / "stored.json").read_text(encoding="utf-8"))
        uses = {f.use for f in package.files}
        assert uses == {"master", "image", "access", "alto", "text"}
        for entry in package.files:
            assert entry.href.startswith(manifest.store + "/"), entry.href  # the item's place in the store
            target = stored.resolve(entry.href)  # the stored object (in the copy of the store)
            assert target.is_file(), entry.href
            relative = entry.href[len(manifest.store) + 1:]
            assert manifest.objects[relative].model_dump() == {"size": entry.size, "sha256": entry.sha256}, relative
            assert hashlib.sha256(target.read_bytes()).hexdigest() == entry.sha256, entry.href
            assert target.stat().st_size == entry.size
        # every stored object is a file of the METS, but the METS itself and dc.xml (its record is in the METS)
        assert set(manifest.objects) - {"mets.xml", "dc.xml"} == {e.href[len(manifest.store) + 1:]
                                                                  for e in package.files}
        assert [p.number for p in package.pages] == list(range(1, len(stored.pages()[package.item_id]) + 1))


def test_masters_are_identical_copies_of_the_originals(stored, folders):
    for folder in folders:
        package = mets.read(folder / "mets.xml")
        originals = {hashlib.sha256(p.read_bytes()).hexdigest()
                     for p in (stored.scans / package.item_id).iterdir() if p.suffix != ".toml"}
        assert len(originals) == len({page["file"] for page in stored.pages()[package.item_id]})
        assert {f.sha256 for f in package.files if f.use == "master"} == originals


def test_premis_events_tell_what_was_done(folders):
    package = mets.read(folders[0] / "mets.xml")
    types = [e.type for e in package.events]
    for expected in ("ingestion", "validation", "fixity check", "modification", "creation"):
        assert expected in types
    geometry = [e for e in package.events if e.type == "modification"]
    assert len(geometry) == len(package.pages)
    assert "deskew angle" in geometry[0].detail
    ocr = next(e for e in package.events if e.id == "ocr")
    assert "Tesseract" in ocr.detail and "vie" in ocr.detail and "mean word confidence" in ocr.outcome_detail
    assert {a.id for a in package.agents} >= {"digitize", "tesseract", "library"}


def test_pdf_xmp_agrees_with_dublin_core_and_pdf_stays_pdfa(folders):
    for folder in folders:
        dc = etree.parse(str(folder / "dc.xml")).getroot()
        texts = lambda tag: [e.text for e in dc.findall(f"{{{DC}}}{tag}")]  # noqa: E731
        assert dc.tag == f"{{{OAI_DC}}}dc"
        pdf = next(folder.glob("*.pdf"))
        with pikepdf.open(pdf) as doc, doc.open_metadata() as xmp:
            assert xmp["dc:title"] == texts("title")[0]
            assert list(xmp["dc:creator"]) == texts("creator")
            assert list(xmp["dc:language"]) == texts("language")
            assert xmp["dc:identifier"] in texts("identifier")
        assert validate_pdfa(pdf) == []
        assert texts("type") == ["Text"] and texts("format") == ["application/pdf"]
        assert dc.find(f"{{{DC}}}title").get("{http://www.w3.org/XML/1998/namespace}lang") == "vi"


def test_mets_read_back_equals_what_was_written(folders, tmp_path):
    for folder in folders:
        package = mets.read(folder / "mets.xml")
        copy = tmp_path / "mets.xml"
        meta = ItemMetadata(id=package.item_id, title=package.description.title, library=package.library,
                            category=package.category, access=package.access)
        copy.write_bytes(mets.render(package, meta, [package.item_id], str(copy)))
        assert mets.read(copy) == package


def test_a_full_catalogue_description_survives_the_mods_round_trip(folders, tmp_path):
    package = mets.read(folders[0] / "mets.xml")
    full = Description(
        title="Địa chí Hải Dương", subtitle="Tập 1", responsibility="Ủy ban nhân dân tỉnh Hải Dương biên soạn",
        names=[Name(name="Ủy ban nhân dân tỉnh Hải Dương", kind="corporate", role="biên soạn", primary=True),
               Name(name="Nguyễn Văn Đức", role="hiệu đính")],
        place="Hải Dương", publisher="Nxb. Chính trị Quốc gia", date="2008", date_w3cdtf="2008",
        languages=["vie", "fre"], extent="1024 tr. : ảnh ; 27 cm", notes=["Có bản đồ", "Phụ lục"],
        subjects=["Lịch sử -- Văn hóa"], places=["Hải Dương (Việt Nam)"], periods=["Thế kỷ 20"],
        call_number="ĐC.2008.001", control_number="HD0001", links=["https://example.org/dc/001"])
    package = package.model_copy(update={"description": full})
    meta = ItemMetadata(id=package.item_id, title=full.title, library=package.library, access=package.access)
    (tmp_path / "mets.xml").write_bytes(mets.render(package, meta, [package.item_id], "mets.xml"))
    assert mets.read(tmp_path / "mets.xml").description == full


@pytest.mark.slow
def test_the_stored_items_are_what_the_pipeline_writes_now(tmp_path):
    """The fixture is not stale: made again by its script it is the same, byte for byte. (When the
    outputs change on purpose, run tests/data/make_stored_items.py and commit tests/data/stored/.)"""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_stored_items", ROOT / "tests" / "data" / "make_stored_items.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    maker.make(tmp_path / "stored")
    assert tree_hashes(tmp_path / "stored") == tree_hashes(STORED)
