"""The last holes a careless operator still found at intake (issue 25): contradictory metadata for
one item is refused with both places named (never the more open value chosen); item.toml with a
byte-order mark reads; blank required fields are named each; an items.csv from Excel on a
Vietnamese Windows (Windows-1258) reads, one that is neither UTF-8 nor Vietnamese is refused with
its reason on every item it describes. Refused items are not run, so these batches do no OCR."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import MINI, cli_env, invoke_cli, latest_report, report_reasons, report_statuses, run_cli, toml, tree_hashes
from digitize.capture.intake import find_items, plan_item
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings

PAGE = MINI / "HD-DC-0001" / "0001.jpg"
SETTINGS = get_settings()
TONES = "\u0300\u0301\u0303\u0309\u0323"


def make_item(batch: Path, folder: str, text: str | None = None, encoding: str = "utf-8") -> Path:
    item = batch / folder
    item.mkdir(parents=True)
    shutil.copy(PAGE, item / "0001.jpg")
    if text is not None:
        (item / "item.toml").write_text(text, encoding=encoding)
    return item


def windows_1258(text: str) -> bytes:
    """Text as Excel's plain "CSV" writes it on a Vietnamese Windows: a letter the code page lacks
    as its base letter and a separate tone mark."""
    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += base.encode("cp1258") + "".join(c for c in parts if c in TONES).encode("cp1258")
    return out


def profile_for(meta):
    return get_profile(SETTINGS.profiles, meta.profile or "quoc-ngu-modern")


def plans(batch: Path):
    found, problems = find_items(batch)
    return [plan_item(folder, batch, row, profile_for, SETTINGS.max_pixels) for folder, row in found], problems


@pytest.fixture(scope="module")
def contradictory(tmp_path_factory):
    """One run of a batch whose every item is described twice, or with blanks."""
    root = tmp_path_factory.mktemp("contradictory")
    batch = root / "batch"
    for folder in ("DUPROW", "TWICE", "BOTH", "BLANKS"):
        make_item(batch, folder, {
            "BOTH": toml(id="BOTH", title="Hai nơi", library="TEST", access="open"),
            "BLANKS": toml(id="BLANKS", title="  ", library=" ", category="rare"),
        }.get(folder))
    (batch / "items.csv").write_text(
        "folder,id,title,library,access,access\n"
        "DUPROW,DUPROW,Sổ mật,TEST,secret,\n"
        "DUPROW,DUPROW,Sổ mật,TEST,open,\n"
        "TWICE,TWICE,Hai cột,TEST,secret,open\n"
        "BOTH,BOTH,Hai nơi,TEST,secret,\n", encoding="utf-8")
    before = tree_hashes(batch)
    out = root / "out"
    result = run_cli("run", str(batch), "--out", str(out))
    return batch, out, result, latest_report(out), before


def test_two_rows_for_one_folder_refuse_the_item_naming_both(contradictory):
    batch, out, result, report, before = contradictory
    assert result.returncode == 4 and "Traceback" not in result.stdout + result.stderr, result.stderr
    assert report_statuses(report)["DUPROW"] == "failed"
    reason = report_reasons(report, "error")["DUPROW/items.csv:2"]
    assert "2 rows in items.csv (lines 2, 3) differing in access" in reason and "none is used" in reason
    assert "DUPROW" in result.stdout and "lines 2, 3" in result.stdout
    assert not list(out.glob("TEST/DUPROW/*"))  # nothing made, nothing published
    assert tree_hashes(batch) == before


def test_a_column_twice_in_the_header_with_two_values_refuses_the_row(contradictory):
    *_, report, _ = contradictory
    assert report_statuses(report)["TWICE"] == "failed"
    reason = report_reasons(report, "error")["TWICE/items.csv:4"]
    assert "column 'access' is in the header 2 times (columns 5, 6)" in reason, reason
    assert "'secret', 'open'" in reason and "not known" in reason


def test_item_toml_and_a_row_that_disagree_refuse_the_item(contradictory):
    *_, report, _ = contradictory
    assert report_statuses(report)["BOTH"] == "failed"
    reason = report_reasons(report, "error")["BOTH/item.toml"]
    assert "item.toml and items.csv:5 both describe this item and differ in access" in reason
    assert "'open' in item.toml, 'secret' in items.csv:5" in reason and "one place" in reason


def test_blank_title_and_library_are_each_named(contradictory):
    *_, report, _ = contradictory
    [found] = [item for item in report["items"] if item["item_id"] == "BLANKS"]
    reasons = [p["reason"] for p in found["problems"] if p["severity"] == "error"]
    assert reasons[0].startswith("title is not stated") and reasons[1].startswith("library is not stated")
    assert reasons[2].startswith("the item's access is not stated") and "its library in libraries.toml" in reasons[2]
    assert not any("library  " in reason or "library   " in reason for reason in reasons)


def test_item_toml_with_a_byte_order_mark_reads(tmp_path):
    make_item(tmp_path, "BOM-1", "\ufeff" + toml(id="BOM-1", title="Tiếng Việt", library="TEST", access="open"))
    [plan], problems = plans(tmp_path)
    assert problems == [] and plan.ok, plan.problems
    assert plan.meta.id == "BOM-1" and plan.meta.title == "Tiếng Việt"


def test_an_items_csv_from_excel_on_a_vietnamese_windows_reads(tmp_path):
    make_item(tmp_path, "CP-1")
    title = "Địa chí Hải Dương: tiếng Việt, Nguyễn Du, Truyện Kiều, xã hội"
    (tmp_path / "items.csv").write_bytes(windows_1258(
        f'folder,id,title,creator,library,access\nCP-1,CP-1,"{title}",Sở Văn hóa,TEST,open\n'))
    assert (tmp_path / "items.csv").read_bytes().count(b"\xec") > 0  # separate tone marks, as Excel writes them
    [plan], problems = plans(tmp_path)
    assert plan.ok, plan.problems
    assert plan.meta.title == title and plan.meta.creator == "Sở Văn hóa"  # composed (NFC)
    [warning] = problems
    assert warning.severity == "warning" and warning.file == "items.csv"
    assert "not UTF-8" in warning.reason and "Windows-1258" in warning.reason and "CSV UTF-8" in warning.reason


def test_an_items_csv_in_another_encoding_is_refused_on_each_item(tmp_path):
    batch = tmp_path / "batch"
    for folder in ("LAT-1", "LAT-2"):
        make_item(batch, folder)
    (batch / "items.csv").write_bytes(
        "folder,id,title,library,access\nLAT-1,LAT-1,Thì là,TEST,open\nLAT-2,LAT-2,Bìa,TEST,open\n".encode("latin-1"))
    out = tmp_path / "out"
    result = run_cli("run", str(batch), "--out", str(out))
    assert result.returncode == 4 and "Traceback" not in result.stderr, result.stderr
    report = latest_report(out)
    found = report_reasons(report, "error")
    assert "byte 0xEC on line 2 is not UTF-8" in found["batch/items.csv"]
    assert "CSV UTF-8" in found["batch/items.csv"]
    for folder in ("LAT-1", "LAT-2"):
        assert "could not be read" in found[f"{folder}/items.csv"], found
    assert "no item metadata. Add item.toml" not in result.stdout


@pytest.mark.parametrize("written,code", [("tiếng Việt", "vie"), ("Tieng Viet", "vie"), ("VIE", "vie"),
                                          ("tiếng Pháp", "fre"), ("English", "eng"), ("Hán văn", "lzh"),
                                          ("tiếng Hán", "chi"), ("tiếng Hàn", "kor"), ("fra", "fra")])
def test_a_language_name_is_recorded_as_its_code(tmp_path, written, code):
    make_item(tmp_path, "L-1", toml(id="L-1", title="Sách", library="TEST", access="open", language=written))
    [plan], _ = plans(tmp_path)
    assert plan.ok, plan.problems
    assert plan.meta.language == code


def test_an_unknown_language_is_refused_naming_the_accepted_ones(tmp_path):
    make_item(tmp_path, "L-2", toml(id="L-2", title="Sách", library="TEST", access="open", language="tiếng Mường cổ"))
    [plan], _ = plans(tmp_path)
    assert not plan.ok
    [reason] = [str(p.reason) for p in plan.problems if p.severity == "error"]
    assert reason.startswith("language 'tiếng Mường cổ': not a language digitize knows")
    assert "vie, eng, fre, chi, lzh" in reason and "tiếng Việt" in reason


@pytest.mark.parametrize("kept", [8, 0.5])
def test_a_truncated_tiff_is_called_truncated(tmp_path, kept):
    item = make_item(tmp_path, "T-1", toml(id="T-1", title="Sách", library="TEST", access="open"))
    whole = (MINI / "HD-DC-0001" / "0002.tif").read_bytes()
    (item / "0002.tif").write_bytes(whole[:kept if isinstance(kept, int) else int(len(whole) * kept)])
    [plan], _ = plans(tmp_path)
    assert not plan.ok
    [reason] = [str(p.reason) for p in plan.problems if p.file == "0002.tif"]
    assert "starts as a TIFF image but is damaged or truncated" in reason and "not TIF" not in reason
    assert "copy it again from the scanner" in reason.lower()


@pytest.mark.slow  # a batch run (OCR of two tiny pages)
def test_an_all_black_page_is_named_in_a_warning(tmp_path):
    from PIL import Image

    batch = tmp_path / "batch"
    item = make_item(batch, "BLACK-1", toml(id="BLACK-1", title="Trang đen", library="TEST", access="open"))
    Image.new("L", (612, 339), 0).save(item / "0002.jpg", dpi=(200, 200))
    out = tmp_path / "out"
    result = invoke_cli("run", str(batch), "--out", str(out), "--workers", "1")
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not a failure
    report = latest_report(out)
    warnings = report_reasons(report, "warning")
    reason = warnings["BLACK-1/0002.jpg"]
    assert reason.startswith("page 2 is black all over (100% of it) and OCR read no words on it")
    assert "rescan the page" in reason and "0002.jpg" in result.stdout
    assert "BLACK-1/0001.jpg" not in warnings  # the page with text is not named


NOTES = '<?xml version="1.0" encoding="UTF-8"?>\n<notes><note>Lô quét tháng 3, máy Epson</note></notes>\n'


def test_an_xml_file_that_is_no_catalogue_is_a_notice(tmp_path):
    from digitize.engine.batch import read_catalogue

    (tmp_path / "notes.xml").write_text(NOTES, encoding="utf-8")
    records, [problem] = read_catalogue(tmp_path)
    assert records == [] and problem.severity == "warning" and problem.file == "notes.xml"
    assert "root element is <notes>, not MARCXML" in problem.reason and "left out" in problem.reason
    (tmp_path / "notes.xml").write_text("<collection><record><leader>bad", encoding="utf-8")  # a damaged export
    _, [problem] = read_catalogue(tmp_path)
    assert problem.severity == "error" and "not well-formed XML" in problem.reason


@pytest.mark.slow  # a batch run (OCR of tiny pages)
def test_notes_beside_the_items_leave_a_clean_run_clean(tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")
    (batch / "notes.xml").write_text(NOTES, encoding="utf-8")
    out = tmp_path / "out"
    result = invoke_cli("run", str(batch), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert report_statuses(latest_report(out)) == {"HD-DC-0001": "ok"}
    assert "notes.xml" in result.stdout and "not MARCXML" in result.stdout


def shut_out(folder: Path) -> list[str]:
    """Make ``folder`` another user's upload (mode 0700) that the command cannot read; the prefix that
    runs the command as a service user without the power to read it anyway. As root: the folder is
    given to nobody and the command runs as root without the capabilities that bypass file modes
    (what a service account lacks); as anyone else: the folder's mode shuts its owner out too."""
    if os.geteuid() != 0:
        folder.chmod(0)
        return []
    for path in (folder, *folder.iterdir()):
        os.chown(path, 65534, 65534)
    folder.chmod(0o700)
    caps = "-dac_override,-dac_read_search"
    return [shutil.which("setpriv"), f"--bounding-set={caps}", f"--inh-caps={caps}"]


