"""Hán-Nôm transcription: candidates of a typed reading (Unihan kVietnamese), the transcription's
ALTO, and in headless Chromium a reviewer transcribing three columns of a generated vertical page
by reading and candidate picking; the item page then shows the transcription beside the page,
the phiên âm typed without diacritics finds the page, the OCR-only text is kept."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timezone

import httpx
import pytest
from lxml import etree
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import (ARTIFACTS, copy_stored_items, ledger_session, serious_accessibility_faults, sqlite_url,
                      uvicorn_server)
from digitize.describe import mets
from digitize.review import hannom
from digitize.review import transcription as tr

LIBRARY, ITEM = "HD-TV", "HN-TK-0002"
FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
# the page's columns, right to left, and what the reviewer types for each character
COLUMNS = [("天地人", ["thien", "địa", "nhân"]), ("日月明", ["nhật", "nguyet", "minh"]),
           ("大學之道", ["dai", "hoc", "chi", "đạo"]), ("春秋", [])]
OCR_READ = ["夭池入", "曰目朋", "太孚乏首", "眷秋"]  # the OCR's draft: what it kept as the page's text
PHIEN_AM = ["thiên địa nhân", "nhật nguyệt minh", "đại học chi đạo"]
PASSWORD = "a long enough password 1"
ALTO = "{http://www.loc.gov/standards/alto/ns-v3#}"


# ---- the library ---------------------------------------------------------------------------------

def test_a_reading_with_its_diacritics_finds_its_characters_first():
    found = hannom.candidates("nhân")
    assert "人" in [c.char for c in found]
    exact = [c.exact for c in found]
    assert exact == sorted(exact, reverse=True)  # every exact match before any folded one
    assert found[0].char == "人"  # the most common character read nhân


def test_a_reading_typed_without_diacritics_finds_them_too():
    assert "人" in [c.char for c in hannom.candidates("nhan")]
    assert hannom.candidates("NHAN") == hannom.candidates("nhan")
    assert hannom.candidates("thien")[0].char == "天"
    assert hannom.candidates("") == [] and hannom.candidates("qqq") == []


def test_a_character_gives_its_han_viet_reading_for_the_phien_am():
    assert hannom.readings_of("人") == ("nhân",)
    assert hannom.suggested_reading(["天", "地", None, "人"]) == "thiên địa … nhân"


def test_typed_columns_with_a_character_outside_unicode():
    column = tr.parse_column("天 {bộ thảo trên chữ 乙}人", " thiên  … nhân ")
    assert [g.char for g in column.glyphs] == ["天", "", "人"]
    assert column.glyphs[1].description == "bộ thảo trên chữ 乙"
    assert column.typed == "天{bộ thảo trên chữ 乙}人" and column.phien_am == "thiên … nhân"
    for bad, reason in (("天{", "brace"), ("{}", "empty"), ("天\x07", "control")):
        with pytest.raises(tr.TranscriptionRefused, match=reason):
            tr.parse_column(bad)
    with pytest.raises(tr.TranscriptionRefused, match="no column"):
        tr.from_form({"chars-1": "", "phienam-1": ""})


def test_the_alto_keeps_the_columns_in_order_and_the_ocr_as_alternative():
    alto = ocr_alto(582, 331)
    typed = tr.PageTranscription([tr.parse_column("天{lạ}人", "thiên … nhân"), tr.parse_column("日月", "nhật nguyệt")])
    made = tr.transcription_alto(alto, typed, tr.column_boxes(alto, 582, 331), "reviewer1",
                                 datetime(2026, 5, 1, tzinfo=timezone.utc))
    back = tr.read_transcription(made, tr.phien_am_text(typed))
    assert [c.typed for c in back.columns] == ["天{lạ}人", "日月"]
    assert [c.phien_am for c in back.columns] == ["thiên … nhân", "nhật nguyệt"]
    assert [g.ocr for g in back.columns[0].glyphs] == list(OCR_READ[0])
    # saved again, the OCR's reading stays the OCR's, not the first transcription's
    again = tr.transcription_alto(made, back, tr.column_boxes(made, 582, 331), "reviewer2",
                                  datetime(2026, 5, 2, tzinfo=timezone.utc))
    assert "".join(g.ocr for g in back.columns[1].glyphs) == OCR_READ[1]  # by place: 3 read, 2 typed
    assert [[g.ocr for g in c.glyphs] for c in tr.read_transcription(again).columns] == \
        [[g.ocr for g in c.glyphs] for c in back.columns]
    assert len(tr.column_boxes(again, 582, 331)) == 4  # the columns left to the OCR keep their places
    assert etree.fromstring(again).xpath("//*[@ID='untranscribed']//@CONTENT") == list("太孚乏首眷秋")
    lines = etree.fromstring(made).findall(f".//{ALTO}TextBlock[@ID='transcription']/{ALTO}TextLine")
    assert [int(line.get("HPOS")) for line in lines] == sorted((int(line.get("HPOS")) for line in lines),
                                                               reverse=True)  # right to left


# ---- the generated page, stored as a Hán-Nôm item ----------------------------------------------

def column_places(width: int) -> list[tuple[int, int]]:
    """(x of the column, character pitch) of each column, right to left."""
    return [(width - 40 - (k + 1) * 90, 62) for k in range(len(COLUMNS))]


def page_image(width: int, height: int) -> bytes:
    image = Image.new("L", (width, height), 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 54, index=3)
    for (x, pitch), (chars, _) in zip(column_places(width), COLUMNS):
        for k, char in enumerate(chars):
            draw.text((x, 16 + k * pitch), char, font=font, fill=20)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def ocr_alto(width: int, height: int) -> bytes:
    """An OCR ALTO of the page as capture/ocr writes a vertical page: a TextLine a column."""
    lines = []
    for c, ((x, pitch), read) in enumerate(zip(column_places(width), OCR_READ)):
        strings = "".join(f'<String ID="s{c}_{k}" HPOS="{x}" VPOS="{16 + k * pitch}" WIDTH="56" HEIGHT="58" '
                          f'WC="0.41" CONTENT="{char}"/>' for k, char in enumerate(read))
        lines.append(f'<TextLine ID="line_{c}" HPOS="{x}" VPOS="16" WIDTH="56" HEIGHT="{len(read) * pitch}">'
                     f'{strings}</TextLine>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<alto xmlns="http://www.loc.gov/standards/alto/ns-v3#">'
            '<Description><MeasurementUnit>pixel</MeasurementUnit><OCRProcessing ID="OCR_0"><ocrProcessingStep>'
            '<processingSoftware><softwareName>tesseract 5.5.4</softwareName></processingSoftware>'
            f'</ocrProcessingStep></OCRProcessing></Description><Layout><Page ID="page_0" PHYSICAL_IMG_NR="0" '
            f'WIDTH="{width}" HEIGHT="{height}"><PrintSpace ID="ps" HPOS="0" VPOS="0" WIDTH="{width}" '
            f'HEIGHT="{height}"><TextBlock ID="textblock_0">{"".join(lines)}</TextBlock></PrintSpace></Page>'
            '</Layout></alto>').encode()


def replace_stored(folder, relative: str, data: bytes) -> None:
    (folder / relative).write_bytes(data)
    manifest = json.loads((folder / "stored.json").read_text(encoding="utf-8"))
    manifest["objects"][relative] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "stored.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The stored Truyện Kiều item with a generated vertical Hán-Nôm first page (its OCR draft as
    ALTO and text), a reviewer and a coordinator, the public app served by uvicorn."""
    from digitize.core.links import PublicLinks
    from digitize.ledger import accounts
    from digitize.ledger.database import Item, Library
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import PACKAGED_PROFILES
    from digitize.search import indexing
    from digitize.store.storage import FolderStore
    from digitize.web.app import create_app

    stored = copy_stored_items(tmp_path_factory.mktemp("stored"))
    folder = stored.folder(ITEM)
    package = mets.read((folder / "mets.xml").read_bytes())
    first = package.pages[0]
    width, height = first.image_width, first.image_height
    replace_stored(folder, "images/0001.jpg", page_image(width, height))
    replace_stored(folder, "alto/0001.xml", ocr_alto(width, height))
    replace_stored(folder, "text/0001.txt", "\n".join(OCR_READ).encode())
    store = FolderStore(stored.store)
    url = sqlite_url(tmp_path_factory.mktemp("ledger") / "l.sqlite")
    with ledger_session(url) as session:
        session.add(Library(code=LIBRARY, name="Thư viện tỉnh Hải Dương", province="hai-duong", tier="provincial"))
        now = datetime(2026, 5, 1, tzinfo=timezone.utc)
        session.add(Item(library=LIBRARY, item_id=ITEM, title="Truyện Kiều", category="rare", access="open",
                         status="ok", pages=2, stored=store.url(f"{LIBRARY}/{ITEM}"), digitized=now, updated=now,
                         published=now, review_risk={"han_nom": True}))
        for name, roles in (("reviewer1", "reviewer"), ("coordinator1", "coordinator")):
            accounts.add_user(session, name, PASSWORD).roles = roles
        session.commit()
        indexing.index_recorded(session, store, LIBRARY, ITEM)
        engine = session.get_bind()
        with uvicorn_server(for_base=lambda base: create_app(
                lambda: Session(engine), load_plans(PACKAGED_PROFILES), store_url=store.root.as_uri(),
                secret_key=b"k" * 32, links=PublicLinks(base))) as base:
            yield base, session, store, folder


