"""Ordinary mistakes in item metadata and item identity: a misspelt, mis-cased or missing access
never publishes an item; a secret item appears in no public output; changed metadata of a
finished item is stored again as a new version; two items never share an id."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pikepdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from conftest import (MINI, SAMPLES, invoke_cli, latest_report, ledger_session, register_library, report_reasons,
                      report_statuses, run_cli, sqlite_url, toml, tree_hashes)
from digitize.ledger.database import Item
from digitize.core.links import PublicLinks
from digitize.core.settings import PACKAGED_PROFILES

pytestmark = pytest.mark.slow  # batch runs (OCR)

OPEN_PAGE = MINI / "HD-DC-0001" / "0001.jpg"  # tiny pages: what is tested is the metadata, not the OCR
SECRET_PAGE = SAMPLES / "HN-TK-0002" / "0001.tif"  # a full page of Kiều (its first frame): words to look for
OTHER_PAGE = MINI / "HD-DC-0001" / "0002.tif"
SECRET_TITLE = "Hồ sơ mật Quỳnh Côi"
PUBLIC_URL = "http://127.0.0.1:8000"


def make_item(batch: Path, folder: str, page: Path = OPEN_PAGE, text: str | None = None) -> Path:
    item = batch / folder
    item.mkdir(parents=True)
    shutil.copy(page, item / f"0001{page.suffix}")
    if text is not None:
        (item / "item.toml").write_text(text, encoding="utf-8")
    return item


def words(path: Path) -> set[str]:
    return {w for w in re.findall(r"\w{6,}", path.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A batch with an open, a secret, a library-default and four mistaken items, run once."""
    root = tmp_path_factory.mktemp("mistakes")
    batch = root / "batch"
    profiles = root / "profiles"
    shutil.copytree(PACKAGED_PROFILES, profiles)
    (profiles / "libraries.toml").write_text('[DEF]\naccess = "restricted"\n', encoding="utf-8")
    common = dict(library="TEST", category="dia_chi")
    make_item(batch, "OPEN-1", text=toml(id="OPEN-1", title="Địa chí\\u000bHải Dương", access="open", **common))
    make_item(batch, "OPEN-2", text=toml(id="OPEN-2", title="Gia phả họ Nguyễn", access="open", **common))
    secret = make_item(batch, "SECRET-1", SECRET_PAGE, toml(id="SECRET-1", title=SECRET_TITLE, access="secret",
                                                             **common))
    with Image.open(SECRET_PAGE) as scan:  # its first frame only: one page to read, not two
        scan.save(secret / "0001.tif", dpi=scan.info["dpi"], compression=scan.info["compression"])
    make_item(batch, "MISSPELT", text=toml(id="MISSPELT", title="Sai khóa", acces="secret", **common))
    make_item(batch, "MISCASED", text=toml(id="MISCASED", title="Sai chữ hoa", access="Secret", **common))
    make_item(batch, "MISSING", text=toml(id="MISSING", title="Không ghi", **common))
    make_item(batch, "DEFAULTED", text=toml(id="DEFAULTED", title="Mặc định thư viện", library="DEF",
                                             category="rare"))
    make_item(batch, "CSV-1")  # described by items.csv, whose header is mis-cased
    (batch / "items.csv").write_text("folder,id,title,library,Access\nCSV-1,CSV-1,Bảng tính,TEST,secret\n",
                                     encoding="utf-8")
    for library in ("TEST", "DEF"):
        register_library(root, library)
    before = tree_hashes(batch)
    out = root / "out"
    result = run_cli("run", str(batch), "--out", str(out), profiles=str(profiles))
    return root, batch, out, profiles, result, before


def test_mistaken_access_is_refused_with_the_nearest_name(published):
    root, batch, out, _, result, before = published
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    found = report_reasons(latest_report(out))
    assert "unknown key 'acces'" in found["MISSPELT/item.toml"] and "did you mean 'access'" in found["MISSPELT/item.toml"]
    assert "access" in found["MISCASED/item.toml"] and "'secret'" in found["MISCASED/item.toml"]
    assert "access is not stated" in found["MISSING/item.toml"] and "libraries.toml" in found["MISSING/item.toml"]
    assert "unknown key 'Access'" in found["CSV-1/items.csv:2"] and "did you mean 'access'" in found["CSV-1/items.csv:2"]
    assert report_statuses(latest_report(out)) == {"CSV-1": "failed", "DEFAULTED": "ok", "MISCASED": "failed", "MISSING": "failed",
                                  "MISSPELT": "failed", "OPEN-1": "ok", "OPEN-2": "ok", "SECRET-1": "ok"}
    for refused in ("MISSPELT", "MISCASED", "MISSING", "CSV-1"):
        assert not (out / "TEST" / refused).exists()
        assert not (root / "store" / "TEST" / refused).exists()
    assert tree_hashes(batch) == before  # the originals are only read
    assert sorted(p.name for p in root.iterdir()) == ["batch", "ledger.sqlite", "out", "profiles", "store"]


