"""The quota ledger on SQLite and on a real PostgreSQL: holdings import, progress figures checked
against hand computation, the periodic report, and secret items kept out of everything public."""

from __future__ import annotations

import csv
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pymarc import Field, Indicators, Record, Subfield

from conftest import invoke_cli, ledger_session, run_cli, sqlite_url
from digitize.ledger import holdings, database as ledger, quota, review
from digitize.ledger.database import Holding, Item
from digitize.core.errors import BadInput, ExitCode
from digitize.core.models import Access, BatchSummary, Category, ItemMetadata, ItemResult
from digitize.ledger.plans import load_plans
from digitize.core.settings import PACKAGED_PROFILES

PROFILES = PACKAGED_PROFILES
AS_OF = date(2026, 6, 30)
SECRET_TITLE = "Hồ sơ mật số 7"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def session(request, tmp_path):
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "ledger.sqlite")
    else:
        url = request.getfixturevalue("postgres").new_database("ledger")
    with ledger_session(url) as opened:
        yield opened


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["library", "call_number", "control_number", "title", "creator", "date",
                                         "category"])
        writer.writeheader()
        writer.writerows(rows)
    return path


LIBRARY_NAMES = {"HD-TV": "Thư viện tỉnh Hải Dương", "VP-LT": "Thư viện huyện Lập Thạch"}


def register(session, tmp_path, code, province, tier, counts: dict[str, int]) -> None:
    library = holdings.ensure_library(session, code, LIBRARY_NAMES.get(code, f"Thư viện {code}"), province, tier)
    rows = [{"library": code, "call_number": f"{code}-{category}-{n:03d}", "control_number": "",
             "title": f"Sách {category} {n}", "category": category}
            for category, count in counts.items() for n in range(count)]
    holdings.import_file(session, write_csv(tmp_path / f"{code}.csv", rows), library, PROFILES)


def digitize(session, library, category, number, when: date, status="ok", access=Access.open, title=None):
    meta = ItemMetadata(id=f"{library}-{category}-{number}", title=title or f"Sách {category} {number}",
                        library=library, call_number=f"{library}-{category}-{number:03d}",
                        category=Category(category), access=access)
    result = ItemResult(item_id=meta.id, library=library, status=status, pages=10, stored="s3://x")
    moment = datetime.combine(when, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=10)
    notes = ledger.record_run(session, "batch", moment, moment, [(meta, result, None)])
    if status == "ok":  # the quota counts accepted items: accepted the day it was digitized
        review.accept(session, review.find(session, library, meta.id), "lan.reviewer", at=moment)
    return notes


@pytest.fixture
def fixture_ledger(session, tmp_path):
    return populate(session, tmp_path)


def populate(session, tmp_path):
    """Hải Dương provincial library: 10 địa chí, 20 rare, 4 other; Vĩnh Phúc district: 10 rare."""
    register(session, tmp_path, "HD-TV", "hai-duong", "provincial", {"dia_chi": 10, "rare": 20, "other": 4})
    register(session, tmp_path, "VP-LT", "vinh-phuc", "district", {"rare": 10})
    for number, day in enumerate([date(2026, 1, 15), date(2026, 3, 10), date(2026, 5, 20), date(2026, 6, 10)]):
        digitize(session, "HD-TV", "dia_chi", number, day)
    for number, day in enumerate([date(2025, 12, 1), date(2025, 12, 1), date(2026, 4, 15), date(2026, 5, 1),
                                  date(2026, 6, 1), date(2026, 6, 30)]):
        digitize(session, "HD-TV", "rare", number, day, access=Access.secret if number == 5 else Access.open,
                 title=SECRET_TITLE if number == 5 else None)
    digitize(session, "HD-TV", "rare", 7, date(2026, 6, 20), status="waiting")  # not stored yet: not counted
    for number in range(5):
        digitize(session, "VP-LT", "rare", number, date(2025, 11, 1))
    return session


def rows_by(rows):
    return {(r.library, r.category): r for r in rows}


