"""A batch full of bad files: the good items finish, every bad file is reported with a plain
reason and copied to the quarantine, and nothing under the input folder changes."""

from __future__ import annotations

import json
import shutil
import struct
import unicodedata
import zlib

import pytest

from conftest import SAMPLES, invoke_cli, report_reasons, run_cli, tree_hashes

pytestmark = pytest.mark.slow  # a batch run (OCR of its good items)

GOOD_PAGE = SAMPLES / "HD-DC-0001" / "0002.jpg"
HOSTILE = "0005..\\..\\..\\evil.jpg"


def item_toml(item_id: str, title: str = "Tài liệu thử") -> str:
    return f'id = "{item_id}"\ntitle = "{title}"\nlibrary = "TEST"\ncategory = "dia_chi"\naccess = "open"\n'


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


def catalogue_record():
    from pymarc import Field, Indicators, Record, Subfield

    record = Record(force_utf8=True)
    record.leader = record.leader[:9] + "a" + record.leader[10:]
    record.add_field(Field(tag="001", data="HD-CAT-1"))
    record.add_field(Field(tag="245", indicators=Indicators("1", "0"), subfields=[
        Subfield("a", "Địa chí Hải Dương :"), Subfield("b", "Tập 1 /"), Subfield("c", "Sở Văn hóa biên soạn.")]))
    record.add_field(Field(tag="651", indicators=Indicators(" ", "4"), subfields=[Subfield("a", "Hải Dương")]))
    record.add_field(Field(tag="852", indicators=Indicators(" ", " "), subfields=[Subfield("h", "ĐC.TEST.1")]))
    return record


