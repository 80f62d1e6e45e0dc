"""Return and rescan: new scans of some pages of a stored item replace only those pages (the
others are taken from the stored version, not read again), the previous version is kept whole in
the store, and the item goes back in review; a later run of the item keeps a reviewer's
correction on a page whose image is unchanged."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from conftest import MINI, invoke_cli, ledger_session, sqlite_url
from digitize.capture import intake
from digitize.core.settings import get_settings
from digitize.describe import mets
from digitize.engine import pipeline
from digitize.engine.batch import BatchRequest, run_batch
from digitize.engine.runner import ThreadRunner
from digitize.ledger import review
from digitize.ledger.database import Item
from digitize.ledger.review import ACCEPTED, IN_REVIEW, RETURNED, PageReview, ReviewEvent
from digitize.store import storage

ITEM, LIBRARY = "RS-0005", "HD-TV"
ITEM_TOML = (MINI / "HD-DC-0001" / "item.toml").read_text(encoding="utf-8").replace("HD-DC-0001", ITEM)
PAGE_FILES = ("images/{n:04d}.jpg", "alto/{n:04d}.xml", "text/{n:04d}.txt")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(image: Image.Image, path: Path) -> None:
    if image.mode == "1":
        image.save(path, compression="group4", dpi=(200, 200))
    else:
        image.save(path, quality=90, dpi=(200, 200))


def five_pages(folder: Path) -> None:
    """Five tiny pages from the stored test items' scans: each page image its own."""
    folder.mkdir(parents=True)
    shutil.copy(MINI / "HD-DC-0001" / "0001.jpg", folder / "0001.jpg")
    shutil.copy(MINI / "HD-DC-0001" / "0002.tif", folder / "0002.tif")
    both = Image.open(MINI / "HN-TK-0002" / "0001.tif")
    for frame, name in ((0, "0003.tif"), (1, "0004.tif")):
        both.seek(frame)
        save(both.copy(), folder / name)
    first = Image.open(MINI / "HD-DC-0001" / "0001.jpg")
    save(first.crop((0, 0, first.width - 40, first.height)), folder / "0005.jpg")
    (folder / "item.toml").write_text(ITEM_TOML, encoding="utf-8")


def rescan_folder(folder: Path, replaces: str, pages: dict[str, tuple[Path, int]], item: str = ITEM) -> Path:
    """A rescan folder: item.toml with ``[rescan] replaces = ...`` and new scans (each an image cut
    down by some pixels from a scan, so it differs from every stored page)."""
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text(ITEM_TOML.replace(ITEM, item) + f"\n[rescan]\nreplaces = {replaces}\n",
                                      encoding="utf-8")
    for name, (source, cut) in pages.items():
        image = Image.open(source)
        save(image.crop((0, cut, image.width, image.height)), folder / name)
    return folder


def set_review(url: str, state: str, pages: list[int] | None = None) -> None:
    """The item accepted, or returned (for rescan of ``pages``), by a reviewer."""
    with ledger_session(url) as session:
        item = review.find(session, LIBRARY, ITEM)
        if state == ACCEPTED:
            if item.review_state != IN_REVIEW:  # returned: back in review first, as a run does
                review.put_in_review(session, item, "digitize")
            review.accept(session, item, "lan")
        else:
            review.return_item(session, item, "lan", "rescan pages", pages or [], "rescan" if pages else "other")


def stored_objects(store: Path) -> dict[str, str]:
    """SHA-256 of the item's live objects in the store (not its previous versions)."""
    root = store / LIBRARY / ITEM
    return {str(p.relative_to(root)): sha(p) for p in root.rglob("*") if p.is_file()}


def summary_of(batch: Path, data: Path, new_version: bool = False):
    request = BatchRequest.make(batch, get_settings(), new_version=new_version)
    runner = ThreadRunner(2)
    try:
        return run_batch(request, runner)
    finally:
        runner.close()


