"""A quarantine that stays true (issue 24): each reason written once however often the batch runs;
a metadata refusal copies no page, only names them; what is no longer bad, and an item once it is
stored, leaves the quarantine for its .resolved history. The runs before the last refuse every
item at intake (no OCR: the fast lane); the last stores them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from conftest import invoke_cli, latest_report, report_statuses, run_cli, tree_hashes

TYPO = 'id = "BOOK"\ntittle = "Địa chí Hải Dương"\nlibrary = "TEST"\naccess = "open"\n'
BOOK_PAGES = [f"{n:04d}.png" for n in range(1, 6)]


def page(path: Path, size=(400, 560)) -> None:
    Image.new("L", size, 255).save(path, dpi=(300, 300))  # a blank page: stored without OCR


def entry(out: Path, folder: str) -> dict[str, str]:
    """A quarantine entry: its files and their text (the copies' bytes as text too)."""
    base = out / "_quarantine" / "batch" / folder
    return {str(p.relative_to(base)): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(base.rglob("*")) if p.is_file()}


def resolved(out: Path, folder: str) -> list[Path]:
    return sorted((out / "_quarantine" / ".resolved" / "batch" / folder).glob("*/*"))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two runs of one batch: a book refused for a key typo, an item with two bad pages, the empty
    one replaced by its scan before the second run (the item is still refused for the other). The
    book's entry as an earlier version left it (its pages copied whole, its reason three times) is
    in the quarantine before."""
    root = tmp_path_factory.mktemp("quarantine")
    batch, out = root / "batch", root / "out"
    book = batch / "BOOK"
    book.mkdir(parents=True)
    for name in BOOK_PAGES:
        page(book / name)
    (book / "item.toml").write_text(TYPO, encoding="utf-8")
    pages = batch / "BAD-PAGES"
    pages.mkdir()
    (pages / "item.toml").write_text(TYPO.replace("BOOK", "BAD-PAGES").replace("tittle", "title"), encoding="utf-8")
    (pages / "0001.png").write_bytes(b"")
    page(pages / "0002.png", (50, 50))
    page(pages / "0003.png")
    old = out / "_quarantine" / "batch" / "BOOK"
    (old / "original").mkdir(parents=True)
    page(old / "original" / "0001.png")
    (old / "REASON.txt").write_text("old reason\n" * 3, encoding="utf-8")
    runs = []
    for number in range(2):
        before = tree_hashes(batch)
        result = run_cli("run", str(batch), "--out", str(out))
        assert result.returncode == 4 and "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        assert tree_hashes(batch) == before  # the originals are only read
        runs.append((entry(out, "BOOK"), entry(out, "BAD-PAGES")))
        if number == 0:
            page(pages / "0001.png")
    return root, batch, out, runs


def test_a_key_typo_copies_no_page_but_names_them(two_runs):
    _, batch, out, runs = two_runs
    book, _ = runs[0]
    assert sorted(book) == ["REASON.txt", "item.toml", "item.toml.reason.txt"]  # no page of the book
    reason = book["REASON.txt"]
    assert reason.startswith(f"BOOK is refused (item folder {batch / 'BOOK'}). What to fix:\n")
    assert "- item.toml: unknown key 'tittle' in the item metadata (did you mean 'title'?)" in reason
    named = reason.split("Not copied (the originals stay in the item folder, untouched):\n")[1].split()
    assert named == BOOK_PAGES
    assert book["item.toml"] == TYPO and "'tittle'" in book["item.toml.reason.txt"]


def test_what_an_earlier_version_left_goes_to_the_history(two_runs):
    _, _, out, runs = two_runs
    assert "old reason" not in runs[0][0]["REASON.txt"]
    [original] = [p for p in resolved(out, "BOOK") if p.name == "original"]
    assert (original / "0001.png").is_file()  # set aside, not deleted


def test_each_reason_is_written_once_however_often_the_batch_runs(two_runs):
    _, _, _, runs = two_runs
    assert runs[1][0] == runs[0][0]  # the book, unchanged, has the same entry
    book, pages = runs[1]
    assert book["REASON.txt"].count("'tittle'") == 1 and book["item.toml.reason.txt"].count("'tittle'") == 1
    first = runs[0][1]
    assert sorted(first) == ["0001.png", "0001.png.reason.txt", "0002.png", "0002.png.reason.txt", "REASON.txt"]
    assert first["0001.png.reason.txt"].count("\n") == 1 and "empty (0 bytes)" in first["0001.png.reason.txt"]
    assert pages["0002.png.reason.txt"] == first["0002.png.reason.txt"]
    assert pages["0002.png.reason.txt"].count("\n") == 1 and "50x50 pixels" in pages["0002.png.reason.txt"]
    assert [line for line in pages["REASON.txt"].splitlines() if line.startswith("- ")] == [
        "- 0002.png: " + pages["0002.png.reason.txt"].split(": ", 1)[1].strip()]


def test_a_page_fixed_leaves_the_entry_for_its_history(two_runs):
    _, _, out, runs = two_runs
    pages = runs[1][1]
    assert sorted(pages) == ["0002.png", "0002.png.reason.txt", "REASON.txt"]
    assert "empty" not in pages["REASON.txt"] and "50x50 pixels" in pages["REASON.txt"]
    assert pages["REASON.txt"].split("untouched):\n")[1].split() == ["0001.png", "0003.png", "item.toml"]
    history = {p.name for p in resolved(out, "BAD-PAGES")}
    assert history == {"0001.png", "0001.png.reason.txt"}


@pytest.mark.slow  # a batch run that stores its items (blank pages: no OCR)
def test_an_item_stored_leaves_the_quarantine(two_runs):
    _, batch, out, _ = two_runs
    (batch / "BOOK" / "item.toml").write_text(TYPO.replace("tittle", "title"), encoding="utf-8")
    page(batch / "BAD-PAGES" / "0002.png")
    result = invoke_cli("run", str(batch), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = latest_report(out)
    assert report_statuses(report) == {"BOOK": "ok", "BAD-PAGES": "ok"}
    assert not (out / "_quarantine" / "batch").exists()  # nothing of this batch is refused now
    left = report["left_quarantine"]
    assert sorted(left) == ["BAD-PAGES", "BOOK"]
    assert "unknown key 'tittle'" in (Path(left["BOOK"]) / "REASON.txt").read_text(encoding="utf-8")
    assert (Path(left["BAD-PAGES"]) / "0002.png.reason.txt").is_file()
