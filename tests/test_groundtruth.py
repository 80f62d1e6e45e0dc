"""What review teaches (issue 26, point 9): accepted lines exported as tesstrain ground truth, the
diacritic correction's syllable data retrained from accepted text and measured on held-back pages,
and the OCR's error rate per month and profile from the reviewers' corrections.

No OCR: accepted items are copies of the stored test items (tests/data/stored/), their ALTO
corrected as the review's page editor does (CS="true", the OCR's reading kept as ALTERNATIVE)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import lxml.html
import pytest
from lxml import etree
from PIL import Image

from conftest import copy_stored_items, invoke_cli, ledger_session, run_cli, sqlite_url
from digitize.access import dashboard
from digitize.core import vietnamese
from digitize.ledger.database import Item, Library
from digitize.ledger.review import ACCEPTED, IN_REVIEW, ReviewEvent
from digitize.review import groundtruth, ocr_errors, retrain
from digitize.store.storage import FolderStore

LIBRARY, SOURCE, KIEU = "HD-TV", "HD-DC-0001", "HN-TK-0002"
COPIES = [f"HD-DC-01{n:02d}" for n in range(1, 7)]  # accepted copies of SOURCE, each taught "Thanh Miện"
SECRET, WAITING, HAN_NOM = "HD-MAT-0001", "HD-DC-0900", "HN-HN-0001"
# the shipped data restores "Thanh Mien" as "Thành Miền"; the accepted text teaches the district's name
TAUGHT = ("Thanh", "Miện")
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v3#"


def correct_words(alto: Path, line_id: str, words: dict[int, str]) -> None:
    """Correct words of a line as the page editor does: the new CONTENT, CS="true", the OCR's reading
    as the String's ALTERNATIVE."""
    root = etree.parse(str(alto))
    line = root.find(f".//{{{ALTO_NS}}}TextLine[@ID='{line_id}']")
    strings = line.findall(f"{{{ALTO_NS}}}String")
    for index, text in words.items():
        string = strings[index]
        etree.SubElement(string, f"{{{ALTO_NS}}}ALTERNATIVE", PURPOSE="OCR").text = string.get("CONTENT")
        string.set("CONTENT", text)
        string.set("CS", "true")
    root.write(str(alto), xml_declaration=True, encoding="UTF-8")


def line_texts(alto: Path) -> dict[str, str]:
    return {line.line_id: line.text for line in groundtruth.read_alto(alto.read_bytes())[1]}


@pytest.fixture(scope="module")
def accepted(tmp_path_factory):
    """The stored items, six copies of HD-DC-0001 with "Thanh Miện" corrected into the first line of
    page 1, a secret copy, a copy still in review and a Hán-Nôm copy with one transcribed line; all
    but the one in review accepted. (stored items, store, ledger session, data folder)"""
    root = tmp_path_factory.mktemp("groundtruth")
    stored = copy_stored_items(root / "fixture")
    for item_id in COPIES + [SECRET, WAITING, HAN_NOM]:
        shutil.copytree(stored.folder(SOURCE), stored.folder(item_id))
        if item_id != HAN_NOM:
            correct_words(stored.folder(item_id) / "alto" / "0001.xml", "textline_0", {4: TAUGHT[0], 5: TAUGHT[1]})
    correct_words(stored.folder(HAN_NOM) / "alto" / "0002.xml", "textline_1", {0: "Hướng"})
    data = root / "data"
    data.mkdir()
    with ledger_session(sqlite_url(data / "ledger.sqlite")) as session:
        session.add(Library(code=LIBRARY, name="Thư viện tỉnh Hải Dương", province="hai-duong", tier="provincial"))
        for item_id in [SOURCE, KIEU] + COPIES + [SECRET, WAITING, HAN_NOM]:
            when = datetime(2026, 7, 1 + (item_id in (KIEU, HAN_NOM)) * 9, tzinfo=timezone.utc)
            session.add(Item(library=LIBRARY, item_id=item_id, title=item_id, category="dia_chi", status="ok",
                             access="secret" if item_id == SECRET else "open", pages=2,
                             stored=FolderStore(stored.store).url(f"{LIBRARY}/{item_id}"), digitized=when,
                             updated=when, review_state=IN_REVIEW if item_id == WAITING else ACCEPTED,
                             accepted=None if item_id == WAITING else when, accepted_by="an",
                             review_risk={"han_nom": item_id == HAN_NOM}))
        session.commit()
        yield stored, FolderStore(stored.store), session, data