@pytest.fixture(scope="module")
def rescanned(tmp_path_factory):
    """An accepted five-page item, returned for pages 2 and 5, rescanned and run; then a reviewer's
    correction on page 3 and `digitize run --new-version` of the first batch."""
    root = tmp_path_factory.mktemp("rescan")
    data = root / "data"
    patch = pytest.MonkeyPatch()
    patch.setenv("DIGITIZE_DATA", str(data))
    get_settings.cache_clear()
    settings = get_settings()
    first = root / "batch1"
    five_pages(first / "book")
    one = summary_of(first, data)
    assert [item.status.value for item in one.items] == ["ok"], one.items
    store = data / "store"
    before = stored_objects(store)
    manifest_before = json.loads((store / LIBRARY / ITEM / "stored.json").read_text(encoding="utf-8"))
    set_review(settings.ledger_url, ACCEPTED)
    set_review(settings.ledger_url, RETURNED, [2, 5])

    second = root / "batch2"
    rescan_folder(second / "book-again", "[2, 5]", {"a.tif": (first / "book" / "0002.tif", 30),
                                                    "b.jpg": (first / "book" / "0005.jpg", 30)})
    two = summary_of(second, data)
    after = stored_objects(store)
    yield {"root": root, "data": data, "store": store, "settings": settings, "first": first, "one": one,
           "two": two, "before": before, "after": after, "manifest_before": manifest_before}
    patch.undo()
    get_settings.cache_clear()


@pytest.mark.slow  # OCR of seven tiny pages, once for the module
def test_rescan_replaces_only_the_named_pages_and_keeps_the_previous_version(rescanned):
    two, before, after = rescanned["two"], rescanned["before"], rescanned["after"]
    assert [item.status.value for item in two.items] == ["ok"], two.items
    assert two.items[0].replaced_pages == [2, 5] and two.items[0].pages == 5
    for n in (1, 3, 4):  # not read again: the very same page image, ALTO and text
        for name in PAGE_FILES:
            assert after[name.format(n=n)] == before[name.format(n=n)], name.format(n=n)
    for n in (2, 5):
        for name in PAGE_FILES:
            assert after[name.format(n=n)] != before[name.format(n=n)], name.format(n=n)
    for name in (f"{ITEM}.pdf", f"{ITEM}.txt", "mets.xml", "stored.json"):
        assert after[name] != before[name], name
    kept_masters = {name for name in before if name.startswith("masters/")} - {"masters/0002.tif", "masters/0005.jpg"}
    assert all(after[name] == before[name] for name in kept_masters)
    assert {"masters/a.tif", "masters/b.jpg"} <= after.keys()

    # the previous version, whole: every object of its manifest, live and unchanged or under _versions/
    store = rescanned["store"]
    versions = {str(p.relative_to(v).relative_to(f"{LIBRARY}/{ITEM}")): sha(p)
                for v in (store / storage.VERSIONS).iterdir() for p in (v / LIBRARY / ITEM).rglob("*") if p.is_file()}
    for name, facts in rescanned["manifest_before"]["objects"].items():
        assert before[name] == facts["sha256"]
        assert after.get(name) == facts["sha256"] or versions.get(name) == facts["sha256"], name

    stored = mets.read((store / LIBRARY / ITEM / "mets.xml").read_bytes())
    event = next(e for e in stored.events if e.id == "rescan")
    assert "pages 2, 5 replaced by new scans (a.tif, b.jpg)" in event.detail and "kept" in event.detail
    assert [p.number for p in stored.pages] == [1, 2, 3, 4, 5]
    text = (store / LIBRARY / ITEM / f"{ITEM}.txt").read_text(encoding="utf-8").split("\f")
    assert [text[n - 1] for n in (1, 3, 4)] == [
        (store / LIBRARY / ITEM / f"text/{n:04d}.txt").read_text(encoding="utf-8") for n in (1, 3, 4)]


