"""Every fault of an item's metadata in one run (issue 24): unknown keys with the key they likely
mean, fields missing, values wrong, an unknown profile, the faults of an items.csv row, each its
own problem line naming where it is and what to do. A refused item's pages are not run, so the
batch runs here do no OCR (the fast lane)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from conftest import latest_report, run_cli, tree_hashes
from digitize.capture.intake import MetadataFaults, find_items, plan_item, read_item_metadata
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings


def page(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (400, 560), 255).save(path, dpi=(300, 300))


def item(batch: Path, folder: str, toml: str | None, pages: int = 1) -> Path:
    for number in range(1, pages + 1):
        page(batch / folder / f"{number:04d}.png")
    if toml is not None:
        (batch / folder / "item.toml").write_text(toml, encoding="utf-8")
    return batch / folder


def faults_of(report: dict, item_id: str) -> list[tuple[str, str]]:
    """(file, reason) of each error of an item in a run's report, in order."""
    [found] = [i for i in report["items"] if i["item_id"] == item_id]
    return [(p["file"], p["reason"]) for p in found["problems"] if p["severity"] == "error"]


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """One run of a batch whose every item has several metadata faults."""
    root = tmp_path_factory.mktemp("metadata-faults")
    batch = root / "batch"
    item(batch, "TYPOS", 'id = "TYPOS"\ntittle = "Địa chí Hải Dương"\nlibrary = "TEST"\nacces = "open"\n', pages=3)
    item(batch, "VALUES", 'id = "VALUES"\ntitle = "Sai giá trị"\nlibrary = "TEST"\naccess = "Secret"\n'
                          'category = "dia-chi"\ndpi = "300dpi"\nprofile = "quoc-ngu-modren"\n')
    item(batch, "MISSING", 'id = "MISSING"\n')
    item(batch, "CSV-1", None)
    (batch / "items.csv").write_text(
        "folder,id,title,library,Access\n"
        "CSV-1,CSV-1,Bảng tính,TEST,open\n"
        "CSV-1,CSV-1,Bảng tính (bản hai),TEST,secret\n", encoding="utf-8")
    before = tree_hashes(batch)
    out = root / "out"
    result = run_cli("run", str(batch), "--out", str(out))
    return batch, out, result, latest_report(out), before


def test_both_typos_of_an_item_are_reported_in_one_run(refused):
    batch, out, result, report, before = refused
    assert result.returncode == 4 and "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    faults = faults_of(report, "TYPOS")
    assert [file for file, _ in faults] == ["item.toml", "item.toml"]
    assert "unknown key 'tittle'" in faults[0][1] and "did you mean 'title'?" in faults[0][1]
    assert "unknown key 'acces'" in faults[1][1] and "did you mean 'access'?" in faults[1][1]
    assert all("correct the key" in reason.lower() for _, reason in faults)  # and what to do
    assert "'tittle'" in result.stdout and "'acces'" in result.stdout  # the summary shows both
    assert tree_hashes(batch) == before


def test_every_wrong_value_and_the_unknown_profile_at_once(refused):
    *_, report, _ = refused
    reasons = [reason for _, reason in faults_of(report, "VALUES")]
    assert len(reasons) == 4, reasons
    category, access, dpi, profile = reasons  # in the order of the fields
    assert access.startswith("access 'Secret' is not one of 'open', 'restricted' or 'secret'")
    assert category.startswith("category 'dia-chi' is not one of 'dia_chi'")
    assert dpi.startswith("dpi '300dpi': input should be a valid integer")
    assert "unknown material profile 'quoc-ngu-modren'" in profile and "quoc-ngu-modern" in profile


def test_every_missing_field_is_named(refused):
    *_, report, _ = refused
    reasons = [reason for _, reason in faults_of(report, "MISSING")]
    assert reasons[0].startswith("title is not stated") and 'add title = "..." to item.toml' in reasons[0].lower()
    assert reasons[1].startswith("library is not stated") and "--library" in reasons[1]
    assert reasons[2].startswith("the item's access is not stated") and "libraries.toml" in reasons[2]
    assert len(reasons) == 3


def test_the_items_csv_row_is_named_by_its_line_with_all_its_faults(refused):
    *_, report, _ = refused
    faults = faults_of(report, "CSV-1")
    assert [file for file, _ in faults] == ["items.csv:2", "items.csv:2"]
    assert "unknown key 'Access'" in faults[0][1] and "did you mean 'access'?" in faults[0][1]
    assert "2 rows in items.csv (lines 2, 3)" in faults[1][1] and "Keep one row per item folder" in faults[1][1]


# --- the reading of item metadata itself ---

SETTINGS = get_settings()


def profile_for(meta):
    return get_profile(SETTINGS.profiles, meta.profile or "quoc-ngu-modern")


def test_a_typo_beside_the_right_key_says_both_are_there(tmp_path):
    folder = item(tmp_path, "B-1", 'id = "B-1"\ntitle = "Sách"\ntitel = "Sách"\nlibrary = "L"\naccess = "open"\n')
    with pytest.raises(MetadataFaults) as caught:
        read_item_metadata(folder, None)
    [fault] = caught.value.faults
    assert "unknown key 'titel'" in fault.what and "'title'? It is given too" in fault.what


def test_a_row_with_more_values_than_columns_is_a_fault(tmp_path):
    item(tmp_path, "R-1", None)
    (tmp_path / "items.csv").write_text("folder,id,title,library,access\nR-1,R-1,Hải Dương, 1999,L,open\n",
                                        encoding="utf-8")
    [(folder, row)], problems = find_items(tmp_path)
    assert problems == []
    plan = plan_item(folder, tmp_path, row, profile_for, SETTINGS.max_pixels)
    assert not plan.ok and [p.file for p in plan.problems] == ["items.csv:2", "items.csv:2"]
    shifted, access = (p.reason for p in plan.problems)
    assert shifted.startswith("the row has 1 more value(s) than items.csv has columns") and '"quotes"' in shifted
    assert access.startswith("access 'L' is not one of")  # the value the shift put in its column