def test_export_writes_tesstrain_pairs_that_read_back(accepted, tmp_path):
    stored, store, session, data = accepted
    out = tmp_path / "gt"
    done = invoke_cli("groundtruth", "export", str(out), data=str(data), store=stored.store.as_uri())
    assert done.returncode == 0, done.stdout + done.stderr
    texts = sorted(out.glob("*.gt.txt"))
    images = sorted(out.glob("*.png"))
    # tesstrain's layout: every line image beside its text, same stem
    assert [p.name[:-len(".gt.txt")] for p in texts] == [p.stem for p in images]
    source_lines = {**{f"{SOURCE}/{n}/{k}": v for n in (1, 2)
                       for k, v in line_texts(stored.folder(SOURCE) / "alto" / f"{n:04d}.xml").items()}}
    per_item = {item_id: len([p for p in texts if p.name.startswith(f"{LIBRARY}_{item_id}_")])
                for item_id in [SOURCE, KIEU, *COPIES, SECRET, WAITING, HAN_NOM]}
    assert per_item[SOURCE] == len(source_lines) and per_item[KIEU] > 0
    assert all(per_item[c] == len(source_lines) for c in COPIES)
    assert per_item[SECRET] == 0 and per_item[WAITING] == 0  # secret without --include-secret; not accepted
    assert per_item[HAN_NOM] == 1  # a Hán-Nôm item: only the line a person transcribed
    assert f"{7 + 1 + 1} accepted items" in done.stdout and "left out: 1 secret items" in done.stdout

    page = groundtruth.read_alto((stored.folder(COPIES[0]) / "alto" / "0001.xml").read_bytes())[1]
    with Image.open(stored.folder(COPIES[0]) / "images" / "0001.jpg") as picture:
        page_image = picture.convert("L")
    for line in page:
        stem = groundtruth.line_name(LIBRARY, COPIES[0], 1, line.line_id)
        text = (out / f"{stem}.gt.txt").read_text(encoding="utf-8")
        assert text == line.text + "\n" and "\n" not in text[:-1]  # one line, NFC, its own newline
        with Image.open(out / f"{stem}.png") as image:
            left, top, width, height = line.box
            assert image.size == (width, height)
            assert image.tobytes() == page_image.crop((left, top, left + width, top + height)).tobytes()
    first = (out / f"{groundtruth.line_name(LIBRARY, COPIES[0], 1, 'textline_0')}.gt.txt").read_text(encoding="utf-8")
    assert first == "Triển khai thực hiện Thanh Miện\n"  # the reviewer's correction, not the OCR's reading
    assert all(p.name.isascii() and " " not in p.name for p in images)

    secret = tmp_path / "secret"
    done = invoke_cli("groundtruth", "export", str(secret), "--include-secret", "--since", "2026-07-05",
                      data=str(data), store=stored.store.as_uri())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "staff data" in done.stdout
    items = {p.name.split("_")[1] for p in secret.glob("*.gt.txt")}
    assert items == {KIEU, HAN_NOM}  # accepted since 5 July

    wrong = run_cli("groundtruth", "export", str(tmp_path / "x"), "--since", "last week", data=str(data),
                    store=stored.store.as_uri())
    assert wrong.returncode == 2 and "YYYY-MM-DD" in wrong.stdout and "Traceback" not in wrong.stderr
    (tmp_path / "a-file").write_text("x")
    blocked = run_cli("groundtruth", "export", str(tmp_path / "a-file"), data=str(data), store=stored.store.as_uri())
    assert blocked.returncode == 73 and "a-file" in blocked.stdout + blocked.stderr
    assert "Traceback" not in blocked.stderr


def test_a_vertical_line_is_turned_to_read_left_to_right():
    page = groundtruth.AcceptedPage(item=None, number=1, direction="vertical", han_nom=True, image="", size=(100, 200),
                                    lines=[])
    line = groundtruth.AltoLine("textline_0", (10, 20, 30, 150), ())
    picture = Image.new("L", (100, 200), 255)
    picture.putpixel((10, 20), 0)  # the column's first pixel (its top left)
    crop = groundtruth.line_image(picture, page, line)
    assert crop.size == (150, 30)  # as long as the column, as tall as it is wide
    assert crop.getpixel((0, 29)) == 0  # the column's top is now at the left: it reads left to right


