"""The item page's viewer as a reader meets it (issue 27): Mirador in the project's own Vietnamese
and English, one page at a time on a phone, at the top of the page taking most of the window, one
h1 and one main landmark, no console errors; and the site light: static files by versioned names,
gzip-encoded and kept a year, pages and JSON gzip-encoded, Mirador only where there is a viewer.
The stored test items, served by a real uvicorn on 127.0.0.1, read in headless Chromium."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest

from conftest import ARTIFACTS, ROOT, serious_accessibility_faults, uvicorn_server
from digitize.access import assets
from digitize.core.links import PublicLinks
from test_editor import KEY, LIBRARY, stored_ledger

ITEM = "HD-DC-0001"
WORDS = ROOT / "src/digitize/data/site/viewer-words.js"
MIRADOR = ROOT / "src/digitize/data/site/mirador/mirador.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
A4 = 210 / 297  # a book page's width over its height

# The page image as drawn: OpenSeadragon's first image in the viewer's element, in the window's pixels.
DRAWN = """() => {
  const reference = window.Mirador && Mirador.OSDReferences.get('book');
  const viewer = reference && reference.current;
  const image = viewer && viewer.world.getItemCount() ? viewer.world.getItemAt(0) : null;
  if (!image || !image.getFullyLoaded()) return null;
  const box = viewer.viewport.viewportToViewerElementRectangle(image.getBounds(true));
  const frame = viewer.element.getBoundingClientRect();
  const left = Math.max(0, frame.left + box.x), right = Math.min(innerWidth, frame.left + box.x + box.width);
  return {images: viewer.world.getItemCount(), visibleWidth: right - left, frameWidth: frame.width,
          frameHeight: frame.height};
}"""


def translations(text: str, language: str) -> dict[str, str]:
    """The words of ``language``'s block in viewer-words.js (or Mirador's English translation)."""
    block = text.split(f"\n    {language}: {{", 1)[1].split("\n    }", 1)[0]
    return {key: value for key, value in re.findall(r"^\s+'?([\w/]+)'?: '(.*)',?$", block, re.M)}


def mirador_english() -> dict[str, str]:
    source = MIRADOR.read_text(encoding="utf-8")
    at = source.index('zoomIn:"Zoom in"')
    block = source[source.rindex("translation:{", 0, at):source.index("}", at)]
    return dict(re.findall(r'[{,]"?([\w/]+)"?:(?:"([^"]*)"|\'[^\']*\')', block))


def test_every_word_mirador_shows_has_the_projects_vietnamese():
    text = WORDS.read_text(encoding="utf-8")
    vietnamese, english = translations(text, "vi"), translations(text, "en")
    keys = mirador_english()
    assert len(keys) > 150
    assert sorted(set(keys) - set(vietnamese)) == []  # every word of Mirador's, ours
    assert vietnamese["zoomIn"] == "Phóng to" and vietnamese["zoomOut"] == "Thu nhỏ"
    assert (vietnamese["previousCanvas"], vietnamese["nextCanvas"]) == ("Trang trước", "Trang sau")
    assert vietnamese["pageOf"].replace("{{current}}", "6").replace("{{total}}", "48") == "Trang 6/48"
    # Mirador's own machine translation is gone
    shown = set(vietnamese.values())
    assert not shown & {"Khoản mục trước", "Khoản mục tiếp", "{{current}} trong {{total}}", "Đệ trình việc tìm",
                        "chốt thanh bên", "Cấp phép", "Co sập thanh bên"}
    # Vietnamese has one plural form: i18next asks for the _other keys
    assert all(key.replace("_one", "_other") in vietnamese for key in vietnamese if key.endswith("_one"))
    assert (english["previousCanvas"], english["nextCanvas"]) == ("Previous page", "Next page")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The base URL of the public app serving the stored test items."""
    from sqlalchemy.orm import Session

    from digitize.ledger import database as ledger
    from digitize.web.app import create_app

    store, url = stored_ledger(tmp_path_factory.mktemp("viewer"), users=False)
    engine = ledger.open_ledger(url).get_bind()
    with uvicorn_server(for_base=lambda base: create_app(lambda: Session(engine), {}, store_url=store.root.as_uri(),
                                                         secret_key=KEY, links=PublicLinks(base))) as base:
        yield base


