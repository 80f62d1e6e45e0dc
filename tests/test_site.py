"""The public reading site's pages (digitize.access.site) rendered from sample views in Vietnamese and
English: hostile values are escaped, the pages parse, load no inline script or style, keep the
language and the category in their links, and hide the viewer and the PDF/A of a restricted item;
the not-found page never depends on what was asked for."""

from __future__ import annotations

import re
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

import lxml.etree
import lxml.html
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from conftest import ROOT
from digitize.access import assets, pages, site
from digitize.core import i18n
from digitize.access.site import Context, ItemSummary, ItemView, LibrarySummary

BASE = "https://thuvien.example.vn/so"
HOSTILE = "<script>alert(\"x\")</script> & 'q'"
LANGS = ("vi", "en")

LIBRARY = LibrarySummary(code="HD-TV", name=f"Thư viện tỉnh Hải Dương {HOSTILE}", province=f"hai-duong {HOSTILE}",
                         url=f"{BASE}/libraries/HD-TV", counts={"rare": 3, "dia_chi": 12, "other": 0})
ITEMS = [ItemSummary(title=f"Địa chí Hải Dương {HOSTILE}", url=f"{BASE}/items/HD-DC-0001",
                     thumbnail_url=f"{BASE}/iiif/HD-DC-0001/p1/full/200,/0/default.jpg?a=1&b=2",
                     creator=f"Nguyễn Văn A {HOSTILE}", date="1999", pages=124),
         ItemSummary(title="Tờ rời", url=f"{BASE}/items/HD-DC-0002", pages=1)]
ITEM = ItemView(
    title=f"Địa chí Hải Dương {HOSTILE}",
    fields=[("title", [f"Địa chí Hải Dương {HOSTILE}"]),
            ("creator", ["Nguyễn Văn A (chủ biên)", f"Trần Thị B {HOSTILE}"]),
            ("date", ["1999"]), ("publisher", ["Nxb Chính trị quốc gia"]), ("place", ["Hà Nội"]), ("language", ["vie"]),
            ("subject", ["Hải Dương", "Lịch sử"]), ("coverage", ["Hải Dương"]), ("type", ["Text"]),
            ("format", ["124 tr."]), ("extent", ["124 tr. ; 21 cm"]), ("identifier", ["DC.0001"]),
            ("rights", ["Phạm vi công cộng"]), ("library", ["Thư viện tỉnh Hải Dương"]),
            ("collection", ["Địa chí"])],
    rights=f"Phạm vi công cộng {HOSTILE}",
    item_url=f"{BASE}/items/HD-DC-0001",
    pdf_url=f"{BASE}/items/HD-DC-0001/HD-DC-0001.pdf",
    manifest_url=f"{BASE}/iiif/HD-DC-0001/manifest.json?x=1&y=\"2\"",
    pages=[(n, f"tr. {n} {HOSTILE}", f"{BASE}/iiif/HD-DC-0001/p{n}/full/120,/0/default.jpg") for n in range(1, 6)],
    library_url=f"{BASE}/libraries/HD-TV")


def context(lang: str = "vi", path: str = "/", query: str = "", user: str | None = None) -> Context:
    return Context(base=BASE, lang=lang, path=path, query=query, user=user, csrf=f"tok{HOSTILE}")


def all_pages(lang: str, user: str | None = None) -> dict[str, str]:
    return {
        "home": site.home(context(lang, user=user), [LIBRARY]),
        "library": site.library_page(context(lang, "/libraries/HD-TV", "category=dia_chi&page=2", user), LIBRARY,
                                     ITEMS, "dia_chi", 2, 7, 130),
        "item": site.item_page(context(lang, "/items/HD-DC-0001", user=user), ITEM, page=3),
        "sign_in": site.sign_in_page(context(lang, "/staff/login"), f"csrf{HOSTILE}", "wrong",
                                     f"/items/HD-DC-0001?{HOSTILE}"),
        "not_found": site.not_found_page(context(lang, "/items/HD-SECRET", user=user)),
        "refused": site.refused_page(context(lang, user=user), f"Không {HOSTILE}"),
    }


