"""Mismatches said (issue 24): an item whose category contradicts its holding record is warned
about, naming both sides and which one the quota counts (the register's); two items sharing a
call number, in one batch or against the ledger, are warned about, naming both. A secret item
on the other side is never named."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from conftest import invoke_cli, latest_report, ledger_session, report_statuses, sqlite_url
from digitize.core.models import ItemMetadata, ItemResult
from digitize.core.settings import PACKAGED_PROFILES
from digitize.ledger import database as ledger, holdings, quota
from digitize.ledger.plans import load_plans

REGISTER = "call_number,title,category\nHN.1866.002,Truyện Kiều,rare\nĐC.2008.001,Địa chí Hải Dương,dia_chi\n"
RARE = "rare (Cổ, quý hiếm, có giá trị đặc biệt)"


def meta(item_id: str, call_number: str, category: str | None = None, access: str = "open") -> ItemMetadata:
    fields = {"id": item_id, "title": "Sách", "library": "TEST", "access": access, "call_number": call_number}
    return ItemMetadata.model_validate(fields | ({"category": category} if category else {}))


@pytest.fixture
def register(tmp_path):
    with ledger_session(sqlite_url(tmp_path / "ledger.sqlite")) as session:
        library = holdings.ensure_library(session, "TEST", "Thư viện thử", "hai-duong", "provincial")
        (tmp_path / "register.csv").write_text(REGISTER, encoding="utf-8")
        holdings.import_file(session, tmp_path / "register.csv", library, PACKAGED_PROFILES)
        yield session


def test_a_category_against_the_register_names_both_and_what_the_quota_counts(register):
    found = holdings.check_items(register, [meta("KIEU", "HN.1866.002", "dia_chi"), None,
                                            meta("KIEU-2", "HN.1866.002", "rare").model_copy(
                                                update={"call_number": "", "control_number": "x"}),
                                            meta("UNSTATED", "ĐC.2008.001")])
    [kieu] = found[0]
    assert kieu.startswith(f"category dia_chi (Địa chí) in its metadata, but {RARE} in its holding record "
                           "(call number HN.1866.002 in TEST's register): the quota counts it as rare, as the "
                           "register says; it is listed and published as dia_chi.")
    assert "digitize holdings import" in kieu
    [unstated] = found[3]
    assert unstated.startswith("no category in its metadata, so it is listed and published as other (Khác), "
                               "but its holding record (call number ĐC.2008.001 in TEST's register) says "
                               "dia_chi (Địa chí): the quota counts it as dia_chi")
    assert 'Add category = "dia_chi"' in unstated
    assert set(found) == {0, 3}  # no holding record, nothing to contradict


def test_a_shared_call_number_names_the_other_item_in_the_batch_and_in_the_ledger(register):
    moment = datetime(2026, 6, 1, tzinfo=timezone.utc)
    earlier = [meta("VOL-0", "ĐC.2008.001", "dia_chi"), meta("HIDDEN", "ĐC.2008.001", "dia_chi", "secret")]
    ledger.record_run(register, "earlier", moment, moment, [
        (m, ItemResult(item_id=m.id, library="TEST", status="ok", pages=1), None) for m in earlier])
    found = holdings.check_items(register, [meta("VOL-1", "ĐC.2008.001", "dia_chi"),
                                            meta("VOL-2", "ĐC.2008.001", "dia_chi", "secret"),
                                            meta("ALONE", "X.9", "dia_chi")])
    first, second = found[0], found[1]
    once = " Both match the same holding record, which counts once toward the quota."
    assert first[0] == (f"call number ĐC.2008.001 is also that of a secret item in this batch.{once} If they are "
                        "different works, correct the call number of the wrong one; volumes or copies of one work "
                        "may share it")
    assert len(first) == 3
    assert sum("VOL-0 in the ledger" in w for w in first) == 1 and "HIDDEN" not in " ".join(first)
    assert sum("a secret item in the ledger" in w for w in first) == 1
    # a secret item's own warnings (never shown in public) name the others
    assert any("VOL-1 in this batch" in w for w in second) and any("HIDDEN in the ledger" in w for w in second)
    assert 2 not in found


# --- a run, as the operator sees it ---

def blank_item(batch: Path, item_id: str, call_number: str, category: str) -> None:
    folder = batch / item_id
    folder.mkdir(parents=True)
    Image.new("L", (400, 560), 255).save(folder / "0001.png", dpi=(300, 300))  # blank: stored without OCR
    (folder / "item.toml").write_text(
        f'id = "{item_id}"\ntitle = "Sách {item_id}"\nlibrary = "TEST"\naccess = "open"\n'
        f'call_number = "{call_number}"\ncategory = "{category}"\n', encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mismatch")
    (root / "register.csv").write_text(REGISTER, encoding="utf-8")
    imported = invoke_cli("holdings", "import", str(root / "register.csv"), "--library", "TEST", "--name", "Thư viện thử",
                          "--province", "hai-duong", "--tier", "provincial", data=str(root))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    first, second, out = root / "first", root / "second", root / "out"
    blank_item(first, "KIEU", "HN.1866.002", "dia_chi")
    blank_item(first, "VOL-1", "ĐC.2008.001", "dia_chi")
    blank_item(first, "VOL-2", "ĐC.2008.001", "dia_chi")
    blank_item(second, "VOL-3", "ĐC.2008.001", "dia_chi")
    done = []
    for batch in (first, second):
        done.append(invoke_cli("run", str(batch), "--out", str(out)))
        done.append(latest_report(out))
    return root, *done


@pytest.mark.slow  # batch runs that store their items (blank pages: no OCR)
def test_the_run_warns_of_each_mismatch_and_the_quota_counts_as_it_says(runs):
    root, result, report, later, later_report = runs
    assert result.returncode == 0 and later.returncode == 0, result.stdout + result.stderr + later.stdout
    assert report_statuses(report) == {"KIEU": "ok", "VOL-1": "ok", "VOL-2": "ok"}
    shown = " ".join(result.stdout.split())  # the summary's lines, however wide the terminal
    assert ("warning KIEU: category dia_chi (Địa chí) in its metadata, but rare (Cổ, quý hiếm, có giá trị đặc biệt) "
            "in its holding record (call number HN.1866.002 in TEST's register): the quota counts it as rare") in shown
    assert "warning VOL-1: call number ĐC.2008.001 is also that of VOL-2 in this batch." in shown
    assert "warning VOL-2: call number ĐC.2008.001 is also that of VOL-1 in this batch." in shown
    later_shown = " ".join(later.stdout.split())
    for other in ("VOL-1", "VOL-2"):
        assert f"warning VOL-3: call number ĐC.2008.001 is also that of {other} in the ledger." in later_shown
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        rows = {r.category: r for r in quota.progress(session, load_plans(PACKAGED_PROFILES), date.today(),
                                                      library="TEST")}
    # digitized (awaiting review, so not accepted yet): in the category the warnings name
    assert rows["rare"].stored == 1 and rows["rare"].awaiting == 1  # KIEU, as its warning says
    assert rows["dia_chi"].stored == 1 and rows["dia_chi"].awaiting == 1  # the three volumes: one holding record
