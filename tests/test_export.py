"""Exports of real stored items (the fixture tests/data/stored/, from a real run of the pipeline on
the two sample items, cut down to two small pages each): BagIt bags (validated by bagit-python and its command line), the
DCAT description and the MARCXML union catalogue; restricted and secret items stay out of
everything public."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import unicodedata
from datetime import date, datetime, timezone
from pathlib import Path

import bagit
import pytest
from sqlalchemy import select

from conftest import copy_stored_items, ledger_session, sqlite_url
from digitize.preservation import export
from digitize.describe import mets
from digitize.access.dcat import dcat_record
from digitize.ledger.database import Item, Library
from digitize.core.links import PublicLinks
from digitize.store.storage import FolderStore

LIBRARY, LIBRARY_NAME = "HD-TV", "Thư viện tỉnh Hải Dương"
SAMPLES = ("HD-DC-0001", "HN-TK-0002")
RESTRICTED, RESTRICTED_TITLE = "HD-HC-0003", "Hồ sơ hạn chế số ba"
SECRET, SECRET_TITLE = "HD-MAT-0004", "Hồ sơ mật số bốn"
SAMPLE_TITLE = "Kế hoạch chuyển đổi số ngành thư viện tỉnh Hải Dương"
LINKS = PublicLinks("https://thuvien.example.vn")
OAI = LINKS.oai()
BAGIT_CLI = Path(sys.executable).parent / "bagit.py"


def when(day: int) -> datetime:
    return datetime(2026, 6, day, 10, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A copy of the stored items with a restricted item added (the first sample's files under
    another id, its METS saying restricted), and a ledger holding the two samples as open, the
    restricted item, and a secret item that is only in the ledger: (the stored items, the store,
    the ledger session)."""
    root = tmp_path_factory.mktemp("export")
    stored = copy_stored_items(root)
    assert stored.item_ids() == list(SAMPLES)
    store = FolderStore(stored.store)
    source, copy = stored.folder(SAMPLES[0]), stored.folder(RESTRICTED)
    shutil.copytree(source, copy)
    (copy / f"{SAMPLES[0]}.pdf").rename(copy / f"{RESTRICTED}.pdf")
    (copy / f"{SAMPLES[0]}.txt").rename(copy / f"{RESTRICTED}.txt")
    for name in ("mets.xml", "dc.xml"):
        text = (copy / name).read_text(encoding="utf-8").replace(SAMPLES[0], RESTRICTED)
        text = text.replace(SAMPLE_TITLE, RESTRICTED_TITLE).replace(">open<", ">restricted<")
        (copy / name).write_text(text, encoding="utf-8")
    manifest = json.loads((copy / "stored.json").read_text(encoding="utf-8"))
    manifest["store"] = store.url(f"{LIBRARY}/{RESTRICTED}")
    manifest["objects"] = {relative.replace(SAMPLES[0], RESTRICTED): {
        "size": (copy / relative.replace(SAMPLES[0], RESTRICTED)).stat().st_size,
        "sha256": hashlib.sha256((copy / relative.replace(SAMPLES[0], RESTRICTED)).read_bytes()).hexdigest()}
        for relative in manifest["objects"]}
    (copy / "stored.json").write_text(json.dumps(manifest), encoding="utf-8")

    pages = {item_id: len(found) for item_id, found in stored.pages().items()}
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        session.add(Library(code=LIBRARY, name=LIBRARY_NAME, province="HD", tier="provincial"))
        rows = [(SAMPLES[0], SAMPLE_TITLE, "dia_chi", "open", 3),
                (SAMPLES[1], "Truyện Kiều (bản 1866)", "rare", "open", 5),
                (RESTRICTED, RESTRICTED_TITLE, "dia_chi", "restricted", 20),
                (SECRET, SECRET_TITLE, "other", "secret", 21)]
        for item_id, title, category, access, day in rows:
            session.add(Item(library=LIBRARY, item_id=item_id, title=title, category=category, access=access,
                             status="ok", pages=pages.get(item_id, pages[SAMPLES[0]]),
                             stored=store.url(f"{LIBRARY}/{item_id}"), digitized=when(day), updated=when(day)))
        session.commit()
        yield stored, store, session