def signed_in(browser, base: str, name: str, **viewport):
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 800})
    page.goto(f"{base}/staff/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("form.sign-in button")
    page.wait_for_load_state()
    return page


EDITOR = f"/staff/review/{LIBRARY}/{ITEM}/pages/1/transcription"


@pytest.fixture(scope="module")
def transcribed(site, browser):
    """The reviewer transcribes the first three columns with the keyboard: each character by its
    reading (with or without diacritics) and its number in the candidates (or arrows and Enter);
    Enter in the empty reading field goes to the next column; then saves."""
    base, session, store, folder = site
    page = signed_in(browser, base, "reviewer1")
    page.goto(base + EDITOR)
    assert page.locator("#columns .column").count() == len(COLUMNS)  # the OCR's four vertical lines
    reading = page.locator("#reading")
    reading.focus()
    for c, (chars, typed) in enumerate(COLUMNS[:3]):
        assert page.locator(".column[aria-current=true]").get_attribute("data-number") == str(c + 1)
        for char, said in zip(chars, typed):
            reading.press_sequentially(said)
            wanted = page.locator(f'#candidates li[data-char="{char}"]')
            wanted.wait_for()
            position = [c.char for c in hannom.candidates(said)].index(char)
            if said != "dai":  # 大 comes second for "dai" (after 𦀊, read exactly dai)
                page.keyboard.press(str(position + 1))
            else:  # the arrow keys and Enter
                for _ in range(position):
                    page.keyboard.press("ArrowDown")
                assert wanted.get_attribute("aria-selected") == "true"
                page.keyboard.press("Enter")
        assert page.locator(f"#chars-{c + 1}").input_value() == chars
        assert page.locator(f"#phienam-{c + 1}").input_value() == PHIEN_AM[c]
        page.keyboard.press("Enter")  # the reading is empty: the next column
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "transcription-editor.png"), full_page=True)
    page.locator("#save-transcription").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#saved")
    page.close()
    return site


