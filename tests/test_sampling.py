"""Acceptance by sample (issue 26): ISO 2859-1's plans for the lot sizes and AQLs a library uses,
the same seed drawing the same pages, the batch accepted at Ac defects and rejected at Re, and the
acceptance report (biên bản nghiệm thu) as a valid PDF/A and a CSV holding the figures; the same
from the command line. No OCR: the batches (200 pages each) are put in the ledger directly, with
the pipeline's errors on known pages."""

from __future__ import annotations

import csv
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import invoke_cli, ledger_session, run_cli, sqlite_url, stored_records
from digitize.capture.pdf import validate_pdfa
from digitize.core.errors import BadInput, ConfigError, ExitCode
from digitize.core.models import Access, Category, ItemMetadata, ItemResult
from digitize.core.profiles import LibraryDeclaration
from digitize.ledger import accounts, database as ledger
from digitize.ledger.database import Item
from digitize.ledger.review import ReviewEvent
from digitize.review import acceptance_report, sampling
from digitize.store.storage import FolderStore

REVIEWER, OTHER_REVIEWER, COORDINATOR = "tran.thi.binh", "nguyen.van.an", "le.van.cuong"
LIBRARY = "HD-TV"
LIBRARIES = {LIBRARY: LibraryDeclaration(name="Thư viện tỉnh Hải Dương", province="hai-duong", tier="provincial")}
ITEMS, PAGES = 10, 20  # a lot of 200 pages: code letter G; at AQL 2.5, n = 32, Ac = 2, Re = 3
SEED = 2026
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


# ISO 2859-1 (normal inspection, general inspection level II): Table 1's letter and Table 2-A's plan
# (n, Ac, Re) for lot sizes 51-90 (E), 151-280 (G) and 501-1200 (J); an arrow leads to another
# row's plan, its sample size included
STANDARD = [
    (60, 1.0, "E", 13, 0, 1), (60, 2.5, "E", 20, 1, 2), (60, 4.0, "E", 13, 1, 2), (60, 1.5, "E", 8, 0, 1),
    (60, 0.65, "E", 20, 0, 1), (60, 6.5, "E", 13, 2, 3), (60, 10, "E", 13, 3, 4), (51, 0.40, "E", 32, 0, 1),
    (90, 0.25, "E", 50, 0, 1),
    (200, 1.0, "G", 50, 1, 2), (200, 2.5, "G", 32, 2, 3), (200, 4.0, "G", 32, 3, 4), (200, 0.65, "G", 20, 0, 1),
    (200, 0.40, "G", 32, 0, 1), (200, 1.5, "G", 32, 1, 2), (151, 6.5, "G", 32, 5, 6), (280, 10, "G", 32, 7, 8),
    (1000, 0.65, "J", 80, 1, 2), (1000, 1.0, "J", 80, 2, 3), (1000, 2.5, "J", 80, 5, 6), (501, 4.0, "J", 80, 7, 8),
    (1000, 0.40, "J", 125, 1, 2), (1000, 0.25, "J", 50, 0, 1), (1000, 0.15, "J", 80, 0, 1),
    (1200, 6.5, "J", 80, 10, 11), (1000, 10, "J", 80, 14, 15), (1000, 0.065, "J", 200, 0, 1),
]


@pytest.mark.parametrize("lot, aql, letter, n, accept, reject", STANDARD)
def test_plans_are_iso_2859_1s(lot, aql, letter, n, accept, reject):
    plan = sampling.plan_for(lot, aql)
    assert (plan.lot_letter, plan.sample_size, plan.accept, plan.reject) == (letter, n, accept, reject)


def test_lot_size_boundaries_and_whole_lot_inspection():
    assert [sampling.code_letter(size) for size in (8, 9, 50, 51, 90, 91, 150, 151, 280, 281, 500, 501, 1200, 1201)] \
        == list("ABDEEFFGGHHJJK")
    small = sampling.plan_for(40, 0.065)  # D, arrow down to L's 200 pages: more than the lot, so every page
    assert (small.sample_size, small.every_unit, small.accept) == (40, True, 0)
    with pytest.raises(ConfigError):
        sampling.plan_for(200, 3.0)  # not an AQL of the table
    with pytest.raises(ValueError):
        LibraryDeclaration(aql=3.0)
    assert LibraryDeclaration().aql == 2.5


