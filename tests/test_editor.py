"""The page editor of review, end to end: the two stored test items (tests/data/stored) in a store
and a ledger, served by a real uvicorn on 127.0.0.1, used by reviewers and a coordinator through
headless Chromium and HTTP; and the corrections carried into the item's text, PDF/A and METS."""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from lxml import etree

from conftest import (ARTIFACTS, copy_stored_items, ledger_session, serious_accessibility_faults, sqlite_url,
                      uvicorn_server)
from digitize.core.links import PublicLinks
from digitize.describe import mets, schemas
from digitize.ledger import accounts
from digitize.ledger.database import Item, Library, Output
from digitize.ledger.review import PageReview, ReviewEvent
from digitize.review import alto_edit, revision
from digitize.search import indexing
from digitize.store.storage import FolderStore

LIBRARY = "HD-TV"
PASSWORD = "mật-khẩu-đủ-dài-1"
KEY = b"e" * 32
NS = {"alto": "http://www.loc.gov/standards/alto/ns-v3#"}


def stored_ledger(root: Path, users: bool = True):
    """The stored test items copied to ``root``, a ledger holding them (with their outputs) and the
    search index: (store, ledger URL)."""
    stored = copy_stored_items(root / "stored")
    store = FolderStore(stored.store)
    url = sqlite_url(root / "ledger.sqlite")
    with ledger_session(url) as session:
        session.add(Library(code=LIBRARY, name="Thư viện tỉnh Hải Dương", province="hai-duong", tier="provincial"))
        for item_id in stored.item_ids():
            manifest = json.loads((stored.folder(item_id) / "stored.json").read_text(encoding="utf-8"))
            session.add(Item(library=LIBRARY, item_id=item_id, title=item_id, category="dia_chi", access="open",
                             status="ok", pages=2, stored=store.url(f"{LIBRARY}/{item_id}"),
                             digitized=datetime.now(timezone.utc),
                             outputs=[Output(path=k, size=v["size"], sha256=v["sha256"], extra={})
                                      for k, v in manifest["objects"].items()]))
        session.commit()
        for item in session.query(Item):
            indexing.index_stored(session, store, item)
        for name, roles in (("duyet", "reviewer"), ("duyet2", "reviewer"), ("dieuphoi", "coordinator"))[:3 * users]:
            accounts.add_user(session, name, PASSWORD).roles = roles
            session.commit()
    return store, url


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, store, ledger URL) of the public app serving the stored items."""
    from sqlalchemy.orm import Session

    from digitize.ledger import database as ledger
    from digitize.web.app import create_app

    store, url = stored_ledger(tmp_path_factory.mktemp("editor"))
    engine = ledger.open_ledger(url).get_bind()
    try:
        with uvicorn_server(for_base=lambda base: create_app(lambda: Session(engine), {}, store_url=store.root.as_uri(),
                                                             secret_key=KEY, links=PublicLinks(base))) as base:
            yield base, store, url
    finally:
        engine.dispose()


def signed_in(base: str, name: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    form = http.get("/staff/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = http.post("/staff/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/staff/"})
    assert answer.status_code == 303, answer.text
    return http


def page_form(http: httpx.Client, path: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The editor's CSRF token and its lines (id, loaded text, field text) as the page shows them."""
    html = http.get(path).text
    token = re.search(r'<form class="lines".*?name="csrf" value="([^"]*)"', html, re.S).group(1)
    rows = re.findall(r'name="line" value="([^"]+)">\s*<input type="hidden" name="was" value="([^"]*)" '
                      r'class="was">\s*<input type="text"[^>]*?value="([^"]*)"', html)
    unescape = __import__("html").unescape
    return token, [(a, unescape(b), unescape(c)) for a, b, c in rows]


def stored_strings(store: FolderStore, item_id: str, page: int) -> list[etree._Element]:
    root = etree.fromstring(store.read_bytes(f"{LIBRARY}/{item_id}/alto/{page:04d}.xml"))
    return root.xpath("//alto:String", namespaces=NS)


def finds(base: str, query: str, item_id: str) -> bool:
    html = httpx.get(f"{base}/search", params={"q": query}, timeout=30).text
    return f"/items/{LIBRARY}/{item_id}" in html


# ---- the library: lines read and corrected ---------------------------------------------------------

SAMPLE = Path(__file__).parent / "data" / "stored" / "store" / LIBRARY