@pytest.mark.slow  # the app served by uvicorn, Chromium
def test_the_transcription_is_saved_in_column_order_with_the_ocr_kept(transcribed):
    from digitize.ledger.database import Item
    from digitize.ledger.review import PageReview, ReviewEvent

    base, session, store, folder = transcribed
    alto = (folder / "alto" / "0001.xml").read_bytes()
    saved = tr.read_transcription(alto, (folder / "text" / "0001.phienam.txt").read_text(encoding="utf-8"))
    assert [c.text for c in saved.columns] == [chars for chars, _ in COLUMNS[:3]]
    assert [c.phien_am for c in saved.columns] == PHIEN_AM
    assert "".join(g.ocr for c in saved.columns for g in c.glyphs) == "".join(OCR_READ[:3])  # as ALTERNATIVE
    versions = list((store.root / "_versions").rglob("*0001.xml*"))
    assert versions and any(v.read_bytes() == ocr_alto(582, 331) for v in versions)  # the OCR-only ALTO kept
    text = (folder / "text" / "0001.txt").read_text(encoding="utf-8")
    assert text.startswith("天地人\n日月明\n大學之道\n") and "thiên địa nhân" in text
    manifest = json.loads((folder / "stored.json").read_text(encoding="utf-8"))["objects"]
    assert manifest["alto/0001.xml"]["sha256"] == hashlib.sha256(alto).hexdigest()
    session.expire_all()
    item = session.scalars(select(Item).where(Item.item_id == ITEM)).one()
    assert session.get(PageReview, (item.id, 1)).state == "transcribed"
    event = session.scalars(select(ReviewEvent).where(ReviewEvent.item == item.id)).one()
    assert (event.action, event.actor, event.pages, event.detail["characters"]) == ("transcribed", "reviewer1", [1], 10)