def test_same_seed_same_sample():
    units = [(LIBRARY, f"ITEM-{i}", p) for i in range(ITEMS) for p in range(1, PAGES + 1)]
    first, again = sampling.draw(units, 32, SEED), sampling.draw(list(units), 32, SEED)
    assert first == again and len(first) == 32 and len(set(first)) == 32
    assert first == sorted(first, key=units.index)  # in the lot's order, for the reviewer to walk through
    assert sampling.draw(units, 32, SEED + 1) != first


def _batch(session, folder: Path, prefix: str) -> str:
    items = []
    for number in range(ITEMS):
        meta = ItemMetadata(id=f"{prefix}-{number:02d}", title=f"Địa chí Hải Dương, tập {number}", library=LIBRARY,
                            call_number=f"{prefix}-{number:02d}", category=Category.dia_chi, access=Access.open)
        items.append((meta, ItemResult(item_id=meta.id, library=LIBRARY, status="ok", pages=PAGES,
                                       stored=stored_records(folder.parent / "store", LIBRARY, meta.id)), None))
    ledger.record_run(session, str(folder.resolve()), WHEN, WHEN, items, LIBRARIES)
    return str(folder.resolve())


def _staff(session) -> None:
    for name, roles in ((REVIEWER, "reviewer"), (OTHER_REVIEWER, "reviewer,coordinator"), (COORDINATOR, "coordinator")):
        user = accounts.add_user(session, name, "mật khẩu đủ dài 2026")
        user.roles = roles
    session.commit()


@pytest.fixture(scope="module")
def lots(tmp_path_factory):
    """Three batches of 200 pages in one ledger: A (to accept), B (to reject), C (the command line)."""
    root = tmp_path_factory.mktemp("sampling")
    url = sqlite_url(root / "ledger.sqlite")
    with ledger_session(url) as session:
        _staff(session)
        batches = {name: _batch(session, root / f"lô-{name.lower()}", f"HD-{name}") for name in "ABC"}
        item = session.query(Item).filter_by(item_id="HD-A-03").one()
        for characters, changed in ((40, 2), (50, 1), (10, 0)):  # the reviewers' corrections: CER 3/100
            session.add(ReviewEvent(item=item.id, at=WHEN, actor=REVIEWER, action="corrected", pages=[4],
                                    detail={"page": 4, "line": "l1", "before": "x" * characters, "after": "y",
                                            "characters": characters, "changed": changed, "profile": "p"}))
        session.commit()
    yield url, batches, root, FolderStore(root / "store")


def _inspect(session, batch: str, defective: set[tuple[str, int]], reviewer: str = REVIEWER,
             leave: int = 0) -> None:
    """Findings on the sampled pages (all but the last ``leave``): defective where the pipeline erred."""
    pages = sampling.open_sample(session, batch).pages
    for _, item, page in pages[:len(pages) - leave]:
        bad = (item, page) in defective
        sampling.record_finding(session, batch, item, page, bad, "sai dấu thanh ở dòng 3" if bad else "", reviewer)


def _errors(sample, prefix: str, sampled_errors: int) -> set[tuple[str, int]]:
    """The pipeline's errors: ``sampled_errors`` pages of the sample, and five pages outside it."""
    sampled = [(item, page) for _, item, page in sample.pages]
    outside = [(f"{prefix}-{i:02d}", p) for i in range(ITEMS) for p in range(1, PAGES + 1)
               if (f"{prefix}-{i:02d}", p) not in sampled]
    return set(sampled[3:3 + sampled_errors]) | set(outside[10:15])


def _read_csv(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(text[1:].splitlines()))


def _pdf_text(path: Path) -> str:
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
                    .stdout.split())