@pytest.mark.slow
def test_the_rescanned_item_is_back_in_review_and_no_longer_accepted(rescanned):
    with ledger_session(rescanned["settings"].ledger_url) as session:
        item = session.scalars(select(Item).where(Item.item_id == ITEM)).one()
        assert item.review_state == IN_REVIEW and item.accepted is None and item.accepted_by == ""
        events = session.scalars(select(ReviewEvent).where(ReviewEvent.item == item.id)
                                 .order_by(ReviewEvent.id)).all()
        assert [(e.action, e.state_from, e.state_to) for e in events][-1] == ("rescanned", RETURNED, IN_REVIEW)
        assert events[-1].pages == [2, 5] and events[-1].actor == "digitize"
        flagged = session.scalars(select(PageReview).where(PageReview.item == item.id)).all()
        assert sorted((p.page, p.state) for p in flagged) == [(2, "flagged"), (5, "flagged")]
        # counted only as accepted items are: none of this library's items is accepted now
        accepted = session.scalars(select(Item).where(Item.library == LIBRARY, Item.review_state == ACCEPTED)).all()
        assert accepted == []
    again = summary_of(rescanned["root"] / "batch2", rescanned["data"])  # the same rescan batch again
    assert [(item.status.value, item.already_done) for item in again.items] == [("ok", True)]
    assert stored_objects(rescanned["store"]) == rescanned["after"]
    with ledger_session(rescanned["settings"].ledger_url) as session:
        item = session.scalars(select(Item).where(Item.item_id == ITEM)).one()
        assert session.scalars(select(ReviewEvent).where(ReviewEvent.item == item.id)).all()[-1].id == events[-1].id


@pytest.mark.slow
def test_rescans_the_review_or_the_stored_item_do_not_allow_are_refused_with_a_reason(rescanned):
    root, first = rescanned["root"], rescanned["first"]
    page = first / "book" / "0001.jpg"
    cases = {"not-in-item": ("[7]", ITEM), "not-stored": ("[1]", "RS-9999"), "not-returned": ("[3]", ITEM)}
    set_review(rescanned["settings"].ledger_url, RETURNED, [2])
    reasons = {}
    for name, (replaces, item) in cases.items():  # one batch each: two folders of a batch may not share an id
        rescan_folder(root / name / "item", replaces, {"x.jpg": (page, 10)}, item)
        summary = summary_of(root / name, rescanned["data"])
        assert [item.status.value for item in summary.items] == ["failed"]
        reasons[name] = " ".join(p.reason for p in summary.items[0].problems)
    assert "but RS-0005 has 5 pages (1 to 5)" in reasons["not-in-item"]
    assert "no item RS-9999 of library HD-TV is stored" in reasons["not-stored"]
    assert "page 3 of RS-0005 was not returned for rescan (the reviewer returned page 2)" in reasons["not-returned"]
    batch = root / "accepted"
    set_review(rescanned["settings"].ledger_url, ACCEPTED)
    rescan_folder(batch / "item", "[2]", {"x.jpg": (page, 10)})
    summary = summary_of(batch, rescanned["data"])
    assert "was accepted (by lan) and has not been returned for rescan" in summary.items[0].problems[-1].reason


def correct_page(data: Path, number: int) -> tuple[str, str]:
    """A reviewer's correction of the first word of a page, as the correction flow stores it: the
    ALTO String with CS="true" and the OCR reading as its ALTERNATIVE, the page text, a new METS."""
    from lxml import etree

    folder, store = data / "out" / LIBRARY / ITEM, storage.open_store((data / "store").as_uri())
    record = pipeline.read_record(folder)
    alto = etree.fromstring(store.read_bytes(f"{LIBRARY}/{ITEM}/alto/{number:04d}.xml"))
    word = alto.xpath("//*[local-name()='String']")[0]
    old = word.get("CONTENT")
    word.set("CONTENT", "Nghiệm"), word.set("CS", "true")
    etree.SubElement(word, f"{{{alto.nsmap[None]}}}ALTERNATIVE" if None in alto.nsmap else "ALTERNATIVE",
                     PURPOSE="OCR").text = old
    text = store.read_bytes(f"{LIBRARY}/{ITEM}/text/{number:04d}.txt").decode("utf-8").replace(old, "Nghiệm", 1)
    work = data / "correction"
    files = {f"alto/{number:04d}.xml": etree.tostring(alto, xml_declaration=True, encoding="UTF-8"),
             f"text/{number:04d}.txt": text.encode("utf-8")}
    package = record.package.model_copy(deep=True)
    for relative, raw in files.items():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_bytes(raw)
        store.put(work / relative, f"{LIBRARY}/{ITEM}/{relative}", hashlib.sha256(raw).hexdigest(), new_version=True)
        entry = next(e for e in package.files if e.href.endswith(relative))
        entry.size, entry.sha256 = len(raw), hashlib.sha256(raw).hexdigest()
    raw = mets.render(package, record.metadata, record.identifiers, "mets.xml")
    (work / "mets.xml").write_bytes(raw)
    store.put(work / "mets.xml", f"{LIBRARY}/{ITEM}/mets.xml", hashlib.sha256(raw).hexdigest(), new_version=True)
    return old, text