@pytest.mark.slow  # the app served by uvicorn, Chromium
def test_the_item_page_shows_the_transcription_beside_the_image(transcribed, browser):
    base = transcribed[0]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base}/items/{LIBRARY}/{ITEM}")
    section = page.locator("#transcription")
    assert [li.inner_text().split("\n")[0].strip() for li in section.locator(".han").all()] == \
        [chars for chars, _ in COLUMNS[:3]]
    assert [p.inner_text() for p in section.locator(".phienam").all()] == PHIEN_AM
    image = section.locator("img").bounding_box()
    columns = section.locator(".transcribed-columns").bounding_box()
    assert image["width"] > 100 and columns["x"] >= image["x"] + image["width"] - 1  # beside it, not below
    section.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('#transcription img').complete")
    assert section.locator("img").evaluate("i => i.naturalWidth") == 582  # the page image itself
    page.screenshot(path=str(ARTIFACTS / "transcription-item-page.png"), full_page=True)
    page.close()


@pytest.mark.slow  # the app served by uvicorn, Chromium
def test_the_phien_am_without_diacritics_finds_the_page(transcribed):
    base = transcribed[0]
    answer = httpx.get(f"{base}/search", params={"q": "thien dia nhan"})
    assert answer.status_code == 200 and f"/items/{LIBRARY}/{ITEM}" in answer.text
    assert "Trang 1" in answer.text  # the page is named
    assert f"/items/{LIBRARY}/{ITEM}" not in httpx.get(f"{base}/search", params={"q": "xuan thu"}).text


@pytest.mark.slow  # the app served by uvicorn, Chromium
def test_only_a_reviewer_saves_and_only_with_the_form_token(site, browser):
    base = site[0]
    page = signed_in(browser, base, "coordinator1")
    page.goto(base + EDITOR)
    assert page.locator("#read-only").count() == 1 and page.locator("#save-transcription").count() == 0
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    token = page.locator("input[name=csrf]").first.input_value()
    answer = httpx.post(base + EDITOR, data={"csrf": token, "chars-1": "人"}, cookies=cookies)
    assert answer.status_code == 403
    page.close()
    page = signed_in(browser, base, "reviewer1")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert httpx.post(base + EDITOR, data={"chars-1": "人"}, cookies=cookies).status_code == 403  # no token
    assert httpx.post(base + EDITOR, data={"chars-1": "人"}).status_code == 303  # not signed in: to sign-in
    page.close()


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_editor_has_no_serious_accessibility_violation(site, browser, lang):
    base = site[0]
    page = signed_in(browser, base, "reviewer1", width=390, height=844)
    for size in ({"width": 390, "height": 844}, {"width": 1280, "height": 800}):
        page.set_viewport_size(size)
        page.goto(f"{base}{EDITOR}?lang={lang}")
        assert page.locator("#current-column").inner_text() == ("Cột 1 / 4" if lang == "vi" else "Column 1 of 4")
        page.locator("#reading").press_sequentially("nhan")
        page.locator("#candidates li").first.wait_for()
        bad = serious_accessibility_faults(page)
        assert not bad, bad
        page.screenshot(path=str(ARTIFACTS / f"transcription-{lang}-{size['width']}.png"), full_page=True)
    page.close()