def test_retrain_teaches_the_correction_and_measures_it(accepted, tmp_path):
    stored, store, session, data = accepted
    keys = [f"{LIBRARY}/{item_id}/1" for item_id in COPIES]
    # a seed that holds back a page 1 of a copy (where "Thanh Miện" is) and keeps most of them to count
    seed = next(s for s in range(200) if 1 <= sum(retrain.held_back(k, s) for k in keys) <= 2)
    held = next(k for k in keys if retrain.held_back(k, seed))
    shipped = vietnamese.read_frequencies(vietnamese.shipped_folder())
    known = retrain.spellings(shipped)
    assert retrain.corrected(["Thanh", "Mien"], shipped, known) != list(TAUGHT)  # the shipped data gets it wrong

    done = invoke_cli("vietnamese", "retrain", "--seed", str(seed), data=str(data), store=stored.store.as_uri())
    assert done.returncode == 0, done.stdout + done.stderr
    folder = data / "vietnamese"
    assert (folder / "syllables.tsv").is_file() and (folder / "bigrams.tsv").is_file()
    taught = vietnamese.read_frequencies(folder)
    assert taught.unigrams["miện"] >= len(COPIES) - 2 and shipped.unigrams.get("miện", 0) == 0
    assert taught.bigrams[("thanh", "miện")] >= len(COPIES) - 2
    assert retrain.corrected(["Thanh", "Mien"], taught, retrain.spellings(taught)) == list(TAUGHT)
    # the package's data is untouched
    assert vietnamese.read_frequencies(vietnamese.shipped_folder()).unigrams == shipped.unigrams

    lines = [line for line in done.stdout.splitlines() if "->" in line and "%" in line]
    assert len(lines) == 2, done.stdout  # the two measures, before -> after
    before, after = [float(part.split("%")[0].split()[-1]) for part in lines[-1].split("->")]
    assert after < before, done.stdout  # restoring the held-back text's diacritics: fewer word errors
    assert held.split("/")[1] in {i for i in COPIES}

    # the installation now reads the retrained data (and a process started now reads it too)
    vietnamese.frequencies.cache_clear()
    check = run_cli_python("from digitize.core import vietnamese as v; print(v.data_folder())", data)
    assert check.stdout.strip() == str(folder)


def run_cli_python(code: str, data: Path):
    import subprocess
    import sys

    from conftest import cli_env

    return subprocess.run([sys.executable, "-c", code], env=cli_env(None, (), {"data": str(data)}),
                          capture_output=True, text=True, timeout=60)


def test_error_rate_per_month_and_profile(tmp_path):
    with ledger_session(sqlite_url(tmp_path / "ledger.sqlite")) as session:
        session.add(Library(code=LIBRARY, name="x", province="hai-duong", tier="provincial"))
        when = datetime(2026, 7, 1, tzinfo=timezone.utc)
        items = [Item(library=LIBRARY, item_id=f"I-{n}", title="t", category="dia_chi", status="ok", pages=3,
                      digitized=when) for n in range(3)]
        session.add_all(items)
        session.flush()

        def corrected(item, page, line, before, after, profile, day, month=7):
            session.add(ReviewEvent(item=item.id, at=datetime(2026, month, day, tzinfo=timezone.utc), actor="an",
                                    action="corrected", pages=[page],
                                    detail={"page": page, "line": line, "before": before, "after": after,
                                            "characters": len(before), "changed": 0, "profile": profile}))

        corrected(items[0], 1, "textline_0", "Trien khai", "Triển khai", "quoc-ngu-modern", 2)  # 2 of 10
        corrected(items[0], 1, "textline_0", "Triển khai", "Triển khai.", "quoc-ngu-modern", 3)  # same line: 2 of 10 in all
        corrected(items[1], 2, "textline_4", "abcdefghij", "abcdefghij k", "quoc-ngu-modern", 9)  # 2 of 10
        corrected(items[2], 1, "textline_1", "mot hai", "một hai", "quoc-ngu-old", 9)  # 1 of 7
        corrected(items[2], 2, "textline_1", "ba", "bà", "quoc-ngu-old", 9, month=8)  # 1 of 2, in August
        session.add(ReviewEvent(item=items[2].id, at=datetime(2026, 8, 20, tzinfo=timezone.utc), actor="op",
                                action="rescanned", pages=[2]))
        session.commit()
        found = {(r.month, r.profile): r for r in ocr_errors.error_rates(session)}
        assert list(found) == [("2026-07", "quoc-ngu-modern"), ("2026-07", "quoc-ngu-old")]  # rescanned: afresh
        modern = found[("2026-07", "quoc-ngu-modern")]
        assert (modern.pages, modern.lines, modern.characters, modern.changed) == (2, 2, 20, 4)
        assert modern.percent == 20.0
        assert found[("2026-07", "quoc-ngu-old")].percent == round(100 / 7, 2)

        for lang, heading in (("vi", "Lỗi OCR do người duyệt phát hiện"), ("en", "OCR errors found by review")):
            page = lxml.html.document_fromstring(dashboard.render(session, {}, date(2026, 8, 31), lang))
            assert heading in page.xpath("//h2/text()")
            cell = page.xpath("//td[@class='error-rate'][@data-month='2026-07'][@data-profile='quoc-ngu-modern']")
            assert [c.text for c in cell] == ["20.00"]
            assert len(page.xpath("//table[@id='ocr-errors']//td[@class='error-rate']")) == 2
