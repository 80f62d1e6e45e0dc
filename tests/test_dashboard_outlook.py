"""The coordinators' dashboard inside the site answers "by when" and gives the report away: on a
fixed day (30/06/2026, after the plans' deadline of 31/12/2025) a plan projected later is flagged
late by so many months, with the items still missing; a coordinator signed in downloads the CSV and
XLSX from the dashboard, in Vietnamese or English words, with the figures `digitize quota` prints; a
reviewer is refused them. The dashboard and the sign-in page, read in headless Chromium at a phone's
and a desktop's size in both languages, have no serious accessibility fault and no sideways
scrolling."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from datetime import date

import httpx
import pytest

from conftest import ARTIFACTS, ledger_session, run_cli, serious_accessibility_faults, sqlite_url, uvicorn_server
from digitize.ledger import outlook, quota
from digitize.ledger.plans import load_plans
from test_ledger import AS_OF, HEADERS_EN, HEADERS_VI, LIBRARY_NAMES, PROFILES, SECRET_TITLE, populate, without_codes

COORDINATOR, REVIEWER, PASSWORD = "mai.dieuphoi", "lan.duyet", "mật khẩu đủ dài 2026"
CATEGORIES_VI = {"dia_chi": "Địa chí", "rare": "Cổ, quý hiếm, có giá trị đặc biệt", "other": "Khác"}
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outlook")
    with ledger_session(sqlite_url(folder / "ledger.sqlite")) as session:
        populate(session, folder)
        yield session


def test_months_after_the_deadline_count_a_month_begun():
    deadline = date(2025, 12, 31)
    assert [outlook.months_after(deadline, day) for day in (
        date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1), date(2027, 3, 27))] == [0, 1, 1, 2, 15]
    assert outlook.months_after(date(2025, 6, 15), date(2025, 7, 16)) == 2


def test_a_plan_projected_after_its_deadline_is_late_and_one_before_it_on_track(ledger):
    plans = load_plans(PROFILES)
    rows = {(r.library, r.category): r for r in quota.progress(ledger, plans, AS_OF)}
    dia_chi = rows[("HD-TV", "dia_chi")]  # 4 of 10 accepted, 100 % asked: at this pace on 27/03/2027
    late = outlook.outlook(dia_chi, plans["hai-duong"])
    assert (late.state, late.months_late, late.missing) == (outlook.LATE, 15, 6)
    assert (late.deadline, late.horizon, late.within_horizon) == (date(2025, 12, 31), date(2030, 12, 31), True)
    later = plans["hai-duong"].model_copy(update={"deadline": date(2027, 6, 30)})
    assert outlook.outlook(dia_chi, later).state == outlook.ON_TRACK
    assert outlook.outlook(rows[("VP-LT", "rare")], plans["vinh-phuc"]).state == outlook.MET  # 5 of 10, 50 %
    assert outlook.outlook(rows[("HD-TV", "other")], plans["hai-duong"]).state == outlook.NO_TARGET
    totals = {(t.province, t.category): t for t in outlook.province_totals(list(rows.values()), plans)}
    assert (totals[("hai-duong", None)].holdings, totals[("hai-duong", None)].accepted,
            totals[("hai-duong", None)].missing) == (34, 10, 6 + 8)  # rare: 14 of 20 asked, 6 accepted
    assert totals[("hai-duong", None)].name == "Hải Dương"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The reading service on populate's ledger, its day fixed at 30/06/2026, with a coordinator
    and a reviewer; and what `digitize quota` printed of the same ledger: (base URL, quota lines)."""
    from sqlalchemy.orm import Session

    from digitize.core.links import PublicLinks
    from digitize.ledger import accounts
    from digitize.web.app import create_app

    data = tmp_path_factory.mktemp("dashboard")
    with ledger_session(sqlite_url(data / "ledger.sqlite")) as session:
        populate(session, data)
        accounts.add_user(session, COORDINATOR, PASSWORD, roles=["coordinator"])
        accounts.add_user(session, REVIEWER, PASSWORD, roles=["reviewer"])
        printed = run_cli("quota", data=str(data))
        assert printed.returncode == 0, printed.stderr
        engine = session.get_bind()
        with uvicorn_server(for_base=lambda base: create_app(
                lambda: Session(engine), load_plans(PROFILES), store_url=(data / "store").as_uri(),
                secret_key=b"d" * 32, links=PublicLinks(base), today=lambda: AS_OF)) as base:
            yield base, [line.split("\t") for line in printed.stdout.splitlines()
                         if line.count("\t") >= 10 and line.split("\t")[3].isdigit()]