def test_access_comes_from_the_library_default(published):
    root, *_ = published
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        access = dict(session.execute(select(Item.item_id, Item.access)).all())
    assert access == {"DEFAULTED": "restricted", "OPEN-1": "open", "OPEN-2": "open", "SECRET-1": "secret"}


def test_a_control_character_in_a_title_becomes_a_space(published):
    root, *_ = published
    dc = (root / "store" / "TEST" / "OPEN-1" / "dc.xml").read_text(encoding="utf-8")
    assert ">Địa chí Hải Dương</dc:title>" in dc


def public_outputs(root: Path, out: Path, profiles: Path) -> str:
    """Everything a run makes public, as text: OAI-PMH (both formats, every verb that lists),
    public bags, the DCAT dataset and the union catalogue."""
    from digitize.web.app import create_app
    from conftest import ledger_session as session_for

    texts = []
    url = sqlite_url(root / "ledger.sqlite")
    with session_for(url) as probe:
        engine = probe.get_bind()
        from sqlalchemy.orm import Session

        app = create_app(lambda: Session(engine), {}, store_url=(root / "store").as_uri(),
                         links=PublicLinks(PUBLIC_URL))
        with TestClient(app) as client:
            for query in ("verb=ListRecords&metadataPrefix=oai_dc", "verb=ListRecords&metadataPrefix=mets",
                          "verb=ListIdentifiers&metadataPrefix=oai_dc", "verb=ListSets", "verb=Identify"):
                texts.append(client.get(f"/oai?{query}").text)
            asked = "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:digitize:TEST/"
            secret, unknown = (client.get(f"/oai?{asked}{name}").text for name in ("SECRET-1", "NO-SUCH-ITEM"))
            undated = [re.sub(r"<responseDate>[^<]*</responseDate>", "", text) for text in (secret, unknown)]
            assert "idDoesNotExist" in undated[1]
            assert undated[0].replace("SECRET-1", "NO-SUCH-ITEM") == undated[1]  # as if it did not exist
            texts.append(client.get("/").text)
    bags = root / f"public-bags-{len(list(root.glob('public-bags-*')))}"  # a new export each time
    done = invoke_cli("export", "--to", str(bags), "--public", data=str(root), profiles=str(profiles),
                      public_url=PUBLIC_URL)
    assert done.returncode == 0, done.stdout + done.stderr
    texts += [p.read_bytes().decode("utf-8", "replace") for p in bags.rglob("*") if p.is_file()]
    for library in ("TEST", "DEF"):
        dataset = invoke_cli("dataset", library, data=str(root), public_url=PUBLIC_URL)
        union = root / f"union-{library}.xml"
        catalogue = invoke_cli("union-catalogue", library, "--out", str(union), data=str(root),
                               public_url=PUBLIC_URL)
        assert dataset.returncode == 0 and catalogue.returncode == 0, dataset.stderr + catalogue.stderr
        texts += [dataset.stdout, union.read_text(encoding="utf-8")]
    return "\n".join(texts)


def test_no_secret_and_no_mistaken_item_in_any_public_output(published):
    root, batch, out, profiles, *_ = published
    public = public_outputs(root, out, profiles)
    assert "OPEN-1" in public and "Gia phả họ Nguyễn" in public  # the open items are published
    secret_words = words(out / "TEST" / "SECRET-1" / "SECRET-1.txt") - words(out / "TEST" / "OPEN-1" / "OPEN-1.txt")
    assert len(secret_words) > 5
    for hidden in ("SECRET-1", SECRET_TITLE, "MISSPELT", "MISCASED", "MISSING", "CSV-1", "Bảng tính",
                   "DEFAULTED", "Mặc định thư viện", *secret_words):
        assert hidden not in public, hidden


