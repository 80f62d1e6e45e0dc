"""The search index kept by the pipeline, on a SQLite and on a real PostgreSQL ledger: `digitize
run` indexes what it stores, a new version replaces the old text, a withdrawn item leaves the
index and comes back with `withdraw --undo`, an item made secret leaves it, and `digitize index
--rebuild` makes it again from the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import SAMPLES, invoke_cli, ledger_session, run_cli
from digitize.search import index as search

pytestmark = pytest.mark.slow

LIBRARY = "HD-TV"
# a band of a sample page (its first frame) with the words searched for: OCR in a fraction of the time
PLAN_PAGE = ("HD-DC-0001/0001.tif", 0, 0.3)  # "... Quyết định số 206/QĐ-TTg ... trên địa bàn tỉnh Hải Dương"
KIEU_PAGE = ("HN-TK-0002/0001.tif", 0, 0.3)  # "Trăm năm trong cõi người ta. Chữ tài chữ mệnh ..."
KIEU_LATER = ("HN-TK-0002/0002.tif", 0.7, 1)  # "... Buổi ngày chơi mả Đạm Tiên, ..." (its 30th line of 32)


def put_item(batch: Path, item_id: str, page: tuple[str, float, float], access: str = "open",
             category: str = "dia_chi", profile: str = "quoc-ngu-modern") -> None:
    folder = batch / item_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    name, top, bottom = page
    with Image.open(SAMPLES / name) as scan:
        band = scan.crop((0, int(scan.height * top), scan.width, int(scan.height * bottom)))
        band.save(folder / Path(name).name, dpi=scan.info["dpi"], compression=scan.info["compression"])
    (folder / "item.toml").write_text(f'id = "{item_id}"\ntitle = "Tài liệu {item_id}"\nlibrary = "{LIBRARY}"\n'
                                      f'access = "{access}"\ncategory = "{category}"\nprofile = "{profile}"\n'
                                      'date = "1923"\n', encoding="utf-8")


def found(ledger: str, query: str, tiers=frozenset({"open"})) -> dict[str, int | None]:
    """{item id: best page} of the items a search finds."""
    with ledger_session(ledger) as session:
        return {hit.item_id: hit.page for hit in search.search(session, query, set(tiers)).hits}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_runs_keep_the_index_and_a_rebuild_makes_it_again_from_the_store(engine, tmp_path, request):
    data, batch = tmp_path / "data", tmp_path / "batch"
    settings = {"data": str(data)}
    ledger = f"sqlite:///{data / 'ledger.sqlite'}"
    if engine == "postgresql":
        ledger = settings["ledger"] = request.getfixturevalue("postgres").new_database("indexing")
    put_item(batch, "PLAN", PLAN_PAGE)
    put_item(batch, "KIEU", KIEU_PAGE, category="rare", profile="quoc-ngu-old")
    done = invoke_cli("run", str(batch), "--workers", "2", **settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert found(ledger, "hai duong") == {"PLAN": 1}  # typed without marks, printed "Hải Dương"
    assert found(ledger, "QĐ-TTg") == {"PLAN": 1}
    assert found(ledger, '"cõi người ta"') == {"KIEU": 1}
    assert found(ledger, "tai lieu plan") == {"PLAN": None}  # its title: the record matched, no page

    # a new version with another page: the old page's words are gone, the new ones found
    put_item(batch, "KIEU", KIEU_LATER, category="rare", profile="quoc-ngu-old")
    done = invoke_cli("run", str(batch), "--workers", "2", "--new-version", **settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert found(ledger, '"cõi người ta"') == {}
    assert found(ledger, "dam tien") == {"KIEU": 1}

    # withdrawn: gone from the index; given back: found again
    withdrawn = invoke_cli("withdraw", f"{LIBRARY}/PLAN", **settings)
    assert withdrawn.returncode == 0, withdrawn.stdout + withdrawn.stderr
    assert found(ledger, "206 qd ttg", {"open", "restricted"}) == {}
    back = invoke_cli("withdraw", f"{LIBRARY}/PLAN", "--undo", **settings)
    assert back.returncode == 0, back.stdout + back.stderr
    assert found(ledger, "206 qd ttg") == {"PLAN": 1}
    unknown = run_cli("withdraw", f"{LIBRARY}/NO-SUCH", **settings)
    assert unknown.returncode == 65 and "no such item" in unknown.stdout and "Traceback" not in unknown.stderr

    # made secret by its metadata: out of the index, whoever asks
    put_item(batch, "KIEU", KIEU_LATER, access="secret", category="rare", profile="quoc-ngu-old")
    done = invoke_cli("run", str(batch), "--workers", "2", **settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert found(ledger, "dam tien", {"open", "restricted", "secret"}) == {}

    # the index emptied (as a restored ledger from before search would be): a rebuild from the store
    with ledger_session(ledger) as session:
        search.clear(session)
    assert found(ledger, "206 qd ttg") == {}
    rebuilt = invoke_cli("index", "--rebuild", **settings)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "items indexed: 1 (1 pages); left out (withdrawn, secret or not stored): 1" in rebuilt.stdout
    assert found(ledger, "206 qd ttg") == {"PLAN": 1}
    assert found(ledger, "dam tien", {"open", "restricted"}) == {}

    # a store that lost an item: the rebuild names it and what to do, and indexes the others
    shutil.rmtree(data / "store" / LIBRARY / "PLAN")
    broken = run_cli("index", "--rebuild", **settings)
    assert broken.returncode == 5 and "not indexed" in broken.stdout and "digitize audit" in broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr
