"""Review and acceptance, the core of issue 26: an item a run stores is in review with its risk; a
reviewer accepts or returns it (every change an event with who, when and why); the library's rule
may accept it at once; quotas count only accepted items; roles decide who may do what on the web
(403 otherwise), every form carries its CSRF token; the queue puts the riskiest first; the same from
the command line. Items stored before review existed (migration 0009) wait in the queue."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from conftest import (ARTIFACTS, copy_stored_items, ledger_session, serious_accessibility_faults, sqlite_url,
                      stored_records)
from digitize.core.links import PublicLinks
from digitize.core.models import Access, Category, ItemMetadata, ItemResult, PageRecord
from digitize.core.profiles import LibraryDeclaration, get_profile
from digitize.core.settings import PACKAGED_PROFILES
from digitize.ledger import accounts, database as ledger, holdings, quota, review
from digitize.ledger.plans import load_plans
from digitize.review import arrival, queue

KEY = b"r" * 32
PASSWORD = "mật khẩu đủ dài 12"
BATCH = "/srv/inbox/lo-2026-07"


def page(number: int, not_syllables: float | None = 0.01, confidence: float | None = 92.0, words: int = 200):
    return PageRecord(number=number, source=f"{number:04d}.tif", source_sha256="0" * 64, width=1000, height=1400,
                      dpi=300, mode="grey", orientation=0, skew=0.0, crop=(0, 0, 1000, 1400), confidence=confidence,
                      words=words, not_syllables=not_syllables, text_file=f"text/{number:04d}.txt",
                      alto_file=f"alto/{number:04d}.xml", image_file=f"images/{number:04d}.jpg", timings={}, tools={})


def store_items(session, items, batch=BATCH, libraries=None, stored_url="file:///store", store: Path | None = None):
    """Record a run of ``items`` (item id, profile, access, page records) in library HD-TV, as
    the engine does: the run, then each item put in review. ``store``: a folder store given
    their METS (stored_records) where it has none yet."""
    moment = datetime.now(timezone.utc)
    done = []
    for item_id, _, access, pages in items:
        if store is not None and not (store / "HD-TV" / item_id / "mets.xml").exists():
            stored_records(store, "HD-TV", item_id)
        meta = ItemMetadata(id=item_id, title=f"Sách {item_id}", library="HD-TV", call_number=item_id,
                            category=Category.dia_chi, access=access)
        done.append((meta, ItemResult(item_id=item_id, library="HD-TV", status="ok", pages=len(pages),
                                      stored=f"{stored_url}/HD-TV/{item_id}"), None))
    ledger.record_run(session, batch, moment, moment, done)
    return arrival.record_arrivals(session, [
        arrival.Arrival("HD-TV", item_id, get_profile(PACKAGED_PROFILES, profile), pages)
        for item_id, profile, _, pages in items], libraries or {})


def register(session, tmp_path, ids):
    library = holdings.ensure_library(session, "HD-TV", "Thư viện tỉnh Hải Dương", "hai-duong", "provincial")
    register = tmp_path / "register.csv"
    register.write_text("call_number,title,category\n" + "".join(f"{i},Sách {i},dia_chi\n" for i in ids),
                        encoding="utf-8")
    holdings.import_file(session, register, library, PACKAGED_PROFILES)


def accepted_count(session) -> tuple[int, int, int]:
    [row] = [r for r in quota.progress(session, load_plans(PACKAGED_PROFILES), date.today(), library="HD-TV")
             if r.category == "dia_chi"]
    return row.stored, row.awaiting, row.digitized


# ---- the ledger -------------------------------------------------------------------------------

def test_an_item_stored_waits_for_review_and_counts_only_once_accepted(tmp_path):
    with ledger_session(sqlite_url(tmp_path / "l.sqlite")) as session:
        register(session, tmp_path, ["HD-A", "HD-B"])
        events = store_items(session, [("HD-A", "quoc-ngu-modern", Access.open, [page(1), page(2, 0.4, 61.0)]),
                                        ("HD-B", "quoc-ngu-modern", Access.open, [page(1)])])
        assert [e.action for e in events] == ["digitized", "digitized"]
        item = review.find(session, "HD-TV", "HD-A")
        assert item.review_state == "in_review" and item.acceptance_rule == "review"
        assert item.review_risk["flagged_pages"] == [2] and item.review_risk["han_nom"] is False
        assert item.review_risk["not_syllables"] == pytest.approx((0.01 * 200 + 0.4 * 200) / 400, abs=1e-4)
        assert review.page_states(session, item)[2].state == "flagged"
        assert accepted_count(session) == (2, 2, 0)  # digitized, awaiting review, accepted

        with pytest.raises(review.ReviewRefused, match="needs its reason"):
            review.return_item(session, item, "lan", "  ")
        with pytest.raises(review.ReviewRefused, match="has no page 7"):
            review.return_item(session, item, "lan", "mờ", [7], "rescan")
        review.accept(session, item, "lan")
        assert accepted_count(session) == (2, 1, 1)
        with pytest.raises(review.ReviewRefused, match="not in review"):
            review.accept(session, item, "lan")  # twice: refused, nothing recorded
        review.return_item(session, item, "minh", "trang 2 mờ", [2], "rescan")
        assert accepted_count(session) == (2, 1, 0)  # returned: no longer counted
        with pytest.raises(review.ReviewRefused, match="not in review"):
            review.accept(session, item, "lan")
        history = review.history(session, item)
        assert [(e.action, e.actor, e.state_from, e.state_to) for e in history] == [
            ("digitized", "digitize", "in_review", "in_review"), ("accepted", "lan", "in_review", "accepted"),
            ("returned", "minh", "accepted", "returned")]
        assert (history[-1].reason, history[-1].pages, history[-1].detail) == ("trang 2 mờ", [2], {"kind": "rescan"})

        store_items(session, [("HD-A", "quoc-ngu-modern", Access.open, [page(1), page(2)])])  # run again
        assert (item.review_state, review.history(session, item)[-1].action) == ("in_review", "reopened")
        assert item.review_risk["flagged_pages"] == []


def test_the_automatic_rule_accepts_clean_items_but_never_flagged_or_han_nom_ones(tmp_path):
    rules = {"HD-TV": LibraryDeclaration(acceptance="automatic", acceptance_per_profile={"han-nom": "automatic",
                                                                                         "quoc-ngu-old": "sample"})}
    with ledger_session(sqlite_url(tmp_path / "l.sqlite")) as session:
        register(session, tmp_path, ["C", "F", "H", "S"])
        store_items(session, [("C", "quoc-ngu-modern", Access.open, [page(1)]),
                              ("F", "quoc-ngu-modern", Access.open, [page(1, 0.3)]),
                              ("H", "han-nom", Access.open, [page(1, None, 40.0)]),
                              ("S", "quoc-ngu-old", Access.open, [page(1)])], libraries=rules)
        found = {i: review.find(session, "HD-TV", i) for i in "CFHS"}
        assert (found["C"].review_state, found["C"].accepted_by, found["C"].acceptance_rule) == (
            "accepted", "digitize", "automatic")
        assert [e.action for e in review.history(session, found["C"])] == ["digitized", "accepted"]
        assert found["F"].review_state == "in_review"  # a page flagged
        assert (found["H"].review_state, found["H"].acceptance_rule) == ("in_review", "review")  # Hán-Nôm: always
        assert (found["S"].review_state, found["S"].acceptance_rule) == ("in_review", "sample")
        assert accepted_count(session) == (4, 3, 1)
        assert [r.item_id for r in queue.rows(session)][0] == "H"  # the riskiest first


def test_items_stored_before_review_existed_wait_in_the_queue_after_the_migration(tmp_path):
    from alembic import command
    from alembic.config import Config

    url = sqlite_url(tmp_path / "old.sqlite")
    config = Config()
    config.set_main_option("script_location", str(ledger.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0008")
    engine = ledger.create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO libraries (code, name, province, tier) VALUES "
                                "('HD-TV', 'Thư viện tỉnh Hải Dương', 'hai-duong', 'provincial')"))
        connection.execute(text("INSERT INTO items (library, item_id, title, category, access, call_number, "
                                "control_number, status, pages, stored, digitized) VALUES ('HD-TV', 'OLD-1', 'Cũ', "
                                "'dia_chi', 'open', '', '', 'ok', 3, 's', '2025-01-02 00:00:00')"))
    engine.dispose()
    with ledger_session(url) as session:  # opened by a newer digitize: migrated
        item = review.find(session, "HD-TV", "OLD-1")
        assert item.review_state == "in_review"
        assert [(e.action, e.actor, e.state_to) for e in review.history(session, item)] == [
            ("migrated", "digitize", "in_review")]
        assert [(r.item_id, r.state) for r in queue.rows(session)] == [("OLD-1", "in_review")]
        review.accept(session, item, "lan")
        assert queue.rows(session) == []


# ---- the staff area ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def staff_app(tmp_path_factory):
    """The public app on a ledger with three items of one batch in review (one with page 2 flagged,
    one Hán-Nôm, one secret), and the stored files of the first two; one account per role."""
    from digitize.web.app import create_app

    folder = tmp_path_factory.mktemp("review")
    stored = copy_stored_items(folder / "stored")
    url = sqlite_url(folder / "ledger.sqlite")
    with ledger_session(url) as session:
        register(session, folder, ["HD-DC-0001", "HN-TK-0002", "HD-SECRET-0003", "HD-CLEAN-0004"])
        store_items(session, [("HD-DC-0001", "quoc-ngu-modern", Access.open, [page(1), page(2, 0.3, 70.0)]),
                              ("HN-TK-0002", "han-nom", Access.open, [page(1, None, 50.0), page(2, None, 45.0)]),
                              ("HD-SECRET-0003", "quoc-ngu-modern", Access.secret, [page(1)]),
                              ("HD-CLEAN-0004", "quoc-ngu-modern", Access.restricted, [page(1)])],
                    stored_url=stored.recorded, store=stored.store)
        for name, roles in (("quan.tri", ["administrator"]), ("lan.duyet", ["reviewer"]),
                            ("minh.dieuphoi", ["coordinator"])):
            accounts.add_user(session, name, PASSWORD, roles=roles)
        engine = session.get_bind()

        def app(base: str = "http://testserver"):
            return create_app(lambda: Session(engine), load_plans(PACKAGED_PROFILES),
                              store_url=stored.store.as_uri(), secret_key=KEY, links=PublicLinks(base))
        yield app, session


def signed_in(app, name: str):
    """A client of the app signed in as ``name``, and the CSRF token of its session."""
    from starlette.testclient import TestClient

    client = TestClient(app(), follow_redirects=False)
    form = client.get("/staff/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert client.post("/staff/login", data={"name": name, "password": PASSWORD, "csrf": token}).status_code == 303
    return client, re.search(r'name="csrf" value="([^"]+)"', client.get("/staff/review").text).group(1)


@pytest.mark.slow  # argon2 hashes and sign-ins: several seconds on 2 shared cores
def test_only_a_reviewer_accepts_with_the_form_token_and_only_an_administrator_manages_roles(staff_app):
    app, session = staff_app
    from starlette.testclient import TestClient

    anonymous = TestClient(app(), follow_redirects=False).get("/staff/review")
    assert anonymous.status_code == 303 and "/staff/login?next=/staff/review" in anonymous.headers["location"]
    accept = "/staff/review/HD-TV/HD-DC-0001/accept"
    coordinator, token = signed_in(app, "minh.dieuphoi")
    assert coordinator.get("/staff/review/HD-TV/HD-DC-0001").status_code == 200  # sees it
    assert coordinator.post(accept, data={"csrf": token}).status_code == 403
    reviewer, token = signed_in(app, "lan.duyet")
    assert reviewer.post(accept, data={}).status_code == 403  # no CSRF token: refused
    assert reviewer.post(accept, data={"csrf": "x" + token[1:]}).status_code == 403
    item = review.find(session, "HD-TV", "HD-DC-0001")
    session.refresh(item)
    assert item.review_state == "in_review"
    assert reviewer.get("/staff/users").status_code == 403
    assert reviewer.post("/staff/users/lan.duyet/roles", data={"csrf": token, "role": "administrator"}
                         ).status_code == 403

    done = reviewer.post(accept, data={"csrf": token})
    assert done.status_code == 303 and done.headers["location"].endswith("/staff/review/HD-TV/HD-DC-0001?done=accepted")
    session.refresh(item)
    assert (item.review_state, item.accepted_by, item.acceptance_rule) == ("accepted", "lan.duyet", "review")
    shown = reviewer.get("/staff/review/HD-TV/HD-DC-0001?lang=en").text
    assert "lan.duyet" in shown and "accepted" in shown.lower()
    again = reviewer.post(accept + "?lang=en", data={"csrf": token})  # accepted already: said, nothing changes
    assert again.status_code == 409 and "is not in review (accepted)" in again.text

    administrator, token = signed_in(app, "quan.tri")
    users = administrator.get("/staff/users")
    assert users.status_code == 200 and "minh.dieuphoi" in users.text
    assert administrator.post("/staff/users/minh.dieuphoi/roles", data={"role": "reviewer"}).status_code == 403
    changed = administrator.post("/staff/users/minh.dieuphoi/roles", content=(
        f"csrf={token}&role=coordinator&role=reviewer").encode(),
        headers={"content-type": "application/x-www-form-urlencoded"})
    assert changed.status_code == 303
    assert accounts.roles_of(accounts.find_user(session, "minh.dieuphoi")) == {"coordinator", "reviewer"}
    session.expire_all()


@pytest.mark.slow  # argon2 hashes and sign-ins: several seconds on 2 shared cores
def test_the_queue_lists_the_riskiest_first_returns_with_reasons_and_accepts_clean_batches(staff_app):
    app, session = staff_app
    reviewer, token = signed_in(app, "lan.duyet")
    listed = reviewer.get("/staff/review?state=all").text
    order = [m for m in re.findall(r'data-item="HD-TV/([^"]+)"', listed)]
    assert order[0] == "HN-TK-0002"  # Hán-Nôm first
    assert "HD-SECRET-0003" in order  # staff see secret items here
    assert TestClientGet(app, "/items/HD-TV/HD-SECRET-0003") == 404  # and nothing public changes
    returned = reviewer.post("/staff/review/HD-TV/HN-TK-0002/return",
                             data={"csrf": token, "kind": "rescan", "pages": "2", "reason": "trang 2 bị mờ"})
    assert returned.status_code == 303
    item = review.find(session, "HD-TV", "HN-TK-0002")
    session.refresh(item)
    assert item.review_state == "returned"
    assert review.history(session, item)[-1].pages == [2]
    assert reviewer.post("/staff/review/HD-TV/HD-SECRET-0003/return",
                         data={"csrf": token, "kind": "rescan", "reason": "x"}).status_code == 409  # no pages
    bulk = reviewer.post("/staff/review/accept-batch", data={"csrf": token, "batch": "lo-2026-07"})
    assert bulk.status_code == 303
    session.expire_all()
    states = {r.item_id: r.state for r in queue.rows(session, queue.Filters(state=None))}
    assert states["HD-SECRET-0003"] == states["HD-CLEAN-0004"] == "accepted"
    page = reviewer.get("/staff/review/HD-TV/HD-DC-0001").text
    assert 'href="http://testserver/staff/review/HD-TV/HD-DC-0001/pages/2"' in page
    assert re.search(r'<li class="flagged"><a href="[^"]+/pages/2"', page)


def TestClientGet(app, path: str) -> int:
    from starlette.testclient import TestClient

    return TestClient(app(), follow_redirects=False).get(path).status_code


# ---- the command line -------------------------------------------------------------------------

@pytest.mark.slow  # argon2 hashes and sign-ins: several seconds on 2 shared cores
def test_review_list_accept_and_return_from_the_command_line(tmp_path, monkeypatch):
    from digitize.cli.app import app

    url = sqlite_url(tmp_path / "l.sqlite")
    monkeypatch.setenv("DIGITIZE_LEDGER", url)
    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path))
    with ledger_session(url) as session:
        register(session, tmp_path, ["A-1", "A-2", "A-3"])
        store_items(session, [("A-1", "quoc-ngu-modern", Access.open, [page(1), page(2, 0.5)]),
                              ("A-2", "quoc-ngu-modern", Access.open, [page(1)]),
                              ("A-3", "quoc-ngu-modern", Access.open, [page(1)])],
                    stored_url=(tmp_path / "store").as_uri(), store=tmp_path / "store")
    runner = CliRunner()

    def digitize(*args, stdin=None):
        return runner.invoke(app, list(args), input=stdin, env={"COLUMNS": "200", "DIGITIZE_LANG": "en"})

    assert digitize("user", "add", "lan", "--role", "reviewer", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    assert digitize("user", "add", "minh", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    listed = digitize("user", "list").output
    assert re.search(r"lan\s.*reviewer", listed) and re.search(r"minh\s.*coordinator", listed)
    shown = digitize("review", "list", "--library", "HD-TV")
    assert shown.exit_code == 0
    assert shown.output.index("A-1") < shown.output.index("A-2")  # flagged first
    refused = digitize("review", "accept", "HD-TV/A-2", "--reviewer", "minh")
    assert refused.exit_code == 2, refused.output  # a coordinator: a wrong command line
    assert digitize("review", "accept", "A-2", "--reviewer", "nobody").exit_code == 2
    assert digitize("review", "accept", "A-2", "--reviewer", "lan").exit_code == 0
    bulk = digitize("review", "accept", "--batch", "lo-2026-07", "--reviewer", "lan")
    assert bulk.exit_code == 0 and "HD-TV/A-3" in bulk.output and "pages 2 are flagged" in bulk.output
    returned = digitize("review", "return", "A-1", "--reviewer", "lan", "--reason", "trang 2 mờ", "--pages", "2")
    assert returned.exit_code == 0, returned.output
    assert digitize("review", "return", "A-1", "--reviewer", "lan", "--reason", "x").exit_code == 65  # returned already
    assert digitize("user", "roles", "minh", "--add", "reviewer").exit_code == 0
    states = digitize("review", "list", "--state", "all").output
    assert re.search(r"A-1\s+returned", states) and re.search(r"A-2\s+accepted", states)
    with ledger_session(url) as session:
        assert review.history(session, review.find(session, "HD-TV", "A-1"))[-1].detail == {"kind": "rescan"}
        assert accepted_count(session) == (3, 0, 2)


# ---- in a browser -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(staff_app):
    """The app served by uvicorn on a port of its own, its public address that port's."""
    from conftest import uvicorn_server

    make_app, _ = staff_app
    with uvicorn_server(for_base=make_app) as base:
        yield base


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("device,viewport", [("phone", {"width": 390, "height": 844}),
                                             ("desktop", {"width": 1280, "height": 800})])
def test_the_queue_and_an_item_in_review_in_chromium_pass_axe(site, browser, lang, device, viewport):
    base = site
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{base}/staff/login?next=/staff/review")
    page.fill("#name", "lan.duyet")
    page.fill("#password", PASSWORD)
    page.click("form.sign-in button")
    page.wait_for_url(f"{base}/staff/review")
    page.goto(f"{base}/staff/review?state=all&lang={lang}")
    assert page.locator("h1").inner_text() == ("Hàng chờ duyệt" if lang == "vi" else "Review queue")
    assert page.locator("#queue tbody tr").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in (("queue", f"/staff/review?state=all&lang={lang}"),
                       ("item", f"/staff/review/HD-TV/HD-DC-0001?lang={lang}")):
        page.goto(base + path)
        page.screenshot(path=str(ARTIFACTS / f"review-{name}-{device}-{lang}.png"), full_page=True)
        wide = page.evaluate("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
                             f"{viewport['width']} && !e.closest('.table-scroll')).map(e => e.tagName + '.' + e.className)")
        # nothing wider than the screen but the queue's table, which scrolls in its own box
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (name, wide)
        assert serious_accessibility_faults(page) == []
        page.screenshot(path=str(ARTIFACTS / f"review-{name}-{device}-{lang}.png"), full_page=True)
    context.close()