@contextlib.contextmanager
def signed_in(base: str, name: str):
    """An HTTP client signed in as ``name``."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/staff/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert client.post("/staff/login", data={"name": name, "password": PASSWORD, "csrf": token}).status_code == 303
        yield client


def sign_in_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/staff/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.sign-in button[type=submit], main form button[type=submit]")
    page.wait_for_url(f"{base}/staff/")


@pytest.mark.slow
def test_a_coordinator_downloads_the_report_from_the_dashboard_with_quotas_figures(site, browser, tmp_path):
    base, printed = site
    # what `digitize quota` printed: province, library, category, holdings, digitized, awaiting, accepted, pages, %, target
    expected = {(LIBRARY_NAMES[line[1]], CATEGORIES_VI[line[2]]): (int(line[3]), int(line[6]), int(line[7]),
                                                                    float(line[8]), None if line[9] == "-" else int(line[9]))
                for line in printed}
    assert len(expected) == 4
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    sign_in_in(page, base, COORDINATOR)
    files = {}
    for kind in ("csv", "xlsx"):  # the first half of 2026: the half-year of the dashboard's day
        link = page.locator(f"#report li:first-child a.{kind}")
        assert "6 tháng đầu năm 2026" in page.locator("#report li:first-child").inner_text()
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == f"bao-cao-so-hoa-2026-H1.{kind}"
        download.value.save_as(tmp_path / f"report.{kind}")
        files[kind] = (tmp_path / f"report.{kind}").read_bytes()
    context.close()

    assert files["csv"].startswith(b"\xef\xbb\xbf")
    header, *lines = list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig"))))
    assert header == ["Kỳ báo cáo", *HEADERS_VI]
    assert {(line[2], line[4]): (int(line[5]), int(line[7]), int(line[8]), float(line[9]),
                                 int(line[10]) if line[10] else None) for line in lines} == expected
    without_codes([*header, *(cell for line in lines for cell in line)])

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(files["xlsx"])).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_row = sheet[sheet.freeze_panes].row - 2
    assert rows[header_row] == HEADERS_VI
    found = {(r[1], r[3]): (r[4], r[6], r[7], r[8], r[9]) for r in rows[header_row + 1:-1]}
    assert found == expected
    without_codes([cell for row in rows for cell in row])
    for contents in files.values():
        assert SECRET_TITLE.encode() not in contents

    with signed_in(base, COORDINATOR) as coordinator:  # in English with ?lang=en
        english = coordinator.get("/staff/report.csv", params={"lang": "en", "period": "2026"})
        assert english.status_code == 200 and english.headers["content-type"].startswith("text/csv")
        assert english.headers["cache-control"] == "private, no-store"
        assert english.content.decode("utf-8-sig").splitlines()[0] == ",".join(["Reporting period", *HEADERS_EN])
        assert coordinator.get("/staff/report.csv", params={"period": "2026-H3"}).status_code == 404


@pytest.mark.slow
def test_a_reviewer_is_refused_the_report_and_a_stranger_sent_to_sign_in(site):
    base, _ = site
    with signed_in(base, REVIEWER) as reviewer:
        for kind in ("csv", "xlsx"):
            refused = reviewer.get(f"/staff/report.{kind}")
            assert refused.status_code == 403 and "điều phối viên" in refused.text
        dashboard = reviewer.get("/staff/")
        assert dashboard.status_code == 200 and 'id="report"' not in dashboard.text  # no links it cannot follow
    stranger = httpx.get(f"{base}/staff/report.xlsx", params={"period": "2026"})
    assert stranger.status_code == 303
    assert stranger.headers["location"] == f"{base}/staff/login?next=%2Fstaff%2Freport.xlsx%3Fperiod%3D2026"
    assert httpx.get(f"{base}/staff/report").headers["location"] == f"{base}/staff/#report"


def no_sideways_scrolling(page) -> None:
    wider = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right
        > window.innerWidth + 0.5 && !e.closest('.figures')).slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (page.url, wider)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_dashboard_and_the_sign_in_page_on_a_phone_and_a_desktop(site, browser, lang):
    base, _ = site
    late, missing = ("Chậm 15 tháng", "Còn thiếu 6 tài liệu") if lang == "vi" else ("Late by 15 months",
                                                                                  "6 items still missing")
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        anonymous = browser.new_page(viewport=viewport)
        anonymous.goto(f"{base}/staff/login?lang={lang}")
        assert serious_accessibility_faults(anonymous) == []
        no_sideways_scrolling(anonymous)
        anonymous.screenshot(path=str(ARTIFACTS / f"sign-in-{size}-{lang}.png"), full_page=True)
        anonymous.close()

        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        sign_in_in(page, base, COORDINATOR)
        page.goto(f"{base}/staff/?lang={lang}")
        card = page.locator('.plan[data-library="HD-TV"][data-category="dia_chi"]')
        assert card.locator(".flag").inner_text().startswith(late)
        assert card.locator(".missing").inner_text() == missing
        assert card.locator(".deadline").inner_text() == "31/12/2025"
        assert card.locator(".horizon").inner_text() == "31/12/2030"
        assert card.locator(".projected").inner_text() == "27/03/2027"
        assert page.locator('.plan[data-library="VP-LT"] .flag').inner_text() == (
            "Đã đạt chỉ tiêu" if lang == "vi" else "Target met")
        assert page.locator("#provinces tr.total").first.inner_text().split("\t")[0] == "Hải Dương"
        assert page.locator("form.sign-out button").is_visible() and page.locator("#staff-link").is_visible()
        chart = page.locator("svg.monthly").first
        assert chart.get_attribute("aria-label").endswith("06/2025 – 06/2026")
        labels = chart.locator("text").all_text_contents()  # month and year under the bars
        assert labels[:2] == ["06", "2025"] and "2026" in labels and "12" in labels
        assert page.locator("table.monthly").first.locator("tr").count() == 14  # a header and 13 months
        assert serious_accessibility_faults(page) == []
        no_sideways_scrolling(page)
        page.screenshot(path=str(ARTIFACTS / f"staff-dashboard-{size}-{lang}.png"), full_page=True)
        context.close()