@pytest.mark.slow
def test_static_files_are_versioned_gzipped_kept_a_year_and_mirador_loads_only_with_a_viewer(served):
    http = httpx.Client(base_url=served, timeout=30)
    item = http.get(f"/items/{LIBRARY}/{ITEM}", headers={"accept-encoding": "gzip"})
    assert item.headers["content-encoding"] == "gzip" and "accept-encoding" in item.headers["vary"].lower()
    scripts = re.findall(r'<script src="([^"]+)"', item.text)
    assert scripts == [assets.url(served, name) for name in ("mirador/mirador.min.js", "viewer-words.js", "viewer.js")]
    assert re.search(r"/static/mirador/mirador\.min\.[0-9a-f]{12}\.js$", scripts[0])
    home = http.get("/")
    assert "mirador" not in home.text and "<script" not in home.text  # no viewer, no viewer's code
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', home.text).group(1)
    assert stylesheet == assets.url(served, "site.css")
    for url, name in ((scripts[0], "mirador/mirador.min.js"), (stylesheet, "site.css")):
        raw = http.get(url, headers={"accept-encoding": "gzip"})
        sent = int(raw.headers["content-length"])
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert raw.content == assets.content(name)  # (httpx decodes it)
        assert sent == len(gzip.compress(assets.content(name), 9, mtime=0)) < len(raw.content)
        again = http.get(url, headers={"accept-encoding": "gzip", "if-none-match": raw.headers["etag"]})
        assert again.status_code == 304
        plain = http.get(url, headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == assets.content(name)
    mirador = http.get(scripts[0], headers={"accept-encoding": "gzip"})
    assert int(mirador.headers["content-length"]) < 800_000  # 2.3 MB as sent before
    # the plain name still answers (pages made before), kept a day; an unknown version is missing
    assert http.get("/static/site.css").headers["cache-control"] == "public, max-age=86400"
    assert http.get("/static/site.0123456789ab.css").status_code == 404
    manifest = http.get(f"/iiif/{LIBRARY}/{ITEM}/manifest.json", headers={"accept-encoding": "gzip"})
    assert manifest.headers["content-encoding"] == "gzip" and manifest.json()["type"] == "Manifest"
    image = http.get(f"/iiif/{LIBRARY}/{ITEM}/1/full/200,/0/default.jpg", headers={"accept-encoding": "gzip"})
    assert image.status_code == 200 and "content-encoding" not in image.headers  # JPEG: sent as it is


def open_item(browser, base: str, viewport: dict, lang: str):
    """The item page in a new context, once its first page image is drawn whole: (page, context,
    console errors and page errors, the drawn image's geometry)."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(f"{base}/items/{LIBRARY}/{ITEM}" + ("?lang=en" if lang == "en" else ""))
    drawn = page.wait_for_function(DRAWN, timeout=30_000).json_value()
    return page, context, problems, drawn


@pytest.mark.slow
@pytest.mark.parametrize("device,lang", [("phone", "vi"), ("desktop", "en")])  # (each load costs seconds)
def test_the_viewer_fits_the_window_speaks_the_readers_language_and_logs_no_error(served, browser, device, lang):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    viewport = PHONE if device == "phone" else DESKTOP
    zoom_in, counter = {"vi": ("Phóng to", "Trang 1/2"), "en": ("Zoom in", "Page 1 of 2")}[lang]
    page, context, problems, drawn = open_item(browser, served, viewport, lang)
    # the accessible name as the accessibility tree gives it
    expect(page.get_by_role("button", name=zoom_in, exact=True)).to_have_count(1)
    assert page.locator(".mirador-osd-info").inner_text().strip() == counter
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the page scrolls sideways"
    landmarks = page.evaluate("""() => ({
      h1: [...document.querySelectorAll('h1')].filter(h => h.getAttribute('role') !== 'presentation').length,
      main: document.querySelectorAll('main:not([role]), [role=main]').length,
      banner: document.querySelectorAll('[role=banner], body > header').length})""")
    assert landmarks == {"h1": 1, "main": 1, "banner": 1}, landmarks
    box = page.locator("#viewer").bounding_box()
    if device == "phone":
        assert drawn["images"] == 1  # one page, not a spread
        assert drawn["visibleWidth"] >= 0.9 * viewport["width"], drawn
        # a book's page (A4) would fit the width too: the image's frame is taller than width / A4
        assert drawn["frameHeight"] >= drawn["frameWidth"] / A4, drawn
    else:
        assert box["y"] < 200 and box["height"] >= 0.6 * viewport["height"], box
    page.screenshot(path=str(ARTIFACTS / f"viewer-{device}-{lang}.png"))
    assert serious_accessibility_faults(page) == []
    assert problems == [], problems
    context.close()