def test_accepted_at_ac_defects_with_its_report(lots):
    url, batches, root, store = lots
    with ledger_session(url) as session:
        with pytest.raises(BadInput, match="reviewer role"):
            sampling.draw_sample(session, batches["A"], COORDINATOR, LIBRARIES, SEED)
        sample = sampling.draw_sample(session, batches["A"], REVIEWER, LIBRARIES, SEED)
        assert (sample.lot_size, sample.code_letter, sample.sample_size, sample.acceptance_number,
                sample.rejection_number, sample.seed, sample.drawn_by) == (200, "G", 32, 2, 3, SEED, REVIEWER)
        units = [(LIBRARY, f"HD-A-{i:02d}", p) for i in range(ITEMS) for p in range(1, PAGES + 1)]
        assert [tuple(p) for p in sample.pages] == sampling.draw(units, 32, SEED)  # the same seed, the same pages
        assert sampling.draw_sample(session, batches["A"], OTHER_REVIEWER, LIBRARIES).id == sample.id  # still open
        with pytest.raises(BadInput, match="not decided yet"):
            sampling.draw_sample(session, batches["A"], REVIEWER, LIBRARIES, SEED + 1)  # no drawing again
        errors = _errors(sample, "HD-A", 2)
        outside = sorted(e for e in errors if [LIBRARY, *e] not in sample.pages)[0]
        with pytest.raises(BadInput, match="not in the batch's sample"):
            sampling.record_finding(session, batches["A"], *outside, True, "", REVIEWER)
        _inspect(session, batches["A"], errors, leave=1)
        with pytest.raises(BadInput, match="1 sampled pages have no finding yet"):
            sampling.decide_batch(session, store, batches["A"], REVIEWER)
        _inspect(session, batches["A"], errors, OTHER_REVIEWER)
        made = sampling.decide_batch(session, store, batches["A"], OTHER_REVIEWER, now=WHEN)
        assert (made.accepted, made.defects, len(made.decided)) == (True, 2, ITEMS)
        assert made.reason == "sample accepted: 2 defects in 32 pages (Ac=2, Re=3)"
        items = session.query(Item).filter(Item.item_id.like("HD-A-%")).all()
        assert {(i.review_state, i.acceptance_rule, i.accepted_by) for i in items} == {
            ("accepted", "sample", OTHER_REVIEWER)}
        events = session.query(ReviewEvent).filter_by(action="accepted").all()
        assert len(events) == ITEMS and {e.actor for e in events} == {OTHER_REVIEWER}
        assert events[0].detail["rule"] == "sample" and events[0].reason == made.reason
        mets = store.read_bytes(f"{LIBRARY}/HD-A-00/mets.xml").decode("utf-8")  # the METS names the reviewer
        assert f"accepted by {OTHER_REVIEWER}" in mets and made.reason in mets
        pdf, table = acceptance_report.write_acceptance_report(
            acceptance_report.acceptance_facts(session, made.sample), root / "report-a")
    assert validate_pdfa(pdf) == []
    text = _pdf_text(pdf)
    for words in ("BIÊN BẢN NGHIỆM THU / ACCEPTANCE REPORT", "Chấp nhận / Accepted", "3.00 %",
                  "sai dấu thanh ở dòng 3", "Địa chí Hải Dương, tập 3", "n = 32", "Ac = 2", "Re = 3", str(SEED)):
        assert words in text, words
    rows = _read_csv(table)
    assert len(rows) == 32
    column = {name.split(" / ")[-1]: name for name in rows[0]}
    first = rows[0]
    assert (first[column["Pages in the lot"]], first[column["Sample size"]], first["Ac"], first["Re"],
            first[column["Random seed"]], first[column["Items"]]) == ("200", "32", "2", "3", str(SEED), "10")
    assert sum(int(r[column["Defective"]]) for r in rows) == 2 == int(first[column["Defective pages in the sample"]])
    assert (first[column["Character error rate"]], first[column["Characters changed"]],
            first[column["Characters reviewed"]], first[column["Lines corrected"]]) == ("0.0300", "3", "100", "3")
    assert first[column["Decision"]] == "Chấp nhận / Accepted" and first[column["Date"]] == "2026-12-01"
    assert [(r[column["Item"]], int(r[column["Page"]])) for r in rows] == [
        (f"{LIBRARY}/{item}", page) for _, item, page in made.sample.pages]


