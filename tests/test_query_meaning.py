"""One meaning of a query everywhere (issue 27, point 1): what the collection's search (/search) finds
on a page, the search inside the item (IIIF Content Search, the item page's hit list) finds there
too. Queries taken from the OCR'd stored test items (tests/data/stored/): unquoted words, next to
one another or apart on the page, with and without diacritics, and quoted phrases; through a real
uvicorn app, and a few hits opened in Chromium at a phone's and a desktop's size."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import ARTIFACTS
from digitize.access.iiif.content_search import words as alto_words
from digitize.core.query import parse, tokens
from digitize.core.vietnamese import fold
from digitize.search import index as search
from test_editor import KEY, LIBRARY, stored_ledger

pytestmark = pytest.mark.slow
UNQUOTED, QUOTED, OPENED = 30, 10, 5
JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, {(item, page): the page's printed words}) of the public app serving the stored items."""
    from sqlalchemy.orm import Session

    from digitize.core.links import PublicLinks
    from digitize.ledger import database as ledger
    from digitize.web.app import create_app

    store, url = stored_ledger(tmp_path_factory.mktemp("meaning"), users=False)
    pages = {}
    for item_id in ("HD-DC-0001", "HN-TK-0002"):
        for number in (1, 2):
            alto = store.read_bytes(f"{LIBRARY}/{item_id}/alto/{number:04d}.xml")
            pages[item_id, number] = [w.text for w in alto_words(alto)]
    engine = ledger.open_ledger(url).get_bind()
    with _served(engine, store, KEY, PublicLinks, create_app, Session) as base:
        yield base, pages
    engine.dispose()


class _served:
    """The app on a free port (conftest.uvicorn_server needs its links' base before the app exists)."""

    def __init__(self, engine, store, key, links, create_app, session):
        self.args = engine, store, key, links, create_app, session

    def __enter__(self):
        import threading

        import uvicorn

        from conftest import free_port, wait_for

        engine, store, key, links, create_app, session = self.args
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app = create_app(lambda: session(engine), {}, store_url=store.root.as_uri(), secret_key=key, links=links(base))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 30, "uvicorn to start")
        return base

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def searchable(word: str) -> bool:
    return len(tokens(word)) == 1 and len(tokens(word)[0]) > 1


def queries(pages: dict) -> tuple[list[str], list[str]]:
    """UNQUOTED queries of two to four words of one page (half of them next to one another as
    printed, half apart on the page; a third typed without diacritics) and QUOTED phrases of two or
    three words side by side."""
    rng = random.Random(27)
    keys = sorted(pages)
    unquoted, quoted = [], []
    while len(unquoted) < UNQUOTED:
        printed = pages[rng.choice(keys)]
        size = rng.choice((2, 3, 4))
        page = printed if len(unquoted) % 2 else [w for w in printed if searchable(w)]
        if len(unquoted) % 2:  # side by side as printed
            start = rng.randrange(len(page) - size)
            chosen = page[start:start + size]
            if not all(searchable(w) for w in chosen):
                continue
        else:
            chosen = [page[n] for n in sorted(rng.sample(range(len(page)), size))]
            rng.shuffle(chosen)
        query = " ".join(tokens(w)[0] if not len(unquoted) % 3 else w.strip(".,;:“”()") for w in chosen)
        if query not in unquoted:
            unquoted.append(query if len(unquoted) % 3 else fold(query))
    while len(quoted) < QUOTED:
        page = pages[rng.choice(keys)]
        size = rng.choice((2, 3))
        start = rng.randrange(len(page) - size)
        phrase = '"' + " ".join(w.strip(".,;:“”()") for w in page[start:start + size]) + '"'
        if all(searchable(w) for w in page[start:start + size]) and phrase not in quoted:
            quoted.append(phrase)
    return unquoted, quoted


def test_every_hit_of_the_collection_search_is_found_by_the_search_inside_its_item(served, browser):
    base, pages = served
    unquoted, quoted = queries(pages)
    with httpx.Client(base_url=base, timeout=30) as http:
        opened = []
        checked = 0
        for query in unquoted + quoted:
            answer = http.get("/search", params={"q": query}, headers=JSON)
            assert answer.status_code == 200, query
            hits = answer.json()["hits"]
            assert hits, f"{query!r}: taken from a page, found nowhere"
            parsed = parse(query)
            for hit in hits:
                assert hit["page"] is not None, f"{query!r}: {hit['itemId']} matched by its record alone"
                printed = [t for w in pages[hit["itemId"], hit["page"]] for t in tokens(w)]
                # the collection's page holds the query as the query means it
                assert all(any(printed[n:n + len(unit)] == unit for n in range(len(printed)))
                           for unit in parsed.folded), (query, hit)
                inside = http.get(f"/iiif/{LIBRARY}/{hit['itemId']}/search", params={"q": query}).json()
                canvas = f"{base}/iiif/{LIBRARY}/{hit['itemId']}/canvas/{hit['page']}"
                on_page = [a for a in inside["resources"] if a["on"].split("#")[0] == canvas]
                assert on_page, f"{query!r}: /search lists {hit['itemId']} p. {hit['page']}, its search inside " \
                                f"finds nothing there"
                checked += 1
                if (query in quoted[:2] or query in unquoted[:6:2]) and len(opened) < OPENED:
                    opened.append((query, hit))
                url = urlsplit(hit["url"])
                assert parse_qs(url.query)["q"] == [query] and parse_qs(url.query)["page"] == [str(hit["page"])]
        assert checked >= UNQUOTED + QUOTED
    assert len(opened) == OPENED
    for width, height in ((390, 844), (1280, 800)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            for query, hit in opened:
                page.goto(hit["url"])
                listed = page.locator("#item-hits li a").first
                assert listed.count() == 1, f"{query!r} at {width}px: no hit listed"
                targets = [parse_qs(urlsplit(href).query)["page"][0]
                           for href in page.locator("#item-hits li a:not(.page-image)").evaluate_all(
                               "links => links.map(a => a.href)")]
                assert str(hit["page"]) in targets, (query, targets)
                current = page.locator(f".strip a[aria-current=page][href*=\"page={hit['page']}\"]")
                shown = page.locator("#viewer").get_attribute("data-canvas")
                assert shown == str(hit["page"]), (query, shown)
                assert current.count() == 1
            page.screenshot(path=str(ARTIFACTS / f"query-meaning-{width}.png"))
        finally:
            context.close()