def test_progress_figures_equal_hand_computation(fixture_ledger):
    rows = rows_by(quota.progress(fixture_ledger, load_plans(PROFILES), AS_OF))
    dia_chi = rows[("HD-TV", "dia_chi")]
    # 4 of 10 digitized; the plan asks 100 % of địa chí at the provincial library
    assert (dia_chi.holdings, dia_chi.digitized, dia_chi.pages) == (10, 4, 40)
    assert dia_chi.percent == 40.0 and dia_chi.target == 100 and dia_chi.met is False
    # 2 items in the 90 days before 30/06/2026 (20/05 and 10/06): 2 / (90 / 30.4375) a month
    assert dia_chi.pace == round(2 / (90 / 30.4375), 2) == 0.68
    # 6 still to do at 2 per 90 days: 270 days after 30/06/2026
    assert dia_chi.projected == date(2027, 3, 27)

    rare = rows[("HD-TV", "rare")]
    # 6 stored of 20 (the secret one counts; the one waiting for storage does not): 30 % of a 70 % target
    assert (rare.holdings, rare.digitized, rare.percent, rare.target, rare.met) == (20, 6, 30.0, 70, False)
    assert rare.pace == round(4 / (90 / 30.4375), 2) == 1.35  # 15/04, 01/05, 01/06, 30/06
    assert rare.projected == date(2026, 12, 27)  # 14 needed - 6 = 8 at 4 per 90 days: 180 days

    other = rows[("HD-TV", "other")]
    assert (other.holdings, other.digitized, other.target, other.met, other.projected) == (4, 0, None, None, None)
    assert ("HD-TV", "endogenous") not in rows  # Hải Dương sets endogenous targets for specialized libraries

    district = rows[("VP-LT", "rare")]
    # Vĩnh Phúc district libraries: 50 % of rare holdings; 5 of 10 done, no recent pace
    assert (district.percent, district.target, district.met, district.pace) == (50.0, 50, True, 0.0)
    assert district.projected == AS_OF


def test_rollup_per_province_and_tier(fixture_ledger):
    rows = quota.rollup(quota.progress(fixture_ledger, load_plans(PROFILES), AS_OF))
    found = {(r.province, r.tier, r.category): (r.libraries, r.holdings, r.digitized, r.percent, r.target)
             for r in rows}
    assert found[("hai-duong", "provincial", "rare")] == (1, 20, 6, 30.0, 70)
    assert found[("vinh-phuc", "district", "rare")] == (1, 10, 5, 50.0, 50)


def test_filters_by_province_and_library(fixture_ledger):
    plans = load_plans(PROFILES)
    assert {r.library for r in quota.progress(fixture_ledger, plans, AS_OF, province="vinh-phuc")} == {"VP-LT"}
    assert {r.library for r in quota.progress(fixture_ledger, plans, AS_OF, library="HD-TV")} == {"HD-TV"}


# What the report must not show: the ledger's and the plans' codes (the library codes, the file
# name aside, are replaced by the libraries' names).
CODES = {"hai-duong", "vinh-phuc", "provincial", "district", "dia_chi", "rare", "endogenous", "other", "yes", "no",
         "True", "False", "HD-TV", "VP-LT", "holdings", "digitized_in_period", "library_name"}
HEADERS_VI = ["Tỉnh", "Thư viện", "Cấp", "Loại tài liệu", "Vốn tài liệu", "Nghiệm thu trong kỳ", "Tổng số đã nghiệm thu",
              "Trang", "Tỷ lệ (%)", "Chỉ tiêu (%)", "Đánh giá"]
HEADERS_EN = ["Province", "Library", "Tier", "Category", "Holdings", "Accepted in the period", "Accepted in total",
              "Pages", "Percent", "Target (%)", "Status"]


def read_csv(path: Path) -> list[list[str]]:
    """The report's CSV as Excel on Windows sees it: it must start with a byte-order mark."""
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def read_xlsx(path: Path):
    """(the lines above the header, the header, the rows, the totals row, the sheet) of the report's
    XLSX; the header is the row the sheet keeps frozen on top."""
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    header_row = sheet[sheet.freeze_panes].row - 1  # the first row that scrolls, less one
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    above = [line[0] for line in lines[:header_row - 1] if line[0] is not None]
    return above, lines[header_row - 1], lines[header_row:-1], lines[-1], sheet