def test_rejected_at_re_defects_returns_the_batch(lots):
    url, batches, root, store = lots
    with ledger_session(url) as session:
        sample = sampling.draw_sample(session, batches["B"], REVIEWER, LIBRARIES, SEED)
        errors = _errors(sample, "HD-B", 3)
        _inspect(session, batches["B"], errors)
        made = sampling.decide_batch(session, store, batches["B"], REVIEWER, now=WHEN)
        assert (made.accepted, made.defects) == (False, 3)
        items = session.query(Item).filter(Item.item_id.like("HD-B-%")).all()
        assert {i.review_state for i in items} == {"returned"} and not any(i.accepted for i in items)
        returned = session.query(ReviewEvent).filter_by(action="returned").all()
        assert {e.reason for e in returned} == {"sample rejected: 3 defects in 32 pages (Ac=2, Re=3)"}
        assert sorted(p for e in returned for p in e.pages or []) == sorted(p for _, p in errors
                                                                            if [LIBRARY, _, p] in sample.pages)
        with pytest.raises(BadInput, match="no item of this batch is in review"):
            sampling.draw_sample(session, batches["B"], REVIEWER, LIBRARIES, SEED)
        pdf, table = acceptance_report.write_acceptance_report(
            acceptance_report.acceptance_facts(session, made.sample), root / "report-b")
    assert validate_pdfa(pdf) == []
    assert "Không đạt, trả lại các tài liệu / Rejected: the items are returned" in _pdf_text(pdf)
    rows = _read_csv(table)
    assert sum(int(r["Lỗi / Defective"]) for r in rows) == 3
    assert rows[0]["Tỷ lệ lỗi ký tự / Character error rate"] == "chưa đo (không dòng nào được sửa) / not measured (no line corrected)"


@pytest.mark.slow  # five commands run
def test_the_command_line_end_to_end(lots):
    url, batches, root, store = lots
    batch = batches["C"]
    drawn = invoke_cli("acceptance", "sample", batch, "--reviewer", REVIEWER, "--seed", "7", ledger=url,
                       data=str(root))
    assert drawn.returncode == 0, drawn.stderr
    assert "code letter G" in drawn.stdout and "n=32" in drawn.stdout and "Ac=2, Re=3" in drawn.stdout
    listed = [line.split() for line in drawn.stdout.splitlines() if line.startswith(f"{LIBRARY}/")]
    units = [(LIBRARY, f"HD-C-{i:02d}", p) for i in range(ITEMS) for p in range(1, PAGES + 1)]
    assert [(f"{lib}/{item}", str(page)) for lib, item, page in sampling.draw(units, 32, 7)] == \
        [tuple(line) for line in listed]
    with ledger_session(url) as session:  # most findings through the library; two through the command
        _inspect(session, batch, set(), leave=2)
    (item, page), (other, other_page) = [(line[0].split("/")[1], line[1]) for line in listed[-2:]]
    found = invoke_cli("acceptance", "finding", batch, item, page, "--defect", "--note", "mất chữ ở lề phải",
                       "--reviewer", REVIEWER, ledger=url)
    assert found.returncode == 0 and f"{item} page {page}: defective" in found.stdout, found.stderr
    wrong = run_cli("acceptance", "finding", batch, item, "999", "--no-defect", "--reviewer", REVIEWER, ledger=url)
    assert wrong.returncode == ExitCode.bad_input and "not in the batch's sample" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    found = invoke_cli("acceptance", "finding", Path(batch).name, other, other_page, "--no-defect", "--reviewer",
                       REVIEWER, ledger=url)  # the batch named by its folder's name
    assert found.returncode == 0, found.stderr
    decided = invoke_cli("acceptance", "decide", batch, "--reviewer", REVIEWER, "--out", str(root / "report-c"),
                         ledger=url, store=store.root.as_uri())
    assert decided.returncode == 0, decided.stderr
    assert "sample accepted: 1 defects in 32 pages (Ac=2, Re=3): 10 items accepted" in decided.stdout
    pdf, table = (Path(p.strip()) for p in decided.stdout.split("acceptance report: ")[1].strip().split(" and "))
    assert validate_pdfa(pdf) == [] and "mất chữ ở lề phải" in _pdf_text(pdf)
    assert sum(int(r["Lỗi / Defective"]) for r in _read_csv(table)) == 1
    with ledger_session(url) as session:
        assert {i.review_state for i in session.query(Item).filter(Item.item_id.like("HD-C-%"))} == {"accepted"}
