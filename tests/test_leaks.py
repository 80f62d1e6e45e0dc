"""Nothing leaks: credentials in DIGITIZE_STORE are refused without being echoed, a ledger password
never shows, a database error never shows a secret item's title, report cells never become
spreadsheet formulas, our files get the mode the umask gives, and Prefect never names a secret item."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from conftest import MINI, batch_flow_runs, cli_env, invoke_cli, ledger_session, run_cli, sqlite_url
from digitize.core.errors import ConfigError, LedgerUnavailable

PAGE = MINI / "HD-DC-0001" / "0001.jpg"  # a strip of text: what is tested is where words go, not the OCR
SECRET_ID = "MAT-0007"
SECRET_TITLE = "Hồ sơ mật TUYỆT-MẬT-42"


def make_batch(root: Path, items: list[tuple[str, str, str]]) -> Path:
    """A batch of one-page items: (id, access, title) each; the page file is readable by its owner
    only, as some scanners leave them."""
    batch = root / "batch"
    for item_id, access, title in items:
        folder = batch / item_id
        folder.mkdir(parents=True)
        (folder / "item.toml").write_text(
            f'id = "{item_id}"\ntitle = "{title}"\nlibrary = "TEST"\ncategory = "dia_chi"\naccess = "{access}"\n'
            f'call_number = "CN-{item_id}"\n', encoding="utf-8")
        shutil.copy(PAGE, folder / "0001.jpg")
        (folder / "0001.jpg").chmod(0o600)
    return batch


def files_holding(folder: Path, *secrets: str) -> list[str]:
    """Every file under ``folder`` (or its name) that holds one of ``secrets``."""
    found = []
    for path in folder.rglob("*"):
        if any(s in str(path) for s in secrets) or (path.is_file() and any(
                s.encode() in path.read_bytes() for s in secrets)):
            found.append(str(path))
    return found


# --- credentials in the store URL ---

@pytest.mark.slow  # several seconds: pages rendered or several commands run
@pytest.mark.parametrize("store,secrets", [
    ("s3://AKIAXXXX:SuperSecret123@bucket/x", ("AKIAXXXX", "SuperSecret123")),
    ("s3://AKIAXXXX@bucket", ("AKIAXXXX",)),
    # AWS secret keys may hold "/": the URL then parses with the secret before the bucket
    ("s3://AKIAXXXX:wJalr/SuperSecret123@bucket/x", ("AKIAXXXX", "wJalr", "SuperSecret123")),
])
def test_credentials_in_the_store_url_are_refused_without_being_shown(tmp_path, store, secrets):
    batch = make_batch(tmp_path, [("OPEN-1", "open", "Sách thử")])
    data = tmp_path / "data"
    for args in (("run", str(batch), "--out", str(data / "out")), ("audit",), ("backup", "--list")):
        result = run_cli(*args, store=store, data=str(data))
        assert result.returncode == ConfigError.exit_code, result.stdout + result.stderr
        assert "DIGITIZE_STORE: credentials do not belong in the store URL" in result.stderr
        assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in result.stderr
        for secret in secrets:
            assert secret not in result.stdout + result.stderr, args
    assert files_holding(data, *secrets) == []


# --- the ledger's password ---

@pytest.mark.slow  # a real PostgreSQL
def test_a_ledger_password_is_never_shown(postgres, tmp_path):
    password = "PgSecret42"
    with_password = postgres.new_database("leak").replace("digitize@", f"digitize:{password}@")
    empty = postgres.new_database("leak").replace("digitize@", f"digitize:{password}@")
    data = tmp_path / "data"
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("call_number,title,category\nCN-OPEN-1,Sách thử,dia_chi\n", encoding="utf-8")
    batch = make_batch(tmp_path, [("OPEN-1", "open", "Sách thử")])
    outputs = []

    def digitize(*args, ledger=with_password, code=0):
        result = run_cli(*args, ledger=ledger, data=str(data))
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == code, result.stdout + result.stderr
        return result

    digitize("holdings", "import", str(holdings), "--library", "TEST", "--name", "Thư viện thử",
             "--province", "hai-duong", "--tier", "provincial")
    digitize("run", str(batch), "--out", str(data / "out"))
    digitize("quota")
    digitize("backup")
    restored = digitize("restore", ledger=empty)
    assert empty.replace(password, "***") in restored.stdout.replace("\n", "")
    refused = digitize("restore", ledger=empty, code=ConfigError.exit_code)
    assert "already holds data" in refused.stderr and "digitize:***@" in refused.stderr
    gone = with_password.replace(f":{postgres.port}/", ":1/")  # nothing listens on port 1
    unreachable = digitize("quota", ledger=gone, code=LedgerUnavailable.exit_code)
    assert "ledger cannot be opened" in unreachable.stderr and "digitize:***@" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    assert [o for o in outputs if password in o] == []
    assert files_holding(data, password) == []


# --- a database error with a secret item's row ---

REFUSE = "CREATE TRIGGER refuse_{0} BEFORE INSERT ON {0} BEGIN SELECT RAISE(ABORT, 'the ledger refuses rows'); END"


def refusing_ledger(data: Path, table: str) -> str:
    """A ledger that refuses new rows of ``table`` (as a full disk or a broken database would) when
    it already has the row in hand."""
    from sqlalchemy import text

    from digitize.ledger import holdings

    url = sqlite_url(data / "ledger.sqlite")
    with ledger_session(url) as session:
        holdings.ensure_library(session, "TEST", "Thư viện thử", "hai-duong", "provincial")
        session.execute(text(REFUSE.format(table)))
        session.commit()
    return url


@pytest.mark.slow  # a batch run (OCR)
def test_a_ledger_error_does_not_show_a_secret_items_title(tmp_path):
    from digitize.ledger import database as ledger
    from digitize.core.models import Access, Category, ItemMetadata, ItemResult

    data = tmp_path / "data"
    url = refusing_ledger(data, "items")
    batch = make_batch(tmp_path, [(SECRET_ID, "secret", SECRET_TITLE)])
    result = run_cli("run", str(batch), "--out", str(data / "out"), "--workers", "1")
    shown = result.stdout + result.stderr
    assert "quota ledger refused the run's record" in shown and SECRET_TITLE not in shown, shown
    assert result.returncode == LedgerUnavailable.exit_code  # not 0 (issue 25): the run is not counted
    [report] = (data / "out" / "_reports").glob("*.json")
    assert "quota ledger refused the run's record" in report.read_text(encoding="utf-8")
    assert SECRET_TITLE not in report.read_text(encoding="utf-8")

    # the database error itself, as any caller of the ledger gets it: the statement, not the row
    meta = ItemMetadata(id=SECRET_ID, title=SECRET_TITLE, library="TEST", category=Category.dia_chi,
                        access=Access.secret)
    now = datetime.now(timezone.utc)
    with ledger_session(url) as session, pytest.raises(Exception) as raised:
        ledger.record_run(session, "batch", now, now, [(meta, ItemResult(item_id=SECRET_ID, library="TEST",
                                                                         status="ok", pages=1), None)])
    assert "the ledger refuses rows" in str(raised.value) and "INSERT INTO items" in str(raised.value)
    assert SECRET_TITLE not in str(raised.value)


def test_a_refused_holdings_import_does_not_show_the_register(tmp_path):
    data = tmp_path / "data"
    refusing_ledger(data, "holdings")
    register = tmp_path / "holdings.csv"
    register.write_text(f"call_number,title,category\nCN-1,{SECRET_TITLE},dia_chi\n", encoding="utf-8")
    result = run_cli("holdings", "import", str(register), "--library", "TEST", data=str(data))
    assert result.returncode != 0
    assert "the ledger refuses rows" in result.stderr, result.stderr
    assert SECRET_TITLE not in result.stdout + result.stderr and "CN-1" not in result.stdout + result.stderr


# --- report cells that look like formulas ---

EVIL = '=HYPERLINK("http://evil.example/x","Bấm vào đây")'


@pytest.mark.slow  # several seconds: pages rendered or several commands run
def test_report_cells_never_become_formulas(tmp_path):
    from openpyxl import load_workbook

    data, out = tmp_path / "data", tmp_path / "reports"
    register = tmp_path / "holdings.csv"
    register.write_text("call_number,title,category\nCN-1,Sách 1,dia_chi\nCN-2,Sách 2,rare\n", encoding="utf-8")
    names = {"HD-EVIL": EVIL, "HD-AT": "@SUM(1+1)*cmd|' /C calc'!A0", "HD-PLUS": "+84 Thư viện",
             "HD-TAB": "\t=1+1", "HD-OK": "Thư viện tỉnh Hải Dương"}
    for code, name in names.items():
        made = invoke_cli("holdings", "import", str(register), "--library", code, "--name", name,
                       "--province", "hai-duong", "--tier", "district", data=str(data))
        assert made.returncode == 0, made.stdout + made.stderr
    made = invoke_cli("report", "--period", "2026", "--out", str(out), data=str(data))
    assert made.returncode == 0, made.stdout + made.stderr

    sheet = load_workbook(out / "bao-cao-so-hoa-all-2026.xlsx").active
    header_row = sheet[sheet.freeze_panes].row - 1  # the header is the row kept frozen on top
    header = [c.value for c in sheet[header_row]]
    library, holdings = header.index("Thư viện"), header.index("Vốn tài liệu")
    cells = {row[library].value: row for row in list(sheet.iter_rows(min_row=header_row + 1))[:-1]}  # not the totals
    assert set(cells) == set(names.values())
    for name, row in cells.items():
        assert row[library].data_type == "s", name  # the exact text, as text
        assert (row[holdings].value, row[holdings].data_type) == (1, "n")
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)

    with (out / "bao-cao-so-hoa-all-2026.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["Thư viện"] for row in rows} == {name if code == "HD-OK" else f"'{name}" for code, name in names.items()}
    assert {row["Vốn tài liệu"] for row in rows} == {"1"}


def test_negative_numbers_stay_numbers_in_the_report(tmp_path):
    from datetime import date

    from openpyxl import load_workbook

    from digitize.ledger import quota

    row = quota.ReportRow(province="hai-duong", province_name="Hải Dương", library="HD-TV", library_name="-1 (cũ)",
                          tier="provincial", category="dia_chi", holdings=-3, digitized_in_period=0,
                          digitized_total=0, pages_total=0, percent=-12.5, target=None, met=None)
    report = quota.PeriodReport(period="2026", start=date(2026, 1, 1), end=date(2026, 12, 31), made=date(2026, 12, 7),
                                province=None, province_name=None, library=None, library_name=None, rows=[row])
    csv_path, xlsx_path = quota.write_report(report, tmp_path, "r")
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        [line] = list(csv.DictReader(handle))
    assert (line["Vốn tài liệu"], line["Tỷ lệ (%)"], line["Thư viện"]) == ("-3", "-12.5", "'-1 (cũ)")
    sheet = load_workbook(xlsx_path).active
    header_row = sheet[sheet.freeze_panes].row - 1
    header = [c.value for c in sheet[header_row]]
    cells = list(sheet[header_row + 1])
    holdings = cells[header.index("Vốn tài liệu")]
    assert (holdings.value, holdings.data_type) == (-3, "n")
    assert cells[header.index("Tỷ lệ (%)")].value == -12.5
    assert cells[header.index("Thư viện")].data_type == "s"


# --- file modes ---

def run_with_umask(umask: int, *args: str, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f'umask {umask:03o} && exec "$@"', "bash", sys.executable, "-m",
                           "digitize.cli", *args], env=cli_env(None, args, settings), capture_output=True,
                          text=True, timeout=900)


def modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mode & 0o777 for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow  # a batch run (OCR)
@pytest.mark.parametrize("umask,mode", [(0o002, 0o664), (0o027, 0o640)])
def test_our_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    """With the service's umask (002: the group may read and write; 027: the group may read, others
    nothing) every output, stored file, report and backup has that mode, whatever the scans' mode."""
    data = tmp_path / "data"
    batch = make_batch(tmp_path, [("OPEN-1", "open", "Sách thử")])
    register = tmp_path / "holdings.csv"
    register.write_text("call_number,title,category\nCN-OPEN-1,Sách thử,dia_chi\n", encoding="utf-8")
    for args in (("holdings", "import", str(register), "--library", "TEST", "--name", "Thư viện thử",
                  "--province", "hai-duong", "--tier", "provincial"),
                 ("run", str(batch), "--out", str(data / "out"), "--workers", "1"),
                 ("report", "--period", "2026", "--out", str(data / "reports")),
                 ("backup",)):
        result = run_with_umask(umask, *args, data=str(data))
        assert result.returncode == 0, result.stdout + result.stderr
    found = modes(data)
    # SQLite makes its file 0644 at most; it is group-readable and not world-writable all the same
    ledger_mode = found.pop("ledger.sqlite")
    assert ledger_mode & 0o040 and not ledger_mode & 0o002
    for part in ("out/TEST/OPEN-1/OPEN-1.pdf", "out/TEST/OPEN-1/mets.xml", "out/TEST/OPEN-1/stored.json",
                 "out/TEST/OPEN-1/masters/0001.jpg", "store/TEST/OPEN-1/OPEN-1.pdf",
                 "store/TEST/OPEN-1/masters/0001.jpg", "reports/bao-cao-so-hoa-all-2026.xlsx"):
        assert part in found, sorted(found)
    assert any(k.startswith("out/_reports/") for k in found) and any(k.startswith("store/_backups/") for k in found)
    assert {k: oct(v) for k, v in found.items() if v != mode} == {}