@pytest.mark.slow
def test_a_run_again_with_new_version_keeps_a_correction_on_an_unchanged_page(rescanned):
    data, store = rescanned["data"], rescanned["store"] / LIBRARY / ITEM
    old, text = correct_page(data, 3)
    assert old != "Nghiệm"
    # the first batch again: pages 2 and 5 are its own scans again (new OCR), page 3 is unchanged
    run = invoke_cli("run", str(rescanned["first"]), "--out", str(data / "out"), "--new-version", "--workers", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "keeps the text a reviewer corrected" in run.stdout + json.dumps(
        json.loads(sorted((data / "out" / "_reports").glob("batch1-*.json"))[-1].read_text(encoding="utf-8")))
    alto = (store / "alto/0003.xml").read_text(encoding="utf-8")
    assert 'CONTENT="Nghiệm"' in alto and 'CS="true"' in alto and f">{old}</" in alto
    assert (store / "text/0003.txt").read_text(encoding="utf-8") == text
    assert (store / f"{ITEM}.txt").read_text(encoding="utf-8").split("\f")[2] == text
    stored = mets.read((store / "mets.xml").read_bytes())
    assert any(e.id == "reviewed-pages-kept" and "page 3" in e.detail for e in stored.events)
    with ledger_session(rescanned["settings"].ledger_url) as session:  # pages 2 and 5 changed again
        item = session.scalars(select(Item).where(Item.item_id == ITEM)).one()
        assert item.review_state == IN_REVIEW


def plan(folder: Path) -> intake.ItemPlan:
    from digitize.core.profiles import get_profile

    settings = get_settings()
    return intake.plan_item(folder, folder.parent, None, lambda meta: get_profile(settings.profiles, meta.profile),
                            settings.max_pixels)


@pytest.mark.parametrize("rescan, reason", [
    ("[rescan]\nreplaces = [2, 5]\n", "the folder holds 1 page images but [rescan] replaces 2 pages (2, 5)"),
    ("[rescan]\nreplaces = [2, 2]\n", "[rescan] replaces names page 2 more than once"),
    ("[rescan]\nreplaces = []\n", "[rescan] replaces must list page numbers"),
    ("[rescan]\npages = [2]\n", "unknown key 'pages' in [rescan]"),
    ("rescan = 2\n", "'rescan' is not a table"),
])
def test_a_rescan_folder_that_does_not_match_its_list_is_refused_at_intake(tmp_path, rescan, reason):
    folder = tmp_path / "batch" / "item"
    folder.mkdir(parents=True)
    shutil.copy(MINI / "HD-DC-0001" / "0001.jpg", folder / "0001.jpg")
    (folder / "item.toml").write_text(ITEM_TOML + rescan, encoding="utf-8")
    found = plan(folder)
    assert not found.ok
    assert any(reason in p.reason for p in found.problems), [p.reason for p in found.problems]


def test_a_rescan_folder_names_the_pages_its_files_replace_in_order(tmp_path):
    folder = tmp_path / "batch" / "item"
    folder.mkdir(parents=True)
    for name in ("b-2.jpg", "b-10.jpg"):
        shutil.copy(MINI / "HD-DC-0001" / "0001.jpg", folder / name)
    (folder / "item.toml").write_text(ITEM_TOML + "[rescan]\nreplaces = [5, 2]\n", encoding="utf-8")
    found = plan(folder)
    assert found.ok and found.replaces == [5, 2]
    from digitize.engine import rescan

    assert [(p.name, p.number) for p in rescan.numbered(found)] == [("b-2.jpg", 5), ("b-10.jpg", 2)]
