"""The quota ledger on SQLite and on a real PostgreSQL: holdings import, progress figures checked
against hand computation, the periodic report, and secret items kept out of everything public."""

from __future__ import annotations

import csv
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pymarc import Field, Indicators, Record, Subfield

from conftest import ledger_session, sqlite_url
from digitize.ledger import holdings, database as ledger, quota
from digitize.ledger.database import Holding, Item
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


def register(session, tmp_path, code, province, tier, counts: dict[str, int]) -> None:
    library = holdings.ensure_library(session, code, f"Thư viện {code}", province, tier)
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
    return ledger.record_run(session, "batch", moment, moment, [(meta, result, None)])


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


def test_periodic_report_csv_and_xlsx(fixture_ledger, tmp_path):
    from openpyxl import load_workbook

    rows = quota.report_rows(fixture_ledger, load_plans(PROFILES), "2026-H1", province="hai-duong")
    csv_path, xlsx_path = quota.write_report(rows, tmp_path / "report", "bao-cao")
    expected = {("HD-TV", "dia_chi"): (10, 4, 4, 40.0, 100, "no"), ("HD-TV", "rare"): (20, 4, 6, 30.0, 70, "no"),
                ("HD-TV", "other"): (4, 0, 0, 0.0, "", "")}
    sheet = load_workbook(xlsx_path).active
    header = [c.value for c in sheet[1]]
    found = {}
    for line in sheet.iter_rows(min_row=2, values_only=True):
        row = dict(zip(header, line))
        found[(row["library"], row["category"])] = (row["holdings"], row["digitized_in_period"],
                                                    row["digitized_total"], row["percent"],
                                                    row["target"] if row["target"] is not None else "",
                                                    row["met"] or "")
    assert found == expected
    with csv_path.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 3
    for path in (csv_path, xlsx_path):
        assert SECRET_TITLE.encode() not in path.read_bytes()


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

    publish()
    artifacts = httpx.post(f"{prefect_server}/artifacts/filter", json={"artifacts": {"key": {"any_": [
        "quota-progress", "batch-summary"]}}, "sort": "CREATED_DESC", "limit": 2}).json()
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
        connection.execute(text("DROP TABLE batch_locks"))
        connection.execute(text("DROP TABLE users"))
        connection.execute(text("DROP TABLE search_text"))
        connection.execute(text("DROP TABLE search_items"))
        connection.execute(text("ALTER TABLE items DROP COLUMN published"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    session.close()
    again = ledger.open_ledger(url)
    again.execute(text("SELECT count(*) FROM batch_locks"))  # migration 0003 made it again
    assert ledger.current_revision(again.get_bind()) == ledger.newest_revision()
    again.close()