def test_changed_metadata_is_stored_again_as_a_new_version(published):
    root, batch, out, profiles, *_ = published
    item = batch / "OPEN-1" / "item.toml"
    item.write_text(item.read_text(encoding="utf-8").replace("Địa chí\\u000bHải Dương", "Địa chí tỉnh Hải Dương"),
                    encoding="utf-8")
    stored = root / "store" / "TEST" / "OPEN-1"
    old_pdf = (stored / "OPEN-1.pdf").read_bytes()
    result = run_cli("run", str(batch), "--out", str(out), profiles=str(profiles))
    assert "Traceback" not in result.stdout + result.stderr
    assert report_statuses(latest_report(out))["OPEN-1"] == "ok"
    assert ">Địa chí tỉnh Hải Dương</dc:title>" in (stored / "dc.xml").read_text(encoding="utf-8")
    mets = (stored / "mets.xml").read_text(encoding="utf-8")
    assert "metadata modification" in mets and "Địa chí tỉnh Hải Dương" in mets
    with pikepdf.open(stored / "OPEN-1.pdf") as pdf:
        assert pdf.open_metadata()["dc:title"] == "Địa chí tỉnh Hải Dương"
        assert len(pdf.pages) == 1
    versions = list((root / "store" / "_versions").rglob("TEST/OPEN-1/OPEN-1.pdf"))
    assert [v.read_bytes() for v in versions] == [old_pdf]  # the stored copy before the change is kept
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        assert session.scalar(select(Item.title).where(Item.item_id == "OPEN-1")) == "Địa chí tỉnh Hải Dương"
    audit = invoke_cli("audit", data=str(root))
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_an_item_made_secret_leaves_the_public_outputs(published):
    root, batch, out, profiles, *_ = published
    item = batch / "OPEN-2" / "item.toml"
    item.write_text(item.read_text(encoding="utf-8").replace('access = "open"', 'access = "secret"'),
                    encoding="utf-8")
    result = invoke_cli("run", str(batch), "--out", str(out), profiles=str(profiles))
    assert report_statuses(latest_report(out))["OPEN-2"] == "ok", result.stdout
    public = public_outputs(root, out, profiles)
    assert "Gia phả họ Nguyễn" not in public
    assert 'status="deleted"' in public and "TEST/OPEN-2" in public  # harvesters learn it is gone
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        assert session.scalar(select(Item.access).where(Item.item_id == "OPEN-2")) == "secret"


# --- identity -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_batches(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity")
    register_library(root, "TEST")
    fields = dict(library="TEST", category="dia_chi", access="open")
    first, second, shared = root / "first", root / "second", root / "shared"
    make_item(first, "BOOK", text=toml(id="BOOK-1", title="Sách thứ nhất", **fields))
    make_item(second, "BOOK", OTHER_PAGE, toml(id="BOOK-1", title="Sách khác", **fields))
    make_item(shared, "A", text=toml(id="SAME-1", title="Bản A", **fields))
    make_item(shared, "B", OTHER_PAGE, toml(id="SAME-1", title="Bản B", **fields))
    make_item(shared, "RESERVED", text=toml(id="R-1", title="Thư mục riêng", library="_versions",
                                            category="dia_chi", access="open"))
    make_item(shared, "[bold]RICH", text=toml(id="[/x]", title="Markup", **fields))
    out = root / "out"
    originals = {batch: tree_hashes(batch) for batch in (first, second, shared)}
    yield root, first, second, shared, out
    assert {batch: tree_hashes(batch) for batch in originals} == originals  # only read, whatever was refused


def test_two_folders_with_one_id_in_a_batch_are_both_refused(two_batches):
    root, _, _, shared, out = two_batches
    result = run_cli("run", str(shared), "--out", str(out))
    assert result.returncode == 4 and "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    found = report_reasons(latest_report(out))
    assert "2 folders of this batch have the item id SAME-1" in found["SAME-1/None"]
    assert "A, B" in found["SAME-1/None"]
    assert "names starting with '_'" in found["RESERVED/item.toml"]
    assert "not usable as a folder name" in found["[bold]RICH/item.toml"]
    assert "[bold]RICH" in result.stdout  # shown as written, not taken for markup
    assert not (out / "TEST" / "SAME-1").exists() and not (root / "store" / "_versions" / "R-1").exists()
    assert sorted(p.name for p in (out / "_quarantine" / "shared").iterdir()) == ["A", "B", "RESERVED", "[bold]RICH"]


def test_an_id_stored_from_another_batch_is_refused_until_new_version(two_batches):
    root, first, second, _, out = two_batches
    assert invoke_cli("run", str(first), "--out", str(out)).returncode == 0
    stored = root / "store" / "TEST" / "BOOK-1"
    before = tree_hashes(stored)
    refused = run_cli("run", str(second), "--out", str(out))
    assert refused.returncode == 4, refused.stdout + refused.stderr
    reason = report_reasons(latest_report(out))["BOOK-1/None"]
    assert "already used" in reason and str(first.resolve()) in reason and str(second / "BOOK") in reason
    assert "--new-version" in reason
    assert tree_hashes(stored) == before
    with ledger_session(sqlite_url(root / "ledger.sqlite")) as session:
        assert session.scalar(select(Item.status).where(Item.item_id == "BOOK-1")) == "ok"  # not demoted
    again = invoke_cli("run", str(first), "--out", str(out))  # the first batch still completes
    assert again.returncode == 0, again.stdout + again.stderr
    replaced = invoke_cli("run", str(second), "--out", str(out), "--new-version")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert "Sách khác" in (stored / "dc.xml").read_text(encoding="utf-8")
    assert list((root / "store" / "_versions").rglob("TEST/BOOK-1/BOOK-1.pdf"))  # the first kept as a version