def test_a_corrected_word_keeps_what_ocr_read_and_split_or_joined_words_share_the_old_boxes():
    alto = (SAMPLE / "HD-DC-0001" / "alto" / "0001.xml").read_bytes()
    [first, *_] = alto_edit.read_lines(alto)
    assert first.text == "Triển khai thực hiện Quyết định"
    # typed in decomposed form (as some input methods send it): stored in NFC
    typed = unicodedata.normalize("NFD", "Triển khai thực nghiệm Quyết định")
    changed = alto_edit.apply_line(alto, first.id, typed)
    [line] = [line for line in alto_edit.read_lines(changed) if line.id == first.id]
    assert line.text == "Triển khai thực nghiệm Quyết định"
    word = line.words[3]
    assert (word.text, word.corrected, word.alternatives) == ("nghiệm", True, ["hiện"])
    assert [w.corrected for w in line.words] == [False, False, False, True, False, False]
    string = etree.fromstring(changed).xpath("//alto:String[@ID='string_3']", namespaces=NS)[0]
    assert string.get("CS") == "true" and string.find("alto:ALTERNATIVE", NS).get("PURPOSE") == "OCR"
    # one word read as two, two words joined: the boxes of the old words are shared out
    split = alto_edit.apply_line(alto, first.id, "Triển khai thực hiện Quyết đ ịnh")
    words = alto_edit.read_lines(split)[0].words
    assert [w.text for w in words][-2:] == ["đ", "ịnh"] and words[-2].alternatives == ["định"]
    joined = alto_edit.apply_line(alto, first.id, "Triểnkhai thực hiện Quyết định")
    strings = etree.fromstring(joined).xpath("//alto:TextLine[1]/alto:String", namespaces=NS)
    assert strings[0].get("CONTENT") == "Triểnkhai" and strings[0].get("HPOS") == "71"
    assert int(strings[0].get("WIDTH")) == 157 + 63 - 71  # from the first word's left to the second's right
    assert strings[0].find("alto:ALTERNATIVE", NS).text == "Triển khai"
    # a line emptied keeps one empty corrected word holding what it read
    emptied = alto_edit.apply_line(alto, first.id, "  ")
    assert alto_edit.line_text(emptied, first.id) == ""
    assert etree.fromstring(emptied).xpath("//alto:TextLine[1]/alto:String/alto:ALTERNATIVE/text()",
                                           namespaces=NS) == ["Triển khai thực hiện Quyết định"]


@pytest.mark.slow
def test_publishing_corrections_rebuilds_the_text_and_pdf_and_the_mets_names_the_reviewer(tmp_path):
    store, url = stored_ledger(tmp_path, users=False)
    with ledger_session(url) as session:
        item = session.query(Item).filter_by(item_id="HD-DC-0001").one()
        line = revision.open_page(session, store, item, 1).lines[0]
        before_pdf = store.read_bytes(f"{LIBRARY}/HD-DC-0001/HD-DC-0001.pdf")
        saved = revision.save_lines(session, store, item, 1, [revision.Change(
            line.id, line.text, "Triển khai thực nghiệm Quyết định")], "duyet")
        assert saved.saved == [line.id]
        [event] = session.query(ReviewEvent).filter_by(item=item.id, action="corrected").all()
        assert event.actor == "duyet" and event.pages == [1]
        assert event.detail == {"page": 1, "line": line.id, "before": "Triển khai thực hiện Quyết định",
                                "after": "Triển khai thực nghiệm Quyết định", "characters": 31, "changed": 3,
                                "profile": "quoc-ngu-modern"}
        assert session.get(PageReview, (item.id, 1)).state == "corrected"
        assert revision.search_finds(session, item, "nghiem") and not revision.search_finds(session, item, "hien")

        made = revision.publish_corrections(session, store, item, "duyet")
        assert made == ["HD-DC-0001.pdf", "HD-DC-0001.txt", "alto/0001.xml", "text/0001.txt"]
        pdf = store.root / LIBRARY / "HD-DC-0001" / "HD-DC-0001.pdf"
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "thực nghiệm Quyết" in unicodedata.normalize("NFC", text)
        assert "nghiệm" in store.read_bytes(f"{LIBRARY}/HD-DC-0001/HD-DC-0001.txt").decode()
        kept = [k for k in store.keys("_versions") if k.endswith("HD-DC-0001/HD-DC-0001.pdf")]
        assert len(kept) == 1 and store.read_bytes(kept[0]) == before_pdf  # the previous version, whole

        document = store.read_bytes(f"{LIBRARY}/HD-DC-0001/mets.xml")
        schemas.validate(etree.fromstring(document), "mets.xml")
        package = mets.read(document)
        [modification] = [e for e in package.events if e.id.startswith("review-correction")]
        assert modification.type == "modification" and modification.agents == ["staff-duyet"]
        assert {"access-pdf", "text-item", "alto-0001", "text-0001"} <= set(modification.objects)
        assert any(a.id == "staff-duyet" and a.name == "duyet" and a.kind == "person" for a in package.agents)
        files = {f.id: f for f in package.files}
        outputs = {o.path: o.sha256 for o in session.query(Output).filter_by(item=item.id)}
        manifest = json.loads(store.read_bytes(f"{LIBRARY}/HD-DC-0001/stored.json"))["objects"]
        for path, file_id in (("HD-DC-0001.pdf", "access-pdf"), ("alto/0001.xml", "alto-0001")):
            assert files[file_id].sha256 == outputs[path] == manifest[path]["sha256"] == store.read_sha256(
                f"{LIBRARY}/HD-DC-0001/{path}")
        assert outputs["mets.xml"] == manifest["mets.xml"]["sha256"]

        event_id = revision.record_event_in_mets(session, store, item, "accepted", "duyet", "every page looked at")
        accepted = [e for e in mets.read(store.read_bytes(f"{LIBRARY}/HD-DC-0001/mets.xml")).events
                    if e.id == event_id]
        assert accepted[0].agents == ["staff-duyet"] and "every page looked at" in accepted[0].detail


