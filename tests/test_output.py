"""Output for people and for logs: into a log (as cron keeps it, at 80 columns) one whole line per
item that grep finds; on an 80-column terminal tables that wrap, never cutting a cell or splitting an
id, and a progress line naming the item and the time left; a closing block saying where the report
and the quarantine are and what to run next; `digitize quota` losing no character of any cell."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import (SAMPLES, cli_env, invoke_cli, latest_report, ledger_session, register_library, run_cli_in_terminal,
                      toml)
from digitize.ledger import review

PAGE = SAMPLES / "HD-DC-0001" / "0003.png"
REGISTER = SAMPLES / "_holdings" / "HD-TV.csv"
LONG_ID = "HD-DC-0009-TAP-02"
LONG_LIBRARY = "HD-THANH-HA-HUYEN"


def make_item(batch: Path, folder: str, text: str, page: bool = True) -> None:
    (batch / folder).mkdir(parents=True)
    (batch / folder / "item.toml").write_text(text, encoding="utf-8")
    if page:
        shutil.copy(PAGE, batch / folder / "0001.png")


def run_logged(log: Path, *args: str, columns: int = 80, **settings: str) -> int:
    """`digitize ARGS > log 2>&1` with COLUMNS=80, as a cron job runs it."""
    with log.open("w", encoding="utf-8") as handle:
        return subprocess.run([sys.executable, "-m", "digitize.cli.app", *args], stdout=handle,
                              stderr=subprocess.STDOUT, env=cli_env(None, args, settings) | {"COLUMNS": str(columns)},
                              timeout=900).returncode


def screen_lines(text: str) -> list[str]:
    """The lines a terminal shows, each redrawing of the progress line one line."""
    return re.split(r"[\r\n]", text)


def whole(word: str, text: str) -> bool:
    """Whether ``word`` stands whole in ``text`` (not a piece of a longer code)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def characters(text: str) -> Counter:
    """Every character but spaces and a table's rule: what a terminal's table must keep of a log's lines."""
    return Counter(c for c in text if not c.isspace() and c != "─")


def failure_reason(item: dict) -> str:
    return "; ".join(f"{p['file'] + ': ' if p['file'] else ''}{p['reason']}" for p in item["problems"]
                     if p["severity"] == "error")


