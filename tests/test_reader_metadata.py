"""Metadata a reader understands (issue 27, point 5): publisher, place, extent and a rights URI from
item.toml, items.csv or the library's default, carried into DC, MODS, METS and MARC (schema-valid),
and the reading site naming what were codes (province, tier, collection, licence), citing the item
with a page permalink, linking the page's text, listing author and year and marking Vietnamese
values with lang on English pages (Chromium and axe-core, phone and desktop)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from lxml import etree
from sqlalchemy.orm import Session

from conftest import copy_stored_items, ledger_session, serious_accessibility_faults, sqlite_url, uvicorn_server
from digitize.capture.intake import MetadataFaults, read_item_metadata, read_items_csv
from digitize.core.errors import ConfigError
from digitize.core.links import PublicLinks
from digitize.core.models import Access, ItemMetadata
from digitize.core.profiles import load_libraries, load_library_defaults
from digitize.core.settings import PACKAGED_PROFILES
from digitize.describe import dublincore, marc, mets, mods, schemas

LICENCE = "http://creativecommons.org/licenses/by-nc/4.0/"
STATEMENT = "http://rightsstatements.org/vocab/InC-EDU/1.0/"
DC = dublincore.DC
NEW_KEYS = 'publisher = "Nxb. Văn học"\nplace = "Hà Nội"\nextent = "240 tr. ; 21 cm"\n'


def item_toml(folder: Path, extra: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "item.toml").write_text('id = "HD-VH-0001"\ntitle = "Thơ văn Hải Dương"\nlibrary = "HD-TV"\n'
                                      f'access = "open"\n{extra}', encoding="utf-8")
    return folder


def test_item_toml_and_items_csv_give_publisher_place_extent_and_rights(tmp_path):
    # a licence's page address (https, its deed in Vietnamese) is kept as the licence's URI
    meta = read_item_metadata(item_toml(tmp_path / "a", NEW_KEYS + 'rights = "https://creativecommons.org/licenses'
                                                                   '/by-nc/4.0/deed.vi"\n'), None)
    assert (meta.publisher, meta.place, meta.extent, meta.rights) == ("Nxb. Văn học", "Hà Nội", "240 tr. ; 21 cm",
                                                                      LICENCE)
    table = tmp_path / "items.csv"
    table.write_text("folder,id,title,library,access,publisher,place,extent,rights\n"
                     f"b,HD-VH-0002,Ca dao,HD-TV,open,Nxb. Giáo dục,Hải Dương,96 tr.,{STATEMENT}\n", encoding="utf-8")
    (tmp_path / "b").mkdir()
    rows, problems = read_items_csv(table)
    assert problems == []
    meta = read_item_metadata(tmp_path / "b", rows["b"])
    assert (meta.publisher, meta.place, meta.extent, meta.rights) == ("Nxb. Giáo dục", "Hải Dương", "96 tr.", STATEMENT)


def test_a_rights_value_that_is_no_statement_uri_is_refused_with_what_to_write(tmp_path):
    for value in ("Truy cập mở", "https://example.org/licence", "http://rightsstatements.org/vocab/XYZ/1.0/"):
        with pytest.raises(MetadataFaults) as refused:
            read_item_metadata(item_toml(tmp_path / "c", f'rights = "{value}"\n'), None)
        [fault] = refused.value.faults
        assert fault.message.startswith("item.toml: rights"), fault.message
        assert "RightsStatements.org" in fault.message and "Creative Commons" in fault.message
        assert "item.toml" in str(fault.where)


def test_the_librarys_default_rights_apply_where_the_item_states_none(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "libraries.toml").write_text(f'[HD-TV]\nname = "Thư viện tỉnh Hải Dương"\nrights = "{STATEMENT}"\n',
                                             encoding="utf-8")
    defaults = load_library_defaults(profiles)
    assert read_item_metadata(item_toml(tmp_path / "d", ""), None, library_defaults=defaults).rights == STATEMENT
    own = read_item_metadata(item_toml(tmp_path / "e", f'rights = "{LICENCE}"\n'), None, library_defaults=defaults)
    assert own.rights == LICENCE
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "libraries.toml").write_text('[HD-TV]\nrights = "all rights reserved"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="rights statement URI"):
        load_libraries(bad)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    return copy_stored_items(tmp_path_factory.mktemp("stored"))


def described_package(stored):
    """The stored item HD-DC-0001 as if its item.toml had given the new keys."""
    package = mets.read(stored.folder("HD-DC-0001") / "mets.xml")
    meta = ItemMetadata(id=package.item_id, title=package.description.title, library=package.library,
                        access=package.access, publisher="Nxb. Văn học", place="Hà Nội", extent="240 tr. ; 21 cm",
                        rights=LICENCE)
    description = package.description.model_copy(update={k: getattr(meta, k) for k in
                                                          ("publisher", "place", "extent", "rights")})
    return package.model_copy(update={"description": description}), meta


def test_dc_mods_and_marc_carry_them_and_stay_schema_valid(stored, tmp_path):
    package, meta = described_package(stored)
    d = package.description
    dc = dublincore.oai_dc(d, meta, [package.item_id])
    schemas.validate(dc, "dc")
    assert dc.findtext(f"{{{DC}}}publisher") == "Hà Nội : Nxb. Văn học"
    assert [e.text for e in dc.findall(f"{{{DC}}}rights")] == [dublincore.ACCESS_TEXT[Access.open], LICENCE]
    record = mods.to_mods(d, package.item_id, dublincore.ACCESS_TEXT[package.access])
    schemas.validate(record, "mods")
    ns = {"m": mods.MODS, "xlink": mods.XLINK}
    assert record.xpath("string(m:originInfo/m:publisher)", namespaces=ns) == "Nxb. Văn học"
    assert record.xpath("string(m:originInfo/m:place/m:placeTerm)", namespaces=ns) == "Hà Nội"
    assert record.xpath("string(m:physicalDescription/m:extent)", namespaces=ns) == "240 tr. ; 21 cm"
    [licence] = record.xpath("m:accessCondition[@type='use and reproduction']", namespaces=ns)
    assert licence.get(f"{{{mods.XLINK}}}href") == LICENCE and "Phi thương mại" in licence.text
    # the METS (validated as it is written) holds them and gives them back
    (tmp_path / "mets.xml").write_bytes(mets.render(package, meta, [package.item_id], "mets.xml"))
    assert mets.read(tmp_path / "mets.xml").description == d
    row = SimpleNamespace(library=package.library, item_id=package.item_id, control_number="", call_number="",
                          digitized=datetime(2026, 1, 15, tzinfo=timezone.utc))
    catalogue = marc.catalogue_record(package, row, "Thư viện tỉnh Hải Dương", PublicLinks("https://tv.example.vn"))
    assert catalogue["264"].get_subfields("a", "b") == ["Hà Nội :", "Nxb. Văn học,"]
    assert catalogue["300"].get_subfields("a") == ["240 tr. ;"]
    assert catalogue["540"].get_subfields("u") == [LICENCE]
    assert "Phi thương mại" in catalogue["540"].get_subfields("f")[0]


def test_an_item_without_the_new_keys_writes_the_same_records_as_before(stored):
    """Its Dublin Core is the stored dc.xml byte for byte, and its MODS the one in the stored METS
    (the whole run's bytes: test_metadata's test_the_stored_items_are_what_the_pipeline_writes_now)."""
    for item_id in stored.item_ids():
        folder = stored.folder(item_id)
        package = mets.read(folder / "mets.xml")
        assert package.description.rights == ""
        stored_dc = (folder / "dc.xml").read_bytes()
        identifiers = [e.text for e in etree.fromstring(stored_dc).findall(f"{{{DC}}}identifier")]
        meta = ItemMetadata(id=package.item_id, title=package.description.title, library=package.library,
                            category=package.category, access=package.access)
        dc = dublincore.oai_dc(package.description, meta, identifiers)
        assert etree.tostring(dc, xml_declaration=True, encoding="UTF-8", pretty_print=True) == stored_dc
        unpretty = etree.XMLParser(remove_blank_text=True)
        [stored_mods] = etree.parse(str(folder / "mets.xml"), unpretty).getroot().iter(f"{{{mods.MODS}}}mods")
        written = mods.to_mods(package.description, package.item_id, dublincore.ACCESS_TEXT[package.access])
        assert etree.tostring(written, method="c14n", exclusive=True) == \
            etree.tostring(stored_mods, method="c14n", exclusive=True)


# ---- the reading site, in Chromium -------------------------------------------------------------

@pytest.fixture(scope="module")
def site(stored, tmp_path_factory):
    """The two stored items served (HD-DC-0001 with publisher, place, extent and a licence), indexed."""
    from digitize.ledger.database import Item, Library
    from digitize.ledger.plans import load_plans
    from digitize.search import indexing
    from digitize.store.storage import FolderStore
    from digitize.web.app import create_app

    package, meta = described_package(stored)
    identifiers = [e.text for e in etree.fromstring((stored.folder("HD-DC-0001") / "dc.xml").read_bytes())
                   .findall(f"{{{DC}}}identifier")]
    (stored.folder("HD-DC-0001") / "mets.xml").write_bytes(mets.render(package, meta, identifiers, "mets.xml"))
    (stored.folder("HD-DC-0001") / "dc.xml").write_bytes(etree.tostring(  # as engine.pipeline.write_dc writes it
        dublincore.oai_dc(package.description, meta, identifiers), xml_declaration=True, encoding="UTF-8"))
    store = FolderStore(stored.store)
    url = sqlite_url(tmp_path_factory.mktemp("ledger") / "l.sqlite")
    when = datetime(2026, 1, 15, tzinfo=timezone.utc)
    with ledger_session(url) as session:
        session.add(Library(code="HD-TV", name="Thư viện tỉnh Hải Dương", province="hai-duong", tier="provincial"))
        for item_id in stored.item_ids():
            found = mets.read(stored.folder(item_id) / "mets.xml")
            session.add(Item(library="HD-TV", item_id=item_id, title=found.description.title,
                             category=found.category.value, access="open", status="ok", pages=len(found.pages),
                             stored=store.url(f"HD-TV/{item_id}"), digitized=when, updated=when, published=when))
        session.commit()
        for item in session.query(Item).all():
            indexing.index_stored(session, store, item)
        session.commit()
        engine = session.get_bind()
        # the public address itself, so the page's own links work
        with uvicorn_server(for_base=lambda base: create_app(
                lambda: Session(engine), load_plans(PACKAGED_PROFILES), store_url=store.root.as_uri(),
                links=PublicLinks(base))) as base:
            yield base


@pytest.mark.slow
def test_the_item_page_names_the_licence_cites_the_item_and_links_the_pages_text(site, browser):
    item = f"{site}/items/HD-TV/HD-DC-0001"
    for lang, licence_name, available in (("vi", "Creative Commons Ghi công - Phi thương mại 4.0 (CC BY-NC)",
                                           "Truy cập tại:"),
                                          ("en", "Creative Commons Attribution-NonCommercial 4.0 (CC BY-NC)",
                                           "Available at:")):
        for width, height in ((390, 844), (1280, 800)):
            page = browser.new_page(viewport={"width": width, "height": height})
            try:
                page.goto(f"{site}/items/HD-TV/HD-DC-0001?page=2&lang={lang}")
                link = page.locator("#licence")
                assert link.inner_text() == licence_name and link.get_attribute("href") == LICENCE
                assert link.is_visible()
                citation = page.locator("#citation").inner_text()
                assert citation.startswith("Ủy ban nhân dân tỉnh Hải Dương. Kế hoạch chuyển đổi số ngành thư viện "
                                           "tỉnh Hải Dương. 2023. Thư viện tỉnh Hải Dương, ĐC.2023.001.")
                assert citation.endswith(f"{available} {item}?page=2"), citation
                assert page.locator("#permalink").input_value() == f"{item}?page=2"
                text_url = page.locator("#page-text").get_attribute("href")
                assert "Nxb. Văn học" in page.locator("dl.fields").inner_text()
                assert "Hà Nội" in page.locator("dl.fields").inner_text()
                # the plan's collection, not a document type; the title marked Vietnamese on English pages
                fields = page.locator("dl.fields dt").all_inner_texts()
                assert ("Nhóm tài liệu (kế hoạch số hóa)" if lang == "vi" else "Collection (digitization plan)") \
                    in fields and "Loại hình" not in fields
                assert page.locator("h1").first.get_attribute("lang") == (None if lang == "vi" else "vi")
                if lang == "en":
                    assert page.locator("cite").get_attribute("lang") == "vi"
                    assert not page.locator("dl.fields dd:has-text('Ủy ban nhân dân') >> xpath=self::*[not(@lang)]").count()
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                assert serious_accessibility_faults(page) == [], (lang, width)
                page.screenshot(path=f"/tmp/r-metadata-item-{lang}-{width}.png", full_page=True)
            finally:
                page.close()
    answer = httpx.get(text_url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert re.search(r"\w{3,}", answer.text)


@pytest.mark.slow
def test_lists_show_author_and_year_and_name_the_province_and_tier(site, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{site}/?lang=en")
        assert page.locator(".province").first.inner_text() == "Province: Hải Dương · Tier: provincial"
        assert serious_accessibility_faults(page) == []
        page.goto(f"{site}/libraries/HD-TV")
        assert page.locator(".province").inner_text() == "Tỉnh: Hải Dương · Cấp: cấp tỉnh"
        details = page.locator("li.item").all_inner_texts()
        assert any("Nguyễn Du" in text and "1866" in text for text in details), details
        assert any("Ủy ban nhân dân tỉnh Hải Dương" in text and "2023" in text for text in details), details
        page.goto(f"{site}/search?q=ke+hoach&lang=en")
        hit = page.locator("li.hit").first
        assert "Ủy ban nhân dân tỉnh Hải Dương" in hit.inner_text() and "2023" in hit.inner_text()
        assert hit.locator(".item-title").get_attribute("lang") == "vi"
        assert hit.locator(".item-creator").get_attribute("lang") == "vi"
        assert serious_accessibility_faults(page) == []
    finally:
        page.close()


@pytest.mark.slow
def test_oai_pmh_harvests_them_in_dc_and_in_the_mets_mods(site):
    ns = {"dc": DC, "m": mods.MODS, "xlink": mods.XLINK}
    dc = etree.fromstring(httpx.get(f"{site}/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc"}).content)
    [record] = [r for r in dc.iter("{http://www.openarchives.org/OAI/2.0/oai_dc/}dc")
                if r.findtext("dc:publisher", namespaces=ns)]
    assert record.findtext("dc:publisher", namespaces=ns) == "Hà Nội : Nxb. Văn học"
    assert LICENCE in [e.text for e in record.findall("dc:rights", namespaces=ns)]
    package = etree.fromstring(httpx.get(f"{site}/oai", params={"verb": "ListRecords", "metadataPrefix": "mets"}).content)
    assert package.xpath("//m:accessCondition[@type='use and reproduction']/@xlink:href", namespaces=ns) == [LICENCE]
    assert package.xpath("//m:physicalDescription/m:extent/text()", namespaces=ns) == ["240 tr. ; 21 cm"]
