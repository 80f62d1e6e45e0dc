"""Fixity from the ledger, and repair: the audit checks every object the ledger records as stored
(so a deleted store fails it), a run sends again what the store lost, and `digitize repair` restores
missing and changed objects from the local copies byte for byte, or names the items it cannot."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import MINI, SAMPLES, invoke_cli

pytestmark = pytest.mark.slow  # batch runs of sample pages

LIBRARY = "HD-TV"
PAGES = {"HD-DC-0001": "0001.jpg", "HN-TK-0002": "0001.tif"}  # one small file per item keeps it fast


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_batch(root: Path) -> Path:
    batch = root / "batch"
    for item_id, page in PAGES.items():
        (batch / item_id).mkdir(parents=True)
        shutil.copy(MINI / item_id / "item.toml", batch / item_id)  # states access = "open"
        shutil.copy(MINI / item_id / page, batch / item_id)
    return batch


def run(batch: Path, data: Path, *args: str):
    # one page at a time: two items assembled at once can race in building the XML schemas (lxml)
    return invoke_cli("run", str(batch), "--out", str(data / "out"), "--workers", "1", *args)


def first_run(batch: Path, data: Path) -> None:
    """The library's holdings register, then the batch: its items are recorded in the ledger."""
    imported = invoke_cli("holdings", "import", str(SAMPLES / "_holdings" / "HD-TV.csv"), "--library", LIBRARY,
                          "--name", "Thư viện tỉnh Hải Dương", "--province", "hai-duong", "--tier", "provincial",
                          data=str(data))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    result = run(batch, data)
    assert result.returncode == 0, result.stdout + result.stderr


def ledger(data: Path) -> tuple[list, dict[tuple[str, str], tuple[int, str]]]:
    """The items (id, status) and every output recorded: {(item_id, path): (size, sha256)}."""
    with sqlite3.connect(data / "ledger.sqlite") as db:
        items = db.execute("SELECT item_id, status FROM items ORDER BY item_id").fetchall()
        rows = db.execute("SELECT i.item_id, o.path, o.size, o.sha256 FROM outputs o JOIN items i ON o.item = i.id")
        return items, {(item_id, path): (size, digest) for item_id, path, size, digest in rows}


def stored(data: Path, item_id: str, path: str) -> Path:
    return data / "store" / LIBRARY / item_id / path


def url(data: Path, item_id: str, path: str) -> str:
    return stored(data, item_id, path).resolve().as_uri()


def audit(data: Path):
    return invoke_cli("audit", data=str(data))


def reported(result, *kinds: str) -> set[tuple[str, str]]:
    """(kind, object URL) of each line of the output that starts with one of ``kinds``."""
    lines = [line.split() for line in result.stdout.splitlines()]
    return {(words[0], words[1].rstrip(":")) for words in lines if words and words[0] in kinds}