def parse(page: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(page)


NOTICES = {"reading_room": "This item can be read only in the library's reading room.",
           "staff": "This item is available to library staff only."}


def translated(lang: str, message: str) -> str:
    return pages.translations(lang).gettext(message)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("user", [None, f"thủ thư {HOSTILE}"])
def test_every_page_parses_escapes_and_has_no_inline_script_or_style(lang, user):
    for name, page in all_pages(lang, user).items():
        assert page.startswith("<!doctype html>"), name
        assert "<script>" not in page and "alert(\"x\")" not in page and " & '" not in page, name
        tree = parse(page)
        assert tree.get("lang") == lang
        assert tree.xpath('//meta[@name="viewport"]/@content') == ["width=device-width, initial-scale=1"], name
        assert all(script.get("src") for script in tree.iter("script")), name
        assert not tree.xpath("//*[@style]") and not tree.xpath("//style"), name
        assert tree.xpath('//link[@rel="stylesheet"]/@href') == [assets.url(BASE, "site.css")], name
        assert tree.xpath('//header//a[@class="site-name"]/@href')[0] in (f"{BASE}/", f"{BASE}/?lang=en"), name
        assert tree.xpath("//footer") and tree.xpath("//main[@class='page']"), name
        if user is not None and name != "sign_in":
            assert user in tree.xpath('string(//*[@class="user"])'), name
            assert tree.xpath('//form[@class="sign-out"]/@method') == ["post"], name
            assert tree.xpath('//form[@class="sign-out"]//input[@name="csrf"]/@value') == [f"tok{HOSTILE}"], name
        elif name != "sign_in":
            assert tree.xpath('//a[@id="sign-in-link"]'), name


@pytest.mark.parametrize("lang", LANGS)
def test_hostile_text_reads_back_as_given(lang):
    pages = all_pages(lang)
    home = parse(pages["home"])
    assert home.xpath("string(//li[@class='library']//h2)") == LIBRARY.name
    item = parse(pages["item"])
    assert item.xpath("string(//h1)") == ITEM.title
    assert item.xpath("string(//p[@id='rights'])") == ITEM.rights
    assert item.xpath("//dd/text()").count(f"Trần Thị B {HOSTILE}") == 1
    assert item.xpath("//title/text()")[0].startswith(ITEM.title)
    sign_in = parse(pages["sign_in"])
    assert sign_in.xpath('//input[@name="csrf"]/@value') == [f"csrf{HOSTILE}"]
    assert sign_in.xpath('//input[@name="next"]/@value') == [f"/items/HD-DC-0001?{HOSTILE}"]


def test_labels_follow_the_language():
    vi, en = all_pages("vi"), all_pages("en")
    assert "Thư viện số" in parse(vi["home"]).xpath("string(//header)")
    assert "Digital library" in parse(en["home"]).xpath("string(//header)")
    assert "Địa chí" in parse(vi["home"]).xpath("string(//ul[@class='counts'])")
    assert "Local history" in parse(en["home"]).xpath("string(//ul[@class='counts'])")
    assert parse(vi["item"]).xpath("//dt/text()")[:2] == ["Nhan đề", "Tác giả"]
    assert parse(en["item"]).xpath("//dt/text()")[:2] == ["Title", "Creator"]
    assert parse(vi["sign_in"]).xpath("string(//*[@id='sign-in-error'])") == "Sai tên hoặc mật khẩu."
    assert parse(en["sign_in"]).xpath("string(//*[@id='sign-in-error'])") == "Wrong name or password."
    for pages_in_lang in (vi, en):
        labels = parse(pages_in_lang["item"]).xpath("//dl[@class='fields']/dt/text()")
        assert len(labels) == len(site.FIELDS) == len(ITEM.fields) and all(labels)


def test_the_language_switch_keeps_the_page_and_its_query():
    page = site.library_page(context("vi", "/libraries/HD-TV", "category=dia_chi&page=2&lang=vi"), LIBRARY,
                             ITEMS, "dia_chi", 2, 7, 130)
    switch = parse(page).xpath('//a[@id="language-switch"]/@href')[0]
    assert switch == f"{BASE}/libraries/HD-TV?category=dia_chi&page=2&lang=en"
    back = site.switch_url(context("en", "/items/Địa chí", "page=3&lang=en"))
    assert back == f"{BASE}/items/%C4%90%E1%BB%8Ba%20ch%C3%AD?page=3&lang=vi"
    assert site.switch_url(context("en", "/", "q=%3Cscript%3E")) == f"{BASE}/?q=%3Cscript%3E&lang=vi"


@pytest.mark.parametrize("lang", LANGS)
def test_links_keep_the_language(lang):
    tree = parse(site.library_page(context(lang, "/libraries/HD-TV"), LIBRARY, ITEMS, None, 1, 7, 130))
    links = [href for href in tree.xpath("//main//a/@href")]
    assert links
    for href in links:
        assert parse_qs(urlsplit(href).query).get("lang") == (["en"] if lang == "en" else None), href


def test_paging_links_keep_the_category():
    tree = parse(site.library_page(context("en", "/libraries/HD-TV"), LIBRARY, ITEMS, "dia_chi", 2, 7, 130))
    previous, following = tree.xpath('//a[@rel="prev"]/@href'), tree.xpath('//a[@rel="next"]/@href')
    assert previous == [f"{BASE}/libraries/HD-TV?category=dia_chi&lang=en"]
    assert following == [f"{BASE}/libraries/HD-TV?category=dia_chi&page=3&lang=en"]
    assert tree.xpath("string(//*[@class='page-of'])") == "Page 2 of 7"
    assert tree.xpath("string(//*[@class='total'])") == "130 items"
    current = tree.xpath('//nav[@class="filters"]//a[@aria-current="page"]')
    assert len(current) == 1 and "Local history" in current[0].text_content() and "12" in current[0].text_content()

    first = parse(site.library_page(context(), LIBRARY, ITEMS, None, 1, 7, 130))
    assert not first.xpath('//a[@rel="prev"]')
    assert first.xpath('//a[@rel="next"]/@href') == [f"{BASE}/libraries/HD-TV?page=2"]
    assert first.xpath("string(//*[@class='page-of'])") == "Trang 1 / 7"
    last = parse(site.library_page(context(), LIBRARY, ITEMS, "rare", 7, 7, 130))
    assert not last.xpath('//a[@rel="next"]')
    assert last.xpath('//a[@rel="prev"]/@href') == [f"{BASE}/libraries/HD-TV?category=rare&page=6"]
    single = parse(site.library_page(context(), LIBRARY, ITEMS[:1], None, 1, 1, 1))
    assert not single.xpath('//nav[@class="paging"]')


def test_the_library_list_shows_the_items():
    tree = parse(site.library_page(context(), LIBRARY, ITEMS, None, 1, 1, 2))
    entries = tree.xpath('//li[@class="item"]')
    assert len(entries) == 2
    image = entries[0].xpath(".//img")[0]
    assert image.get("loading") == "lazy" and image.get("src") == ITEMS[0].thumbnail_url
    assert "124 trang" in entries[0].text_content() and "1999" in entries[0].text_content()
    assert entries[0].xpath(".//a/@href") == [ITEMS[0].url]
    filters = [a.text_content() for a in tree.xpath('//nav[@class="filters"]//a')]
    assert filters == ["Tất cả 15", "Địa chí 12", "Cổ, quý hiếm, có giá trị đặc biệt 3"]
    empty = parse(site.library_page(context(), LIBRARY, [], "other", 1, 0, 0))
    assert empty.xpath("string(//p[@class='empty'])") == "Không có tài liệu nào."


@pytest.mark.parametrize("lang", LANGS)
def test_the_item_page_mounts_the_viewer(lang):
    tree = parse(site.item_page(context(lang, "/items/HD-DC-0001"), ITEM, page=3))
    viewer = tree.get_element_by_id("viewer")
    assert viewer.get("data-manifest") == ITEM.manifest_url
    assert viewer.get("data-lang") == lang and viewer.get("data-canvas") == "3"
    assert tree.xpath("//script/@src") == [assets.url(BASE, name) for name in
                                           ("mirador/mirador.min.js", "viewer-words.js", "viewer.js")]
    pdf = tree.get_element_by_id("pdf-link")
    assert pdf.get("href") == ITEM.pdf_url and pdf.get("download") is not None
    assert pdf.text == ("Tải PDF/A" if lang == "vi" else "Download PDF/A")
    assert tree.xpath('//a[@id="manifest-link"]/@href') == [ITEM.manifest_url]
    assert tree.xpath('string(//a[@id="manifest-link"])') == "IIIF manifest"
    thumbnails = tree.xpath('//nav[@class="strip"]//a')
    assert len(thumbnails) == 5
    suffix = "&lang=en" if lang == "en" else ""
    assert thumbnails[1].get("href") == f"{ITEM.item_url}?page=2{suffix}#viewer"
    assert all(image.get("loading") == "lazy" for image in tree.xpath('//nav[@class="strip"]//img'))
    assert tree.xpath('//nav[@class="strip"]//a[@aria-current="page"]/@href')[0].startswith(f"{ITEM.item_url}?page=3")
    assert not tree.xpath('//*[@id="restricted-notice"]')
    assert parse(site.item_page(context(lang), ITEM, page=99)).get_element_by_id("viewer").get("data-canvas") == "1"


@pytest.mark.parametrize("restriction", site.RESTRICTIONS)
@pytest.mark.parametrize("lang", LANGS)
def test_a_restricted_item_shows_the_notice_instead_of_the_viewer_and_the_pdf(lang, restriction):
    item = ItemView(**{**ITEM.__dict__, "restricted": restriction})
    page = site.item_page(context(lang, "/items/HD-DC-0001"), item)
    tree = parse(page)
    notice = tree.xpath("string(//*[@id='restricted-notice'])")
    assert notice == translated(lang, NOTICES[restriction])
    assert not tree.xpath('//*[@id="viewer"] | //*[@id="pdf-link"] | //nav[@class="strip"] | //script')
    assert ITEM.pdf_url not in page and "manifest.json" not in page and "/p1/full" not in page
    assert tree.xpath("string(//h1)") == ITEM.title
    assert len(tree.xpath("//dl[@class='fields']/dt")) == len(ITEM.fields)
    assert tree.xpath("string(//p[@id='rights'])") == ITEM.rights


def test_fields_without_a_value_are_left_out():
    item = ItemView(**{**ITEM.__dict__, "fields": [("publisher", []), ("format", ["", None, "124 tr."])]})
    tree = parse(site.item_page(context(), item))
    assert tree.xpath("//dl[@class='fields']/dt/text()") == ["Số trang số hóa"]
    assert tree.xpath("//dl[@class='fields']/dd/text()") == ["124 tr."]


def test_the_sign_in_form():
    tree = parse(site.sign_in_page(context("en", "/staff/login"), "abc", None, "/items/X"))
    form = tree.xpath("//form[@class='sign-in']")[0]
    assert form.get("method") == "post" and form.get("action") == f"{BASE}/staff/login?lang=en"
    assert {i.get("name") for i in form.xpath(".//input")} == {"csrf", "next", "name", "password"}
    assert form.xpath(".//input[@name='password']/@type") == ["password"]
    assert not tree.xpath("//*[@id='sign-in-error']")
    locked = parse(site.sign_in_page(context(), "abc", "locked", "/"))
    assert "tạm thời chưa thể đăng nhập" in locked.xpath("string(//*[@id='sign-in-error'])")
    with pytest.raises(ValueError):
        site.sign_in_page(context(), "abc", "<b>anything</b>", "/")


@pytest.mark.parametrize("lang", LANGS)
def test_the_not_found_page_is_the_same_for_any_item(lang):
    missing = site.not_found_page(context(lang, "/items/HD-NOPE-0001", "page=2"))
    secret = site.not_found_page(context(lang, "/items/HD-SECRET-0007"))
    assert missing == secret
    assert "NOPE" not in missing and "SECRET" not in missing
    tree = parse(missing)
    assert tree.xpath('//a[@id="language-switch"]/@href') == ["?lang=" + ("en" if lang == "vi" else "vi")]
    refused = site.refused_page(context(lang, "/items/HD-SECRET-0007"))
    assert "SECRET" not in refused
    assert parse(refused).xpath("string(//main/p)") == translated(lang, "You may not see this page.")


def test_the_sitemap():
    urls = [f"{BASE}/", f"{BASE}/libraries/HD-TV?category=dia_chi&page=2", f"{BASE}/items/Đ<'\">"]
    text = site.sitemap(urls)
    root = lxml.etree.fromstring(text.encode("utf-8"))
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    assert root.xpath("//s:loc/text()", namespaces={"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}) == urls
    assert lxml.etree.fromstring(site.sitemap([]).encode()).tag.endswith("urlset")


def test_unsafe_input_is_refused():
    with pytest.raises(ValueError):
        site.item_page(context(), ItemView(**{**ITEM.__dict__, "pdf_url": "javascript:alert(1)"}))
    with pytest.raises(ValueError):
        site.item_page(context(), ItemView(**{**ITEM.__dict__, "fields": [("secret_note", ["x"])]}))
    with pytest.raises(ValueError):
        site.item_page(context(), ItemView(**{**ITEM.__dict__, "restricted": "nobody"}))
    with pytest.raises(ValueError):
        site.sitemap(["/relative"])
    with pytest.raises(ValueError):
        site.home(Context(base="//thuvien.example.vn"), [])


def test_the_stylesheet_leaves_the_viewers_own_elements_alone():
    """Mirador, inside #viewer, renders its own <main> and buttons: the page's layout goes by class."""
    css = (files("digitize") / "data" / "site" / "site.css").read_text(encoding="utf-8")
    selectors = re.findall(r"(?:^|(?<=[{}]))\s*([^{}]+?)\s*{", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    bare = {part.strip() for selector in selectors for part in selector.split(",")}
    assert not bare & {"main", "button", "input", "section", "nav", "div"}


SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize("lang", LANGS)
def test_a_script_in_a_value_is_rendered_escaped(lang):
    """Autoescape is on for every template: a title, a query, a snippet, a message come out as text."""
    item = ItemView(**{**ITEM.__dict__, "title": SCRIPT, "fields": [("title", [SCRIPT])], "rights": SCRIPT})
    view = site.SearchView(url=f"{BASE}/search", query=SCRIPT, filters={"library": SCRIPT}, total=1, more=False,
                           page=1, pages=1, facets={"library": [(SCRIPT, SCRIPT, 1)]},
                           hits=[site.SearchHitView(title=SCRIPT, url=f"{BASE}/items/X", library=SCRIPT, page=1,
                                                    pages_matched=1, snippet=[(SCRIPT, True), (SCRIPT, False)])])
    rendered = {
        "item": site.item_page(context(lang, "/items/X", user=SCRIPT), item, search=site.ItemSearch(SCRIPT, [(1, 1, ITEM.pages[0][2])])),
        "search": site.search_page(context(lang, "/search"), view),
        "library": site.library_page(context(lang), LibrarySummary("X", SCRIPT, SCRIPT, f"{BASE}/libraries/X"),
                                     [ItemSummary(SCRIPT, f"{BASE}/items/X", creator=SCRIPT)], SCRIPT, 1, 1, 1),
        "refused": site.refused_page(context(lang), SCRIPT),
        "sign_in": site.sign_in_page(context(lang), SCRIPT, None, SCRIPT),
    }
    for name, page in rendered.items():
        assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
        tree = parse(page)
        assert not tree.xpath("//script[not(@src)]"), name
        assert SCRIPT in tree.text_content() or name == "sign_in", name
    assert parse(rendered["search"]).xpath("//mark/text()") == [SCRIPT]
    assert parse(rendered["item"]).xpath("//*[@id='q']/@value") == [SCRIPT]


def catalogue_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every message the catalogues must hold, as the command in babel.cfg
    extracts them: the templates' words and N_ of the library and the flows."""
    with (pages.LOCALE / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for root in (ROOT / "src" / "digitize", ROOT / "flows"):
        for _, _, message, _, context in extract_from_dir(root, method_map, options_map=options_map):
            found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def test_every_catalogue_translates_every_message_of_the_templates_and_the_library():
    """A language is one .po file in locale/<lang>/LC_MESSAGES/: it must translate every message
    (no empty or fuzzy msgstr, the same placeholders), and digitize.pot must list them all."""
    used = catalogue_messages()
    assert len(used) > 150 and (None, "Digital library") in used and ("category", "Other") in used
    assert (None, "the image data is damaged or truncated ({detail})") in used and (None, "Batch folder") in used
    assert ("library tier", "provincial") in used  # the quota report's, from digitize/ledger/quota.py
    assert (None, "%(batch)s: skipped: %(why)s") in used  # the nightly inbox's report (inbox_report.py)
    with (pages.LOCALE / "digitize.pot").open("rb") as template:
        assert {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in read_po(template) if m.id} == used
    assert {"vi", "en"} <= set(pages.LANGUAGES)
    for lang in pages.LANGUAGES:
        with (pages.LOCALE / lang / "LC_MESSAGES" / "digitize.po").open("rb") as po:
            catalog = read_po(po, locale=lang)
        messages = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}
        assert not used - set(messages), (lang, used - set(messages))
        for key in used:
            message = messages[key]
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings) and not message.fuzzy, (lang, key)
            braces = set(re.findall(r"\{\w*\}", key[1]))  # the library's messages: str.format placeholders
            assert all(set(re.findall(r"\{\w*\}", string)) == braces for string in strings), (lang, key)
        assert not [problem for problem in catalog.check()], lang


def test_the_catalogues_compile_in_memory_without_mo_files(tmp_path, monkeypatch):
    for po in pages.LOCALE.glob("*/LC_MESSAGES/digitize.po"):
        target = tmp_path / po.relative_to(pages.LOCALE)
        target.parent.mkdir(parents=True)
        target.write_bytes(po.read_bytes())
    monkeypatch.setattr(i18n, "LOCALE", tmp_path)
    pages.translations.cache_clear()
    try:
        assert pages.translations("vi").gettext("Sign in") == "Đăng nhập"
        assert pages.translations("vi").ngettext("%(num)s item", "%(num)s items", 2) == "%(num)s tài liệu"
        assert pages.translations("en").ngettext("%(num)s item", "%(num)s items", 2) == "%(num)s items"
        # the same words below the pages (the quota report), as the templates' gettext gives them
        assert i18n.translator("vi").gettext("Target (%%)") == "Chỉ tiêu (%)"
        assert i18n.translator("vi").pgettext("library tier", "provincial") == "cấp tỉnh"
        assert not list(tmp_path.rglob("*.mo"))
    finally:
        pages.translations.cache_clear()