# ---- the web: the editor in Chromium, conflicts, roles and CSRF -------------------------------------

@pytest.mark.slow
def test_a_reviewer_corrects_a_line_with_the_keyboard_alone_and_search_follows(served, browser):
    base, store, _ = served
    assert finds(base, "ngày", "HD-DC-0001") and not finds(base, "Nguyễn", "HD-DC-0001")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    editor = f"{base}/staff/review/{LIBRARY}/HD-DC-0001/pages/1"
    page.goto(editor)
    assert "/staff/login" in page.url  # not signed in: to the sign-in form, which comes back here
    page.keyboard.press("Tab")  # the skip link first
    page.focus("#name")
    page.keyboard.type("duyet")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(editor)
    for _ in range(40):  # Tab through the page to the first line, then on to the second
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "text-textline_0":
            break
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "text-textline_1"
    page.keyboard.press("End")
    for _ in range(len(" 11/02/2021")):
        page.keyboard.press("ArrowLeft")
    for _ in range(len("ngày")):
        page.keyboard.press("Backspace")
    page.keyboard.type("Nguyễn")  # stacked diacritics, committed as an input method does
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#editor-status .saved")
    assert page.inner_text("#editor-status") == "Đã lưu 1 dòng."
    assert page.evaluate("document.activeElement.id") == "text-textline_1"  # still where the reviewer was
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "editor-saved.png"), full_page=True)
    context.close()

    strings = {s.get("ID"): s for s in stored_strings(store, "HD-DC-0001", 1)}
    corrected = strings["string_8"]
    assert corrected.get("CONTENT") == "Nguyễn" and corrected.get("CS") == "true"
    assert [(a.get("PURPOSE"), a.text) for a in corrected.findall("alto:ALTERNATIVE", NS)] == [("OCR", "ngày")]
    assert strings["string_7"].get("CS") is None  # the other words of the line are untouched
    assert finds(base, "nguyen", "HD-DC-0001") and not finds(base, "ngày", "HD-DC-0001")


