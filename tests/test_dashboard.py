"""The coordinators' dashboard served by `digitize web`, read in headless Chromium in Vietnamese
and English: the numbers on the page are the ledger's, and secret items are never named (neither
their title nor their id)."""

from __future__ import annotations

import os
import subprocess
import sys

import lxml.html
import pytest

from conftest import ARTIFACTS, free_port, ledger_session, sqlite_url, wait_until_answers
from digitize.access import assets
from digitize.ledger import quota
from digitize.ledger.plans import load_plans
from test_ledger import AS_OF, PROFILES, SECRET_TITLE, populate

SECRET_ID = "HD-TV-rare-5"  # test_ledger.populate's secret item


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    url = sqlite_url(folder / "ledger.sqlite")
    port = free_port()
    with ledger_session(url) as session:
        populate(session, folder)
        server = subprocess.Popen([sys.executable, "-m", "digitize.cli", "web", "--staff", "--port", str(port)],
                                  env={**os.environ, "DIGITIZE_LEDGER": url, "DIGITIZE_DATA": str(folder)})
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_answers(base + "/", 30, process=server)
            yield base, session
        finally:
            server.terminate()
            server.wait(timeout=20)


@pytest.mark.slow
@pytest.mark.parametrize("lang,heading,category", [("vi", "Tiến độ số hóa tài liệu", "Địa chí"),
                                                   ("en", "Digitization progress", "Local history (địa chí)")])
def test_dashboard_shows_the_ledger_figures(served, browser, lang, heading, category):
    base, session = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/?lang={lang}&as_of={AS_OF}&since=2026-06-01")
    assert page.locator("h1").inner_text() == heading
    assert category in page.locator("#progress").inner_text()
    for row in quota.progress(session, load_plans(PROFILES), AS_OF):
        cell = f'[data-library="{row.library}"][data-category="{row.category}"]'
        assert page.locator(f"td.holdings{cell}").inner_text() == str(row.holdings)
        assert page.locator(f"td.stored{cell}").inner_text() == str(row.stored)  # digitized, accepted or not
        assert page.locator(f"td.awaiting{cell}").inner_text() == str(row.awaiting)
        assert page.locator(f"td.accepted{cell}").inner_text() == str(row.digitized)  # what the quota counts
        assert page.locator(f"td.percent{cell}").inner_text() == f"{row.percent:.1f}"
        assert page.locator(f"td.target{cell}").inner_text() == ("" if row.target is None else str(row.target))
    content = page.content()
    assert SECRET_TITLE not in content and SECRET_ID not in content
    assert "HD-TV-rare-4" in page.locator("#items").inner_text()  # an open item of the period is named
    assert ("tài liệu mật" if lang == "vi" else "secret item") in page.locator("#items").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{lang}.png"), full_page=True)
    page.close()


@pytest.mark.slow
def test_dashboard_exports_as_one_static_file(served, tmp_path):
    _, session = served
    from digitize.access import dashboard

    html = dashboard.render(session, load_plans(PROFILES), AS_OF, "vi")
    assert html.startswith("<!doctype html>") and "<svg" in html
    assert SECRET_TITLE not in html and SECRET_ID not in html
    assert "http" not in html.split("<body>")[0]  # no external resources


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ledger")
    with ledger_session(sqlite_url(folder / "ledger.sqlite")) as session:
        populate(session, folder)
        yield session


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_under_staff_the_dashboard_has_the_sites_header_and_no_inline_style(ledger, lang):
    from digitize.access import dashboard, site

    base = "https://thuvien.example.vn/so"
    visit = site.Context(base=base, lang=lang, path="/staff/", query="since=2026-06-01", user="<b>thu thu</b>",
                         csrf="tok&<'\"")
    html = dashboard.render(ledger, load_plans(PROFILES), AS_OF, lang, since=AS_OF.replace(day=1), context=visit)
    tree = lxml.html.document_fromstring(html)
    assert tree.get("lang") == lang
    assert not tree.xpath("//style | //*[@style] | //script")  # the site's Content-Security-Policy
    assert tree.xpath('//link[@rel="stylesheet"]/@href') == [f"{base}/static/site.{assets.tag('site.css')[:12]}.css"]
    assert tree.xpath('//a[@class="skip"]/@href') == ["#content"]
    assert tree.xpath("//header[@class='site-header']") and tree.xpath("//footer[@class='site-footer']")
    assert tree.xpath("//main[@id='content']//table[@id='progress']") and tree.xpath("//main//svg")
    assert tree.xpath("string(//*[@class='user']/strong)") == "<b>thu thu</b>"
    assert tree.xpath('//form[@class="sign-out"]//input[@name="csrf"]/@value') == ["tok&<'\""]
    other = "en" if lang == "vi" else "vi"
    assert tree.xpath('//a[@id="language-switch"]/@href') == [f"{base}/staff/?since=2026-06-01&lang={other}"]
    assert SECRET_TITLE not in html and SECRET_ID not in html
    alone = lxml.html.document_fromstring(dashboard.render(ledger, load_plans(PROFILES), AS_OF, lang,
                                                           since=AS_OF.replace(day=1)))
    assert tree.xpath('//main/nav[@class="staff-nav"]//a/@href')[0] == f"{base}/staff/" + ("?lang=en" if lang == "en" else "")
    assert alone.xpath("string(//main)") == tree.xpath("string(//main)").replace(
        tree.xpath("string(//main/nav)"), "", 1).replace(
        tree.xpath("string(//main/p[1])"), alone.xpath("string(//main/p[1])"))  # the same figures
    assert ".dashboard td" in alone.xpath("string(//style)") and not alone.xpath("//link | //header | //script")