@pytest.mark.slow  # a batch run (OCR of its good page)
def test_quarantine_copies_get_the_mode_the_umask_gives(tmp_path):
    data = tmp_path / "data"
    batch = make_batch(tmp_path, [("BAD-1", "open", "Sách hỏng")])
    broken = batch / "BAD-1" / "0002.jpg"
    broken.write_bytes(PAGE.read_bytes()[:2000])  # truncated
    broken.chmod(0o600)
    result = run_with_umask(0o002, "run", str(batch), "--out", str(data / "out"), "--workers", "1")
    assert result.returncode != 0
    found = modes(data / "out" / "_quarantine")
    assert any(k.endswith("0002.jpg") for k in found), sorted(found)
    assert {k: oct(v) for k, v in found.items() if v != 0o664} == {}


# --- secret items in Prefect ---

@pytest.mark.slow  # a real Prefect server
def test_prefect_never_names_a_secret_item(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")  # the flow's item lines reach the server too
    open_title = "Sách mở để so sánh"
    batch = make_batch(tmp_path, [("OPEN-1", "open", open_title), (SECRET_ID, "secret", SECRET_TITLE)])
    began = datetime.now(timezone.utc)
    data = tmp_path / "data"
    result = run_cli("run", str(batch), "--out", str(data / "out"), "--workers", "2", api_url=prefect_server)
    assert "OPEN-1" in result.stdout, result.stdout + result.stderr
    [run] = batch_flow_runs(prefect_server, batch, began)
    artifacts = httpx.post(f"{prefect_server}/artifacts/filter", json={
        "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    logs = httpx.post(f"{prefect_server}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    tasks = httpx.post(f"{prefect_server}/task_runs/filter", json={"flow_runs": {"id": {"any_": [run["id"]]}}}).json()
    summary = next(a for a in artifacts if a["key"] == "batch-summary")
    assert "OPEN-1" in summary["data"] and "secret item" in summary["data"]
    assert any("OPEN-1" in entry["message"] for entry in logs)
    seen = repr([run, artifacts, logs, tasks])
    assert SECRET_ID not in seen and SECRET_TITLE not in seen and open_title not in seen