def without_codes(cells) -> None:
    shown = [c for c in cells if isinstance(c, str)]
    assert not [c for c in shown if c in CODES or any(code in c for code in ("hai-duong", "dia_chi", "provincial"))]


def test_the_report_for_the_department_in_vietnamese(fixture_ledger, tmp_path):
    from openpyxl.utils import get_column_letter

    report = quota.period_report(fixture_ledger, load_plans(PROFILES), "2026-H1", province="hai-duong",
                                 made=date(2026, 7, 2))
    csv_path, xlsx_path = quota.write_report(report, tmp_path / "report", "bao-cao")
    period = "6 tháng đầu năm 2026 (01/01/2026 – 30/06/2026)"
    # (category, holdings, digitized in the period, in total, pages, percent, target, status)
    # in the pages' order of categories
    expected = [("Địa chí", 10, 4, 4, 40, 40.0, 100, "Chưa đạt"),
                ("Cổ, quý hiếm, có giá trị đặc biệt", 20, 4, 6, 60, 30.0, 70, "Chưa đạt"),
                ("Khác", 4, 0, 0, 0, 0.0, None, None)]

    header, *lines = read_csv(csv_path)
    assert header == ["Kỳ báo cáo", *HEADERS_VI]
    assert [line[:4] for line in lines] == [[period, "Hải Dương", "Thư viện tỉnh Hải Dương", "cấp tỉnh"]] * 3
    assert [(c, int(h), int(i), int(t), int(p), float(pc), int(tg) if tg else None, s or None)
            for c, h, i, t, p, pc, tg, s in (line[4:] for line in lines)] == expected
    without_codes([*header, *(cell for line in lines for cell in line)])

    above, header, rows, totals, sheet = read_xlsx(xlsx_path)
    assert above == ["Báo cáo kết quả số hóa tài liệu", f"Kỳ báo cáo: {period}", "Tỉnh: Hải Dương",
                     "Số liệu đến ngày 30/06/2026 · Lập ngày 02/07/2026"]
    assert header == HEADERS_VI
    assert [tuple(row[3:]) for row in rows] == expected
    assert {tuple(row[:3]) for row in rows} == {("Hải Dương", "Thư viện tỉnh Hải Dương", "cấp tỉnh")}
    # the totals of the rows; the percent of the whole (10 of 34 holdings)
    assert totals == ["Tổng cộng", None, None, None, 34, 8, 10, 100, 29.41, None, None]
    shown = quota.progress(fixture_ledger, load_plans(PROFILES), date(2026, 6, 30), province="hai-duong")
    assert (totals[4], totals[6], totals[7]) == (sum(r.holdings for r in shown), sum(r.digitized for r in shown),
                                                 sum(r.pages for r in shown))
    without_codes([*above, *header, *(cell for row in [*rows, totals] for cell in row)])
    for column, cells in enumerate(zip(header, *rows, totals)):  # every cell fits its column's width
        letter = get_column_letter(column + 1)
        widest = max(len(f"{c:.2f}" if isinstance(c, float) else str(c)) for c in cells if c is not None)
        assert widest < sheet.column_dimensions[letter].width <= widest + 3, (letter, cells)
    for path in (csv_path, xlsx_path):
        assert SECRET_TITLE.encode() not in path.read_bytes()