# --- a batch run: items that fail at intake (no OCR) and one page read ---

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A batch (a metadata typo, two folders with one id, an item with a long id and no pages, one good
    item) run on an 80-column terminal, then again into a log and with --plain; the quota after it,
    into a log and on the terminal (a second library, with a long code, in the ledger)."""
    root = tmp_path_factory.mktemp("output")
    batch, out = root / "batch", root / "out"
    common = dict(library="HD-TV", category="dia_chi", access="open")
    make_item(batch, "HD-DC-0006", toml(id="HD-DC-0006", title="Địa chí Hải Dương", library="HD-TV",
                                        acces="open"))
    make_item(batch, "DUP-A", toml(id="HD-DC-0007", title="Bản A", **common))
    make_item(batch, "DUP-B", toml(id="HD-DC-0007", title="Bản B", **common))
    make_item(batch, "HD-DC-0008", toml(id="HD-DC-0008", title="Kế hoạch chuyển đổi số", call_number="ĐC.2023.001",
                                        **common))
    make_item(batch, LONG_ID, toml(id=LONG_ID, title="Tập 2", **common), page=False)
    imported = invoke_cli("holdings", "import", str(REGISTER), "--library", "HD-TV", data=str(root))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    register_library(root, LONG_LIBRARY)
    terminal = run_cli_in_terminal("run", str(batch), "--out", str(out), columns=80)
    first_report = latest_report(out)
    log = root / "run.log"
    logged = run_logged(log, "run", str(batch), "--out", str(out))
    plain = run_cli_in_terminal("run", str(batch), "--out", str(out), "--plain", columns=80)
    with ledger_session(f"sqlite:///{root / 'ledger.sqlite'}") as session:  # accepted: it counts
        review.accept(session, review.find(session, "HD-TV", "HD-DC-0008"), "lan.duyet")
    quota_log = root / "quota.log"
    assert run_logged(quota_log, "quota", data=str(root)) == 0, quota_log.read_text(encoding="utf-8")
    quota = run_cli_in_terminal("quota", columns=80, data=str(root))
    return dict(root=root, batch=batch, out=out, terminal=terminal, first_report=first_report, log=log,
                logged=logged, plain=plain, quota_log=quota_log, quota=quota)


@pytest.mark.slow
def test_the_log_has_each_item_and_its_whole_reason_on_one_line(runs):
    text = runs["log"].read_text(encoding="utf-8")
    assert runs["logged"] == 4, text
    assert "━" not in text and "\r" not in text and "0/?" not in text  # no progress bar in a log
    assert "…" not in text
    report = latest_report(runs["out"])
    assert len(report["items"]) == 5
    for item in report["items"]:
        lines = [line for line in text.splitlines() if whole(item["item_id"], line) and "\t" in line]
        mine = [line for line in lines if line.split("\t")[1] == item["folder"]]
        assert len(mine) == 1, (item["item_id"], lines)
        if item["status"] == "failed":
            assert failure_reason(item) in mine[0] and mine[0].split("\t")[2] == "failed"
    # `grep HD-DC-0006 run.log`: the item, its folder, its status and the whole reason
    [line] = [line for line in text.splitlines() if "HD-DC-0006" in line]
    assert line.startswith("HD-DC-0006\tHD-DC-0006\tfailed\t")
    assert "unknown key 'acces' in the item metadata (did you mean 'access'?)" in line
    assert line.endswith("and run again")
    # two folders with one id, told apart by their folders
    assert {line.split("\t")[1] for line in text.splitlines() if line.startswith("HD-DC-0007\t")} == {"DUP-A", "DUP-B"}
    # the item the first run finished: "already done", not the first run's time
    [done] = [line.split("\t") for line in text.splitlines() if line.startswith("HD-DC-0008\t")]
    assert done[2] == "ok" and done[7] == "already done" and done[8].endswith("HD-DC-0008.pdf"), done


@pytest.mark.slow
def test_the_closing_block_says_where_the_report_and_the_quarantine_are_and_what_to_run_next(runs):
    text = runs["log"].read_text(encoding="utf-8")
    lines = text.splitlines()
    [report] = [line.removeprefix("report: ") for line in lines if line.startswith("report: ")]
    assert Path(report).parent == runs["out"] / "_reports"
    assert json.loads(Path(report).read_text(encoding="utf-8"))["report"] == report  # this run's own report
    [quarantine] = [line.removeprefix("quarantine: ").split(" (")[0] for line in lines
                    if line.startswith("quarantine: ")]
    assert Path(quarantine) == runs["out"] / "_quarantine" / "batch" and Path(quarantine).is_dir()
    [next_step] = [line for line in lines if line.startswith("next: ")]
    assert f"digitize run {runs['batch']} --out {runs['out']}" in next_step
    assert "fix what the reasons above say" in next_step
    assert lines.index(next_step) > max(i for i, line in enumerate(lines) if line.startswith("HD-DC-"))


@pytest.mark.slow
def test_an_80_column_terminal_gets_a_table_that_wraps_and_never_splits_an_id(runs):
    shown, report = runs["terminal"], runs["first_report"]
    assert shown.returncode == 4, shown.stdout
    lines = screen_lines(shown.stdout)
    start = next(i for i, line in enumerate(lines) if line.startswith("Batch batch"))
    table = lines[start:next(i for i, line in enumerate(lines) if line.startswith("items ok "))]
    assert max(len(line) for line in table) <= 80 and "…" not in shown.stdout
    for item in report["items"]:
        assert any(line.startswith(item["item_id"] + " ") for line in table), item["item_id"]
        for word in failure_reason(item).split():  # every word of the reason, none cut
            assert any(word in line for line in table), (item["item_id"], word)
    rows = [line.split() for line in table if line.startswith("HD-DC-0007 ")]
    assert sorted(row[1] for row in rows) == ["DUP-A", "DUP-B"]  # the two rows told apart
    assert report["items"][[i["item_id"] for i in report["items"]].index("HD-DC-0008")]["status"] == "ok"
    # the closing block, each line whole (the terminal wraps it; a copied path or command stays one)
    command = f"digitize run {runs['batch']} --out {runs['out']} "
    assert any(line.startswith("next: fix what the reasons above say") and command in line for line in lines)


@pytest.mark.slow
def test_the_progress_names_the_item_and_the_time_left(runs):
    lines = screen_lines(runs["terminal"].stdout)
    assert "0/?" not in runs["terminal"].stdout
    assert any(re.search(r"intake .* 5/5 item folders", line) for line in lines)
    working = [line for line in lines if re.search(r"pages .* 0/1 pages .*left HD-DC-0008$", line.rstrip())]
    assert working, [line for line in lines if "pages" in line][:5]


@pytest.mark.slow
def test_plain_on_a_terminal_gives_the_lines_of_a_log(runs):
    shown = runs["plain"]
    assert shown.returncode == 4, shown.stdout
    lines = screen_lines(shown.stdout)
    assert any(line.startswith("HD-DC-0006\tHD-DC-0006\tfailed\t") and line.endswith("and run again") for line in lines)
    assert not any(line.startswith("───") for line in lines)


@pytest.mark.slow
def test_quota_loses_no_character_of_any_cell_into_a_log_and_at_80_columns(runs):
    text = runs["quota_log"].read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line]
    assert rows[0][:3] == ["province", "library", "category"] and len(rows[0]) == 13
    [row] = [row for row in rows if row[:3] == ["hai-duong", "HD-TV", "dia_chi"]]
    # holdings, digitized, awaiting review, accepted, pages, %, target, met, pace
    assert row[3:12] == ["3", "1", "0", "1", "1", "33.3", "100", "behind", "0.3"], row
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[12]), row  # the date the target is reached, whole
    assert any(row[:2] == ["hai-duong", LONG_LIBRARY] for row in rows) and "…" not in text
    shown = runs["quota"]
    assert shown.returncode == 0, shown.stdout
    lines = screen_lines(shown.stdout)
    assert "\t" not in shown.stdout and "───" in shown.stdout  # a table, not the log's lines
    assert max(len(line) for line in lines) <= 80
    # the same characters as the log's lines: a cut cell ("HD-…", "202…") loses some and adds "…"
    assert characters(shown.stdout) == characters(text)
    for code in ("HD-TV", LONG_LIBRARY, "hai-duong", "dia_chi", row[12]):  # whole on their lines
        assert any(whole(code, line) for line in lines), code