@pytest.mark.slow
def test_two_reviewers_saving_one_line_the_second_is_told_and_keeps_their_text(served):
    base, store, _ = served
    path = f"/staff/review/{LIBRARY}/HN-TK-0002/pages/1"
    first, second = signed_in(base, "duyet"), signed_in(base, "duyet2")
    token1, lines1 = page_form(first, path)
    token2, lines2 = page_form(second, path)
    line, loaded, _ = lines1[0]
    assert loaded == "Trăm năm trong cõi người ta."

    def form(token, lines, text):
        fields = [("csrf", token)]
        for number, (line_id, was, shown) in enumerate(lines):
            fields += [("line", line_id), ("was", was), ("text", text if number == 0 else shown)]
        return fields

    answer = first.post(path, content=httpx.QueryParams(form(token1, lines1, "Trăm năm trong cõi người ta!")).__str__(),
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 303 and answer.headers["location"].endswith("?saved=1")
    refused = second.post(path, content=str(httpx.QueryParams(form(token2, lines2, "Trăm năm trong cõi người ta ."))),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 409
    assert "duyet đã lưu dòng này sau khi bạn mở trang" in refused.text
    assert 'value="Trăm năm trong cõi người ta ."' in refused.text  # the refused text, kept in its field
    assert "Trăm năm trong cõi người ta!" in refused.text  # beside the text now stored
    # the script's JSON save is told the same
    answer = second.post(path + "?lang=en", json={"csrf": token2, "lines": [
        {"line": line, "was": loaded, "text": "Trăm năm trong cõi người ta?"}]})
    assert answer.status_code == 409
    [conflict] = answer.json()["conflicts"]
    assert (conflict["by"], conflict["yours"], conflict["theirs"]) == (
        "duyet", "Trăm năm trong cõi người ta?", "Trăm năm trong cõi người ta!")
    assert conflict["message"].startswith("duyet saved this line after you opened the page")
    assert alto_edit.line_text(store.read_bytes(f"{LIBRARY}/HN-TK-0002/alto/0001.xml"), line) == \
        "Trăm năm trong cõi người ta!"
    # re-applied over the stored text, it is saved
    again = second.post(path, json={"csrf": token2, "lines": [
        {"line": line, "was": "Trăm năm trong cõi người ta!", "text": "Trăm năm trong cõi người ta ."}]})
    assert again.status_code == 200 and again.json()["saved"] == [line]


@pytest.mark.slow
def test_a_coordinator_reads_but_may_not_save_and_a_save_without_its_token_is_refused(served):
    base, store, _ = served
    path = f"/staff/review/{LIBRARY}/HN-TK-0002/pages/2"
    before = store.read_bytes(f"{LIBRARY}/HN-TK-0002/alto/0002.xml")
    assert httpx.get(base + path).status_code == 303  # not signed in
    coordinator = signed_in(base, "dieuphoi")
    token, lines = page_form(coordinator, path)
    assert 'id="read-only"' in coordinator.get(path).text and "readonly" in coordinator.get(path).text
    line, loaded, _ = lines[0]
    refused = coordinator.post(path, json={"csrf": token, "lines": [{"line": line, "was": loaded, "text": "x"}]})
    assert refused.status_code == 403 and refused.json()["error"] == "role"
    refused = coordinator.post(path, data={"csrf": token, "line": line, "was": loaded, "text": "x"})
    assert refused.status_code == 403 and "Chỉ người duyệt mới được sửa trang" in refused.text
    reviewer = signed_in(base, "duyet")
    refused = reviewer.post(path, data={"line": line, "was": loaded, "text": "x"})
    assert refused.status_code == 403 and "biểu mẫu đã hết hạn" in refused.text
    assert reviewer.post(path, json={"csrf": "forged", "lines": []}).status_code == 403
    assert store.read_bytes(f"{LIBRARY}/HN-TK-0002/alto/0002.xml") == before
    assert reviewer.get(f"/staff/review/{LIBRARY}/HN-TK-0002/pages/9").status_code == 404
    assert reviewer.get(f"/staff/review/{LIBRARY}/NO-SUCH/pages/1").status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_editor_has_no_serious_accessibility_faults_on_a_phone_and_a_desktop(served, browser, lang):
    base, _, _ = served
    for name, viewport in (("phone", {"width": 390, "height": 844}), ("desktop", {"width": 1280, "height": 800})):
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        http = signed_in(base, "duyet")
        context.add_cookies([{"name": accounts.SESSION_COOKIE, "value": http.cookies[accounts.SESSION_COOKIE],
                              "url": base}])
        page = context.new_page()
        page.goto(f"{base}/staff/review/{LIBRARY}/HN-TK-0002/pages/2" + ("?lang=en" if lang == "en" else ""))
        page.wait_for_load_state("networkidle")
        assert page.locator("input.line-text").count() == 7
        assert page.locator(".word.low").count() >= 1  # an unsure word, marked in words too
        serious = serious_accessibility_faults(page)
        assert not serious, serious
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"editor-{name}-{lang}.png"), full_page=True)
        context.close()
        http.close()