def test_the_report_in_english_for_one_library(fixture_ledger, tmp_path):
    report = quota.period_report(fixture_ledger, load_plans(PROFILES), "2025", library="VP-LT", made=date(2026, 1, 5))
    csv_path, xlsx_path = quota.write_report(report, tmp_path, "report", lang="en")
    header, line = read_csv(csv_path)
    assert header == ["Reporting period", *HEADERS_EN]
    assert line == ["year 2025 (01/01/2025 – 31/12/2025)", "Vĩnh Phúc", "Thư viện huyện Lập Thạch", "district",
                    "Ancient, rare, special value", "10", "5", "5", "50", "50.0", "50", "met"]
    above, header, rows, totals, _ = read_xlsx(xlsx_path)
    assert above == ["Report on the digitization of documents",
                     "Reporting period: year 2025 (01/01/2025 – 31/12/2025)",
                     "Library: Thư viện huyện Lập Thạch (Vĩnh Phúc)", "Figures as of 31/12/2025 · Made on 05/01/2026"]
    assert header == HEADERS_EN and len(rows) == 1
    assert totals == ["Total", None, None, None, 10, 5, 5, 50, 50.0, None, None]


def test_an_unknown_library_or_province_is_refused_naming_the_known_ones(fixture_ledger):
    plans = load_plans(PROFILES)
    with pytest.raises(BadInput) as refused:
        quota.period_report(fixture_ledger, plans, "2026", library="XX-YY")
    assert "unknown library 'XX-YY'" in refused.value.message and "HD-TV, VP-LT" in refused.value.message
    assert "digitize holdings import" in refused.value.message
    with pytest.raises(BadInput) as refused:
        quota.require_known(fixture_ledger, province="dak-nong")  # a plan, but no library in the ledger
    assert "'dak-nong'" in refused.value.message and "hai-duong, vinh-phuc" in refused.value.message
    with pytest.raises(BadInput) as refused:
        quota.require_known(fixture_ledger, province="vinh-phuc", library="HD-TV")
    assert "'HD-TV' is in province 'hai-duong', not 'vinh-phuc'" in refused.value.message
    quota.require_known(fixture_ledger, province="hai-duong", library="HD-TV")


def cli_ledger(data: Path) -> date:
    """A ledger in the data folder ``data`` for the commands: Hải Dương's provincial library with 3
    địa chí and 2 rare holdings, 2 and 1 of them digitized 3 days ago (that day returned)."""
    day = date.today() - timedelta(days=3)
    data.mkdir()
    with ledger_session(sqlite_url(data / "ledger.sqlite")) as session:
        register(session, data, "HD-TV", "hai-duong", "provincial", {"dia_chi": 3, "rare": 2})
        for number in range(2):
            digitize(session, "HD-TV", "dia_chi", number, day)
        digitize(session, "HD-TV", "rare", 0, day)
    return day


def cells_of(line: str) -> list[str]:
    """The cells of a line of a printed table (box-drawn, tab- or space-separated)."""
    return [c for c in re.split(r"\s*[│┃|\t]\s*|\s{2,}", line.strip()) if c]


@pytest.mark.slow  # three commands, about 6 s (the fast lane checks the same totals in this process)
def test_the_report_command_totals_what_quota_prints(tmp_path):
    data, out = tmp_path / "data", tmp_path / "reports"
    day = cli_ledger(data)
    shown = invoke_cli("quota", "--province", "hai-duong", data=str(data))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    printed = {}  # category -> (holdings, digitized, pages) as `digitize quota` prints them
    for line in shown.stdout.splitlines():
        cells = cells_of(line)
        if "HD-TV" in cells and ("dia_chi" in cells or "rare" in cells):
            at = cells.index("HD-TV")
            holdings, digitized, awaiting, accepted, pages = (int(c) for c in cells[at + 2:at + 7])
            assert (digitized, awaiting) == (accepted, 0), line  # every item of the ledger accepted
            printed[cells[at + 1]] = (holdings, accepted, pages)
    assert printed == {"dia_chi": (3, 2, 20), "rare": (2, 1, 10)}, shown.stdout

    made = invoke_cli("report", "--period", str(day.year), "--province", "hai-duong", "--out", str(out), data=str(data))
    assert made.returncode == 0, made.stdout + made.stderr
    _, header, rows, totals, _ = read_xlsx(out / f"bao-cao-so-hoa-hai-duong-{day.year}.xlsx")
    assert header == HEADERS_VI
    assert (totals[0], totals[4], totals[6], totals[7]) == ("Tổng cộng", *map(sum, zip(*printed.values())))
    lines = read_csv(out / f"bao-cao-so-hoa-hai-duong-{day.year}.csv")
    assert lines[0] == ["Kỳ báo cáo", *HEADERS_VI]
    assert sum(int(line[HEADERS_VI.index("Tổng số đã nghiệm thu") + 1]) for line in lines[1:]) == 3

    english = invoke_cli("report", "--period", str(day.year), "--library", "HD-TV", "--lang", "en", "--out", str(out),
                         data=str(data))
    assert english.returncode == 0, english.stdout + english.stderr
    above, header, rows, totals, _ = read_xlsx(out / f"bao-cao-so-hoa-HD-TV-{day.year}.xlsx")
    assert header == HEADERS_EN and above[2] == "Library: Thư viện tỉnh Hải Dương (Hải Dương)"
    assert {row[3] for row in rows} == {"Local history (địa chí)", "Ancient, rare, special value"}
    assert totals[:1] + totals[4:8] == ["Total", 5, 3, 3, 30]