def assert_intact(data: Path, outputs: dict) -> None:
    """Every object the ledger lists is in the store with the recorded SHA-256, byte for byte the
    local copy."""
    for (item_id, path), (size, digest) in outputs.items():
        copy, local = stored(data, item_id, path), data / "out" / LIBRARY / item_id / path
        assert copy.stat().st_size == size, path
        assert sha256(copy) == digest == sha256(local), path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The batch run once: data folder with outputs, store and ledger (tests work on copies)."""
    root = tmp_path_factory.mktemp("stored")
    first_run(make_batch(root), root / "data")
    return root / "data"


@pytest.fixture
def data(template, tmp_path) -> Path:
    shutil.copytree(template, tmp_path / "data")
    return tmp_path / "data"


def test_a_deleted_store_fails_the_audit_and_the_next_runs_send_everything_again(tmp_path):
    batch, data = make_batch(tmp_path), tmp_path / "data"
    first_run(batch, data)
    items, outputs = ledger(data)
    assert items == [("HD-DC-0001", "ok"), ("HN-TK-0002", "ok")]
    clean = audit(data)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"2 items, {len(outputs)} objects checked" in clean.stdout

    for args in ((), ("--new-version",)):
        shutil.rmtree(data / "store")
        lost = audit(data)
        assert lost.returncode == 5, lost.stdout + lost.stderr
        assert reported(lost, "missing", "changed") == {("missing", url(data, i, p)) for i, p in outputs}
        assert f"2 items, {len(outputs)} objects checked" in lost.stdout
        assert f"{len(outputs)} missing, 0 changed" in lost.stdout

        again = run(batch, data, *args)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_intact(data, outputs)
        assert not (data / "store" / "_versions").exists()  # nothing was replaced, only sent again
        after = audit(data)
        assert after.returncode == 0, after.stdout + after.stderr
        assert ledger(data) == (items, outputs)


def test_repair_restores_deleted_and_changed_objects_byte_for_byte(data):
    items, outputs = ledger(data)
    deleted = [("HD-DC-0001", "HD-DC-0001.pdf"), ("HN-TK-0002", "alto/0001.xml"), ("HN-TK-0002", "stored.json")]
    for item_id, path in deleted:
        stored(data, item_id, path).unlink()
    changed = stored(data, "HD-DC-0001", "text/0001.txt")
    damaged = bytearray(changed.read_bytes())
    damaged[0] ^= 1  # the same size: only its SHA-256 tells
    changed.write_bytes(damaged)
    extra = stored(data, "HN-TK-0002", "notes.txt")
    extra.write_text("ghi chú của ai đó", encoding="utf-8")

    found = audit(data)
    assert found.returncode == 5, found.stdout + found.stderr
    assert reported(found, "missing", "changed") == {("missing", url(data, i, p)) for i, p in deleted} | {
        ("changed", url(data, "HD-DC-0001", "text/0001.txt"))}
    assert reported(found, "warning") == {("warning", extra.resolve().as_uri())}  # reported, not a failure
    assert "3 missing, 1 changed, 1 not in the ledger" in found.stdout

    repaired = invoke_cli("repair", data=str(data))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert reported(repaired, "restored") == {("restored", url(data, i, p)) for i, p in deleted}
    assert reported(repaired, "replaced") == {("replaced", url(data, "HD-DC-0001", "text/0001.txt"))}
    assert_intact(data, outputs)
    [kept] = [p for p in (data / "store" / "_versions").rglob("*") if p.is_file()]
    assert kept.relative_to(data / "store").as_posix().endswith("/HD-TV/HD-DC-0001/text/0001.txt")
    assert kept.read_bytes() == damaged
    assert extra.exists()  # left as it is

    after = audit(data)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "0 missing, 0 changed, 1 not in the ledger" in after.stdout
    assert ledger(data) == (items, outputs)


def test_an_item_whose_local_copy_is_gone_is_named_with_what_to_do(data, template):
    items, outputs = ledger(data)
    for path in ("alto/0001.xml", "text/0001.txt"):
        stored(data, "HN-TK-0002", path).unlink()
    (data / "out" / LIBRARY / "HN-TK-0002" / "alto" / "0001.xml").unlink()
    (data / "out" / LIBRARY / "HN-TK-0002" / "text" / "0001.txt").write_text("sửa tay", encoding="utf-8")
    stored(data, "HD-DC-0001", "dc.xml").unlink()  # this one can be repaired

    result = invoke_cli("repair", data=str(data))
    assert result.returncode == 5, result.stdout + result.stderr
    assert reported(result, "restored") == {("restored", url(data, "HD-DC-0001", "dc.xml"))}
    [line] = [line for line in result.stdout.splitlines() if line.startswith("not repairable")]
    assert line.startswith("not repairable HD-TV/HN-TK-0002: ")
    assert "alto/0001.xml: the local copy is gone" in line
    assert "text/0001.txt: the local copy differs from what was stored" in line
    assert "from a backup" in line and "--new-version" in line
    assert "1 objects sent again from the local copies; 1 items not repairable" in result.stdout

    after = audit(data)
    assert after.returncode == 5
    assert reported(after, "missing", "changed") == {("missing", url(data, "HN-TK-0002", p))
                                                     for p in ("alto/0001.xml", "text/0001.txt")}
    # a run of the batch cannot send them either: it names the item and what to do
    rerun = run(template.parent / "batch", data)
    assert rerun.returncode == 4, rerun.stdout + rerun.stderr
    report = json.loads(max((data / "out" / "_reports").glob("batch-*.json")).read_text(encoding="utf-8"))
    [item] = [i for i in report["items"] if i["item_id"] == "HN-TK-0002"]
    [reason] = [p["reason"] for p in item["problems"] if p["severity"] == "error"]
    assert item["status"] == "failed" and "gone from the output folder too (alto/0001.xml)" in reason
    assert "from a backup" in reason and "--new-version" in reason
    assert ledger(data) == (items, outputs)  # the copy stored earlier is still what the ledger records


def test_the_weekly_fixity_audit_flow_checks_the_ledger(data, monkeypatch):
    monkeypatch.setenv("DIGITIZE_DATA", str(data))  # before the import: importing flows reads the settings
    from flows.nightly import fixity_audit

    _, outputs = ledger(data)
    assert fixity_audit.fn() == {"items": 2, "checked": len(outputs), "extra": 0}
    stored(data, "HN-TK-0002", "HN-TK-0002.pdf").unlink()
    with pytest.raises(RuntimeError, match="1 of .* stored objects missing or changed; `digitize audit` names them"):
        fixity_audit.fn()