@pytest.fixture(scope="module")
def bad_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    batch = root / "batch"
    good = batch / "GOOD-1"
    good.mkdir(parents=True)
    (good / "item.toml").write_text(item_toml("GOOD-1") + 'call_number = "ĐC.TEST.1"\n', encoding="utf-8")
    (batch / "catalogue.mrc").write_bytes(catalogue_record().as_marc())  # matched by call number
    (batch / "old-export.xml").write_text("<html>not a catalogue</html>", encoding="utf-8")
    shutil.copy(GOOD_PAGE, good / "0001.jpg")

    nfd_folder = batch / unicodedata.normalize("NFD", "Địa-chí-2")
    nfd_folder.mkdir()
    (nfd_folder / "item.toml").write_text(item_toml("DC-2", "Địa chí Hải Dương"), encoding="utf-8")
    shutil.copy(GOOD_PAGE, nfd_folder / unicodedata.normalize("NFD", "trang-một.jpg"))

    bad = batch / "BAD-FILES"
    bad.mkdir()
    (bad / "item.toml").write_text(item_toml("BAD-FILES"), encoding="utf-8")
    (bad / "0001.tif").write_bytes(b"")
    data = GOOD_PAGE.read_bytes()
    (bad / "0002.jpg").write_bytes(data[: len(data) // 2])
    (bad / "0003.tif").write_text("Đây là một tệp văn bản, không phải ảnh.\n", encoding="utf-8")
    (bad / "0004.png").write_bytes(png_claiming(30000, 30000))
    (bad / HOSTILE).write_bytes(b"not a jpeg")
    (bad / ".hidden.tif").write_bytes(b"")

    damaged = batch / "TRUNC-1"  # looks fine at intake; the damage shows when the page is decoded
    damaged.mkdir()
    (damaged / "item.toml").write_text(item_toml("TRUNC-1"), encoding="utf-8")
    shutil.copy(GOOD_PAGE, damaged / "0001.jpg")
    (damaged / "0002.jpg").write_bytes(data[: len(data) // 3])

    broken = batch / "BAD-META"
    broken.mkdir()
    (broken / "item.toml").write_text('id = "BAD-META"\ntitle = "thiếu dấu ngoặc\n', encoding="utf-8")
    shutil.copy(GOOD_PAGE, broken / "0001.jpg")

    escape = batch / "ESCAPE"
    escape.mkdir()
    (escape / "item.toml").write_text(item_toml("../../evil"), encoding="utf-8")
    shutil.copy(GOOD_PAGE, escape / "0001.jpg")
    (batch / "items.csv").write_text("folder,id,title,library\n../outside,X-1,Ngoài lô,TEST\n", encoding="utf-8")

    before = tree_hashes(batch)
    out = root / "out"
    register = root / "holdings.csv"
    register.write_text("call_number,title,category\nĐC.TEST.1,Địa chí Hải Dương,dia_chi\nĐC.TEST.2,Khác,dia_chi\n",
                        encoding="utf-8")
    imported = invoke_cli("holdings", "import", str(register), "--library", "TEST", "--name",
                          "Thư viện thử", "--province", "hai-duong", "--tier", "provincial", data=str(root))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    register.unlink()
    result = run_cli("run", str(batch), "--out", str(out))
    report = json.loads(next((out / "_reports").glob("batch-*.json")).read_text(encoding="utf-8"))
    return root, batch, out, result, report, before


def test_good_items_finish_and_the_run_reports_failure(bad_batch):
    _, _, out, result, report, _ = bad_batch
    status = {item["item_id"]: item["status"] for item in report["items"]}
    assert status["GOOD-1"] == "ok" and status["DC-2"] == "ok"
    assert status["BAD-FILES"] == "failed" and status["TRUNC-1"] == "failed"
    assert (out / "TEST" / "GOOD-1" / "GOOD-1.pdf").is_file()
    assert (out / "TEST" / "DC-2" / "DC-2.pdf").is_file()
    assert result.returncode != 0


@pytest.mark.parametrize("where,words", [
    ("BAD-FILES/0001.tif", "empty (0 bytes)"),
    ("BAD-FILES/0002.jpg", "damaged or truncated"),
    ("TRUNC-1/0002.jpg", "damaged or truncated"),
    ("BAD-FILES/0003.tif", "not an image"),
    ("BAD-FILES/0004.png", "30000x30000"),
    (f"BAD-FILES/{HOSTILE}", "not an image"),
    ("BAD-FILES/.hidden.tif", "hidden file"),
    ("BAD-META/item.toml", "cannot be read"),
    ("ESCAPE/item.toml", "not usable as a folder name"),
    ("../outside/items.csv:2", "outside the batch"),
    ("DC-2/trang-một.jpg", "decomposed Unicode"),
    ("batch/old-export.xml", "no MARC records"),
])
def test_each_bad_file_has_a_plain_reason(bad_batch, where, words):
    _, _, _, result, report, _ = bad_batch
    found = report_reasons(report)
    assert where in found, sorted(found)
    assert words in found[where]
    assert where.split("/")[-1] in result.stdout  # the operator sees it in the summary too


def test_bad_files_are_copied_to_quarantine_with_reasons(bad_batch):
    _, batch, out, _, _, _ = bad_batch
    quarantine = out / "_quarantine" / "batch"
    for name in ("0001.tif", "0002.jpg", "0003.tif", "0004.png", HOSTILE.replace("\\", "_")):
        assert (quarantine / "BAD-FILES" / name).is_file(), name
        assert (quarantine / "BAD-FILES" / f"{name}.reason.txt").read_text(encoding="utf-8").strip()
    assert (quarantine / "TRUNC-1" / "0002.jpg.reason.txt").is_file()
    assert not (quarantine / "TRUNC-1" / "0001.jpg").exists()  # the good page is not set aside
    assert (quarantine / "BAD-META" / "item.toml").is_file()  # the metadata file, not the item's pages
    assert not (quarantine / "BAD-META" / "0001.jpg").exists()
    reason = (quarantine / "BAD-META" / "REASON.txt").read_text(encoding="utf-8")
    assert "cannot be read" in reason and reason.rstrip().endswith("untouched):\n  0001.jpg")


def test_input_untouched_and_nothing_written_outside_the_output(bad_batch):
    root, batch, out, _, _, before = bad_batch
    assert tree_hashes(batch) == before
    assert {p.name for p in root.iterdir()} <= {"batch", "ledger.sqlite", "out", "store", "reports"}
    assert not list(root.rglob("evil*"))


def test_a_catalogue_record_matched_by_call_number_describes_the_item(bad_batch):
    from digitize.describe import mets

    _, _, out, _, _, _ = bad_batch
    package = mets.read(out / "TEST" / "GOOD-1" / "mets.xml")
    assert package.description.title == "Địa chí Hải Dương"
    assert package.description.subtitle == "Tập 1"
    assert package.description.places == ["Hải Dương"]
    assert package.description.control_number == "HD-CAT-1"


def test_the_ledger_counts_the_items_that_match_the_holdings_register(bad_batch):
    root, _, _, _, report, _ = bad_batch
    notes = [p["reason"] for p in report["problems"]]
    assert any("DC-2" in n and "no holding record" in n for n in notes)  # digitized, but not in the register
    quota = invoke_cli("quota", "--library", "TEST", data=str(root))
    assert quota.returncode == 0, quota.stdout + quota.stderr
    line = next(line for line in quota.stdout.splitlines() if "dia_chi" in line)
    cells = line.split("\t")  # into a pipe: one line per row, tab-separated
    # 2 held, 1 digitized, awaiting review, none accepted yet: nothing counts
    assert cells[:9] == ["hai-duong", "TEST", "dia_chi", "2", "1", "1", "0", "0", "0.0"]
    added = invoke_cli("user", "add", "lan", "--role", "reviewer", "--password-stdin", stdin="mật khẩu đủ dài 12\n",
                       data=str(root))
    assert added.returncode == 0, added.stderr
    accepted = invoke_cli("review", "accept", "TEST/GOOD-1", "TEST/DC-2", "--reviewer", "lan", data=str(root))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    quota = invoke_cli("quota", "--library", "TEST", data=str(root))
    cells = next(line for line in quota.stdout.splitlines() if "dia_chi" in line).split("\t")
    assert cells[:8] == ["hai-duong", "TEST", "dia_chi", "2", "1", "0", "1", "1"]  # accepted: 1 item, 1 page
    assert cells[8] == "50.0" and cells[9] == "100"
    from datetime import date

    from openpyxl import load_workbook

    period = str(date.today().year)
    made = invoke_cli("report", "--period", period, "--province", "hai-duong", "--out",
                      str(root / "reports"), data=str(root))
    assert made.returncode == 0, made.stdout + made.stderr
    sheet = load_workbook(root / "reports" / f"bao-cao-so-hoa-hai-duong-{period}.xlsx").active
    header_row = sheet[sheet.freeze_panes].row - 1  # the header is the row kept frozen on top
    header = [c.value for c in sheet[header_row]]
    rows = [dict(zip(header, r)) for r in sheet.iter_rows(min_row=header_row + 1, values_only=True)]
    [dia_chi] = [r for r in rows if r["Loại tài liệu"] == "Địa chí"]
    assert (dia_chi["Vốn tài liệu"], dia_chi["Nghiệm thu trong kỳ"], dia_chi["Tổng số đã nghiệm thu"]) == (2, 1, 1)
    assert (root / "reports" / f"bao-cao-so-hoa-hai-duong-{period}.csv").is_file()