@pytest.mark.slow  # a batch run (OCR of the readable item's tiny pages)
def test_an_unreadable_item_folder_fails_alone(tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HD-DC-0001", batch / "HD-DC-0001")
    locked = make_item(batch, "LOCKED", toml(id="LOCKED", title="Của người khác", library="TEST", access="open"))
    prefix = shut_out(locked)
    out = tmp_path / "out"
    args = ("run", str(batch), "--out", str(out))
    try:
        tried = subprocess.run([*prefix, sys.executable, "-c", f"import os; os.listdir({str(locked)!r})"],
                               capture_output=True, text=True)
        assert "PermissionError" in tried.stderr, tried.stderr  # the command's user truly cannot read it
        result = subprocess.run([*prefix, sys.executable, "-m", "digitize.cli.app", *args],
                                env=cli_env(None, args, {}), capture_output=True, text=True, timeout=600)
    finally:
        locked.chmod(0o755)
    assert result.returncode == 4, result.stdout + result.stderr  # not 73: the output folder is fine
    report = latest_report(out)
    assert report_statuses(report) == {"HD-DC-0001": "ok", "LOCKED": "failed"}
    reason = report_reasons(report, "error")["LOCKED/None"]
    assert reason.startswith("the item folder cannot be read (Permission denied)") and "read access" in reason
    assert "Traceback" not in result.stderr and "Permission denied" in result.stdout