def bag_files(bag: Path) -> dict[str, bytes]:
    return {p.relative_to(bag).as_posix(): p.read_bytes() for p in bag.rglob("*") if p.is_file()}


def check_bag(bag: Path, item_id: str, masters: bool) -> None:
    opened = bagit.Bag(str(bag))
    opened.validate()
    cli = subprocess.run([sys.executable, str(BAGIT_CLI), "--validate", str(bag)], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert opened.info["Source-Organization"] == LIBRARY_NAME
    assert opened.info["External-Identifier"] == item_id
    assert opened.info["Payload-Oxum"] and opened.info["Bagging-Date"]
    assert opened.algorithms == ["sha256"]
    payload = set(opened.payload_entries())
    assert {f"data/{item_id}.pdf", "data/mets.xml", "data/dc.xml"} <= payload
    assert any(p.startswith("data/alto/") for p in payload) and any(p.startswith("data/text/") for p in payload)
    assert any(p.startswith("data/masters/") for p in payload) == masters
    # every file the METS lists and the bag holds has the METS checksum in the bag manifest
    package = mets.read(bag / "data" / "mets.xml")
    listed = {}
    for entry in package.files:
        # a public bag's METS gives the reading service's address of each file, the others the store's
        relative = entry.href.split(f"/{LIBRARY}/{item_id}/", 1)[1].removeprefix("files/")
        listed[f"data/{relative}"] = entry
        if f"data/{relative}" in payload:
            assert opened.entries[f"data/{relative}"]["sha256"] == entry.sha256, relative
        else:
            assert entry.use == "master" and not masters, relative
    assert len(payload & set(listed)) > 0


@pytest.mark.parametrize("masters", [True, False])
def test_bags_of_the_samples_validate(exported, tmp_path, masters):
    _, store, session = exported
    for item_id in SAMPLES:
        bag = export.export_bag(store, session.get(Library, LIBRARY), item_id, tmp_path, masters=masters)
        assert bag == tmp_path / f"{LIBRARY}_{item_id}"
        check_bag(bag, item_id, masters)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{LIBRARY}_{i}" for i in SAMPLES]  # no staging left


def test_library_name_looked_up_or_code(exported, tmp_path):
    _, store, session = exported
    bag = export.export_bag(store, LIBRARY, SAMPLES[1], tmp_path / "a", masters=False, session=session)
    assert bagit.Bag(str(bag)).info["Source-Organization"] == LIBRARY_NAME
    bag = export.export_bag(store, LIBRARY, SAMPLES[1], tmp_path / "b", masters=False)
    assert bagit.Bag(str(bag)).info["Source-Organization"] == LIBRARY


def test_a_changed_stored_file_stops_the_bag(exported, tmp_path):
    stored, _, _ = exported
    for item_id in SAMPLES:
        shutil.copytree(stored.folder(item_id), tmp_path / "store" / LIBRARY / item_id)
    (tmp_path / "store" / LIBRARY / SAMPLES[1] / "text" / "0001.txt").write_text("đã bị sửa", encoding="utf-8")
    with pytest.raises(export.ExportError, match="differs from its manifest"):
        export.export_bag(FolderStore(tmp_path / "store"), LIBRARY, SAMPLES[1], tmp_path / "bags")
    assert list((tmp_path / "bags").iterdir()) == []  # nothing half-made left behind
    bag = export.export_bag(FolderStore(tmp_path / "store"), LIBRARY, SAMPLES[0], tmp_path / "bags")
    with pytest.raises(export.ExportError, match="already there"):
        export.export_bag(FolderStore(tmp_path / "store"), LIBRARY, SAMPLES[0], tmp_path / "bags")
    assert bag.is_dir()


def test_public_export_skips_restricted_and_secret(exported, tmp_path):
    _, store, session = exported
    report = export.export_bags(session, store, None, str(tmp_path / "public"), masters=False, public=True, links=LINKS)
    assert sorted(report.written) == sorted(str(tmp_path / "public" / f"{LIBRARY}_{i}") for i in SAMPLES)
    skipped = dict(report.skipped)
    assert skipped.keys() == {f"{LIBRARY}/{RESTRICTED}", f"{LIBRARY}/{SECRET}"}
    assert skipped[f"{LIBRARY}/{RESTRICTED}"].startswith("restricted")
    assert skipped[f"{LIBRARY}/{SECRET}"].startswith("secret")
    for bag in (tmp_path / "public").iterdir():
        check_bag(bag, bag.name.split("_", 1)[1], masters=False)
        for name, data in bag_files(bag).items():
            for hidden in (RESTRICTED, SECRET, RESTRICTED_TITLE, SECRET_TITLE):
                assert hidden not in name and hidden.encode() not in data, (bag, name)
    # asked for by name: still refused
    report = export.export_bags(session, store, [f"{LIBRARY}/{RESTRICTED}", f"{LIBRARY}/{SAMPLES[0]}", "HD-TV/NOPE"],
                                str(tmp_path / "asked"), masters=False, public=True, links=LINKS)
    assert [p.rsplit("/", 1)[-1] for p in report.written] == [f"{LIBRARY}_{SAMPLES[0]}"]
    assert [s for s, _ in report.skipped] == [f"{LIBRARY}/{RESTRICTED}", "HD-TV/NOPE"]


def test_public_export_trusts_the_stricter_of_ledger_and_mets(exported, tmp_path):
    _, store, session = exported
    row = session.scalars(select(Item).where(Item.item_id == RESTRICTED)).one()
    row.access = "open"  # the ledger is wrong, the stored METS still says restricted
    try:
        report = export.export_bags(session, store, [f"{LIBRARY}/{RESTRICTED}"], str(tmp_path), False, True, LINKS)
    finally:
        row.access = "restricted"
        session.commit()
    assert report.written == [] and "METS" in report.skipped[0][1]


def test_internal_export_holds_the_restricted_item(exported, tmp_path):
    _, store, session = exported
    report = export.export_bags(session, store, [f"{LIBRARY}/{RESTRICTED}"], str(tmp_path), masters=False,
                                public=False)
    assert report.written == [str(tmp_path / f"{LIBRARY}_{RESTRICTED}")]
    check_bag(tmp_path / f"{LIBRARY}_{RESTRICTED}", RESTRICTED, masters=False)


def test_export_to_a_store_url(exported, tmp_path):
    _, store, session = exported
    target = (tmp_path / "remote" / "bags").as_uri()
    report = export.export_bags(session, store, None, target, masters=False, public=True, links=LINKS)
    assert sorted(report.written) == sorted(FolderStore(tmp_path / "remote" / "bags").url(f"{LIBRARY}_{i}")
                                            for i in SAMPLES)
    for item_id in SAMPLES:
        check_bag(tmp_path / "remote" / "bags" / f"{LIBRARY}_{item_id}", item_id, masters=False)
    assert sorted(p.name for p in (tmp_path / "remote" / "bags").iterdir()) == [f"{LIBRARY}_{i}" for i in SAMPLES]
    # the same bags again: nothing to send; a different bag there: refused, the old one kept
    again = export.export_bags(session, store, None, target, masters=False, public=True, links=LINKS)
    assert sorted(again.written) == sorted(report.written)
    different = export.export_bags(session, store, [f"{LIBRARY}/{SAMPLES[0]}"], target, masters=True, public=True, links=LINKS)
    assert different.written == [] and "already" in different.skipped[0][1]
    check_bag(tmp_path / "remote" / "bags" / f"{LIBRARY}_{SAMPLES[0]}", SAMPLES[0], masters=False)


def test_dcat_record(exported):
    _, _, session = exported
    record = json.loads(json.dumps(dcat_record(session, LIBRARY, LINKS, date(2026, 7, 1)), ensure_ascii=False))
    context = record["@context"]
    assert context["dcat"] == "http://www.w3.org/ns/dcat#" and context["dct"] == "http://purl.org/dc/terms/"
    assert context["foaf"] == "http://xmlns.com/foaf/0.1/" and context["xsd"] == "http://www.w3.org/2001/XMLSchema#"
    for key in record:  # every term is a keyword or uses a prefix of the context
        assert key.startswith("@") or key.split(":")[0] in context, key
    assert record["@type"] == "dcat:Dataset"
    assert record["dct:title"]["@value"] == f"Bộ sưu tập số của {LIBRARY_NAME}"
    assert record["dct:publisher"] == {"@type": "foaf:Organization", "foaf:name": LIBRARY_NAME}
    assert record["dct:license"]["@id"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert record["void:entities"] == {"@value": "2", "@type": "xsd:integer"}
    assert record["dct:modified"]["@value"] == "2026-06-05"  # the later of the two open items
    distribution = record["dcat:distribution"][0]
    assert distribution["dcat:accessURL"] == {"@id": OAI} and distribution["dct:format"] == "application/xml"
    keywords = {k["@value"] for k in record["dcat:keyword"]}
    assert {"tài liệu địa chí", "tài liệu quý hiếm"} <= keywords and "tài liệu khác" not in keywords
    text = json.dumps(record, ensure_ascii=False)
    for hidden in (RESTRICTED, SECRET, RESTRICTED_TITLE, SECRET_TITLE):
        assert hidden not in text
    assert unicodedata.is_normalized("NFC", text)
    try:
        from pyld import jsonld
    except ImportError:
        return
    assert jsonld.expand(record)


def test_union_catalogue_marcxml(exported):
    from pymarc import parse_xml_to_array

    stored, store, session = exported
    data = export.union_catalogue_marcxml(session, store, LIBRARY, LINKS)
    text = data.decode("utf-8")
    assert unicodedata.is_normalized("NFC", text)
    for hidden in (RESTRICTED, SECRET, RESTRICTED_TITLE, SECRET_TITLE):
        assert hidden not in text
    records = parse_xml_to_array(io.BytesIO(data))
    assert sorted(r["001"].data for r in records) == list(SAMPLES)
    by_id = {r["001"].data: r for r in records}
    first = by_id[SAMPLES[0]]
    assert first["245"]["a"].startswith(SAMPLE_TITLE)
    assert first.get("110") is None and first["100"]["a"].startswith("Ủy ban nhân dân tỉnh Hải Dương")
    assert first["264"]["c"] == "2023" and first["852"]["h"] == "ĐC.2023.001"
    assert by_id[SAMPLES[1]]["100"]["a"].startswith("Nguyễn Du")
    for item_id, record in by_id.items():
        assert record["003"].data == LIBRARY and len(record["008"].data) == 40
        assert record.leader[9] == "a"
        page, pdf = record.get_fields("856")
        assert tuple(page.indicators) == ("4", "0") and page["y"] == "Bản số"
        assert page["u"] == LINKS.item(LIBRARY, item_id) and pdf["u"] == LINKS.pdf(LIBRARY, item_id)
        assert pdf["q"] == "application/pdf"
        for field in record.get_fields():
            values = [field.data] if field.is_control_field() else [s.value for s in field.subfields]
            assert all(unicodedata.is_normalized("NFC", v) for v in values)


def test_export_with_the_store_gone_stops_with_one_message(exported, tmp_path):
    """Issue 25: with the store gone, export skipped every item and exited 0."""
    from conftest import run_cli
    from digitize.core.errors import ExitCode

    _, _, session = exported
    ledger = session.get_bind().url.render_as_string(hide_password=False)
    result = run_cli("export", "--to", str(tmp_path / "bags"), data=str(tmp_path), ledger=ledger,
                     store=(tmp_path / "gone").as_uri())
    assert result.returncode == ExitCode.store_unreachable, result.stdout + result.stderr
    assert result.stderr.count("the store is not there") == 1 and "DIGITIZE_STORE" in result.stderr
    assert "skipped" not in result.stdout and "Traceback" not in result.stderr
    assert not (tmp_path / "bags").exists()