def test_quota_and_report_refuse_an_unknown_library(tmp_path):
    data = tmp_path / "data"
    cli_ledger(data)
    for command in (["quota"], ["report", "--period", "2026", "--out", str(tmp_path / "reports")]):
        refused = run_cli(*command, "--library", "XX-YY", data=str(data))
        assert refused.returncode == ExitCode.bad_input == 65, refused.stdout + refused.stderr
        assert "unknown library 'XX-YY'" in refused.stderr and "the ledger knows HD-TV" in refused.stderr
        assert "digitize holdings import" in refused.stderr
        assert "Traceback" not in refused.stderr and "bug" not in refused.stderr
    assert not (tmp_path / "reports").exists()


def test_an_item_without_holding_record_is_reported_not_counted(fixture_ledger):
    notes = digitize(fixture_ledger, "HD-TV", "rare", 99, date(2026, 6, 1))
    assert any("no holding record" in n and "HD-TV-rare-099" in n for n in notes)
    rows = rows_by(quota.progress(fixture_ledger, load_plans(PROFILES), AS_OF))
    assert rows[("HD-TV", "rare")].digitized == 6


def test_reimport_updates_instead_of_duplicating(session, tmp_path):
    library = holdings.ensure_library(session, "DN-TV", "Thư viện tỉnh Đắk Nông", "dak-nong", "provincial")
    rows = [{"call_number": f"DN-{n:05d}", "control_number": f"C{n}", "title": f"Tài liệu {n}",
             "category": "rare" if n % 2 else "dia_chi"} for n in range(5000)]
    first = holdings.import_file(session, write_csv(tmp_path / "h.csv", rows), library, PROFILES)
    assert (first.added, first.rejected) == (5000, [])
    again = holdings.import_file(session, tmp_path / "h.csv", library, PROFILES)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5000)
    rows[0]["title"] = "Tài liệu đã sửa"
    rows.append({"call_number": "", "control_number": "", "title": "không số", "category": "rare"})
    rows.append({"call_number": "DN-X", "control_number": "", "title": "x", "category": "sách"})
    third = holdings.import_file(session, write_csv(tmp_path / "h.csv", rows), library, PROFILES)
    assert (third.added, third.updated) == (0, 1)
    assert [reason for _, reason in third.rejected] == [
        "no control number and no call number: the record cannot be matched",
        "unknown category 'sách' (use dia_chi, endogenous, other, rare)"]
    assert session.query(Holding).filter_by(library="DN-TV").count() == 5000


def test_marc_holdings_get_their_category_from_the_rules(session, tmp_path):
    library = holdings.ensure_library(session, "HD-TV", "Thư viện tỉnh Hải Dương", "hai-duong", "provincial")

    def record(number, year, place=None, local=None):
        r = Record(force_utf8=True)
        r.leader = r.leader[:9] + "a" + r.leader[10:]
        r.add_field(Field(tag="001", data=f"HD{number}"))
        r.add_field(Field(tag="245", indicators=Indicators("1", "0"), subfields=[Subfield("a", f"Sách {number}")]))
        r.add_field(Field(tag="264", indicators=Indicators(" ", "1"), subfields=[Subfield("c", str(year))]))
        if place:
            r.add_field(Field(tag="651", indicators=Indicators(" ", "4"), subfields=[Subfield("a", place)]))
        if local:
            r.add_field(Field(tag="900", indicators=Indicators(" ", " "), subfields=[Subfield("a", local)]))
        return r

    path = tmp_path / "catalogue.mrc"
    path.write_bytes(b"".join(r.as_marc() for r in [
        record(1, 2010, place="Hải Dương (Việt Nam)"), record(2, 1936), record(3, 2015),
        record(4, 2020, local="endogenous")]))
    report = holdings.import_file(session, path, library, PROFILES)
    assert report.added == 4
    categories = {h.control_number: h.category for h in session.query(Holding).filter_by(library="HD-TV")}
    assert categories == {"HD1": "dia_chi", "HD2": "rare", "HD3": "other", "HD4": "endogenous"}


@pytest.mark.slow  # a temporary Prefect server
def test_secret_items_count_but_their_titles_stay_out_of_the_artifacts(fixture_ledger, prefect_server):
    import httpx
    from prefect import flow

    import flows.batch as batch_flow

    rows = quota.progress(fixture_ledger, load_plans(PROFILES), AS_OF)
    secret = fixture_ledger.query(Item).filter_by(access="secret").one()
    assert secret.title == SECRET_TITLE
    result = ItemResult(item_id=secret.item_id, library="HD-TV", status="ok", pages=10)
    summary = BatchSummary(batch="b", started=datetime.now(timezone.utc), finished=datetime.now(timezone.utc),
                           items=[result], problems=[])
    marker = uuid.uuid4().hex

    @flow(name=f"artifacts-{marker}")
    def publish():
        batch_flow.publish_artifacts(rows, summary)

    published = publish(return_state=True)
    artifacts = httpx.post(f"{prefect_server}/artifacts/filter", json={"artifacts": {
        "flow_run_id": {"any_": [str(published.state_details.flow_run_id)]},
        "key": {"any_": ["quota-progress", "batch-summary"]}}}).json()
    assert {a["key"] for a in artifacts} == {"quota-progress", "batch-summary"}
    assert SECRET_TITLE not in repr(artifacts)
    assert "HD-TV" in repr(artifacts) and secret.item_id in repr(artifacts)


def test_a_ledger_at_the_newest_migration_opens_without_alembic_and_an_older_one_is_upgraded(tmp_path):
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    config = Config()
    config.set_main_option("script_location", str(ledger.MIGRATIONS))
    assert ledger.newest_revision() == ScriptDirectory.from_config(config).get_current_head()
    url = sqlite_url(tmp_path / "ledger.sqlite")
    ledger.open_ledger(url).close()
    session = ledger.open_ledger(url)
    assert ledger.current_revision(session.get_bind()) == ledger.newest_revision()
    with session.get_bind().begin() as connection:  # as if made by an older digitize
        connection.execute(text("DROP TABLE sample_findings"))
        connection.execute(text("DROP TABLE batch_samples"))
        connection.execute(text("DROP TABLE review_events"))
        connection.execute(text("DROP TABLE page_reviews"))
        connection.execute(text("DROP INDEX ix_items_review_state"))
        for column in ("review_risk", "acceptance_rule", "accepted_by", "accepted", "review_state"):
            connection.execute(text(f"ALTER TABLE items DROP COLUMN {column}"))
        connection.execute(text("DROP TABLE batch_locks"))
        connection.execute(text("DROP TABLE users"))
        connection.execute(text("DROP TABLE ended_sessions"))
        connection.execute(text("DROP TABLE sign_in_failures"))
        connection.execute(text("DROP TABLE search_text"))
        connection.execute(text("DROP TABLE search_items"))
        connection.execute(text("ALTER TABLE items DROP COLUMN published"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    session.close()
    again = ledger.open_ledger(url)
    again.execute(text("SELECT count(*) FROM batch_locks"))  # migration 0003 made it again
    assert ledger.current_revision(again.get_bind()) == ledger.newest_revision()
    again.close()
