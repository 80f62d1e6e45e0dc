"""PDFs as input (issue 25): an item that is one PDF, made by another tool, becomes a valid PDF/A with
searchable text and keeps the PDF byte for byte as its master; an encrypted, truncated, script-bearing
or absurd PDF fails its item alone, with a plain reason."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from conftest import MINI, latest_report, ledger_session, report_reasons, report_statuses, run_cli, toml
from digitize.capture import pdfsource
from digitize.capture.intake import plan_item
from digitize.capture.pagefiles import load_page
from digitize.capture.pdf import validate_pdfa
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings

SETTINGS = get_settings()
LIBRARY = "HD-TV"
NOTO = Path("/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf")  # Debian's fonts-noto-core (setup.sh)
PLAN_PAGE = MINI / "HD-DC-0001" / "0001.jpg"  # "... Quyết định số 206/QĐ-TTg ..." (grey, 200 dpi)
PLAN_LATER = MINI / "HD-DC-0001" / "0002.tif"  # "... Hướng dẫn xây dựng kế hoạch ..." (1-bit, 200 dpi)
BORN_TEXT = "Kế hoạch chuyển đổi số ngành thư viện tỉnh Hải Dương năm 2025"


def profile(name="quoc-ngu-modern", **changes):
    return get_profile(SETTINGS.profiles, name).model_copy(update=changes)


def image_pdf(page: Path, target: Path, dpi: float = 200) -> Path:
    """An image-only PDF as Pillow writes it (one image drawn over the page)."""
    with Image.open(page) as image:
        image.save(target, resolution=dpi)
    return target


def born_digital_pdf(target: Path, text: str = BORN_TEXT) -> Path:
    """A born-digital PDF: the words set in an embedded font, as a word processor writes them."""
    from fpdf import FPDF  # OCRmyPDF's renderer (a dev dependency): the test's other tool

    document = FPDF(unit="pt", format=(300, 200))
    document.add_page()
    document.add_font("Noto", "", str(NOTO))
    document.set_font("Noto", size=14)
    document.multi_cell(260, 20, text)
    document.output(str(target))
    return target


def item(batch: Path, item_id: str, pdf_maker) -> Path:
    folder = batch / item_id
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text(toml(id=item_id, title=f"Tài liệu {item_id}", library=LIBRARY,
                                           access="open", category="dia_chi"), encoding="utf-8")
    return pdf_maker(folder)


@pytest.fixture(scope="module")
def pdf_run(tmp_path_factory):
    """One batch of five items, each one PDF: OCRmyPDF's output of a held-in page (scanned by another
    agency), a born-digital PDF, an image-only PDF, an encrypted and a truncated one."""
    root = tmp_path_factory.mktemp("pdf-input")
    batch, data = root / "batch", root / "data"
    work = root / "made"
    work.mkdir()
    agency = image_pdf(PLAN_PAGE, work / "scan.pdf")
    made = subprocess.run([str(Path(sys.executable).parent / "ocrmypdf"), "-l", "vie", "--optimize", "0",
                           "--output-type", "pdf", str(agency), str(work / "ocrmypdf.pdf")],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    inputs = {
        "PDF-OCRMYPDF": item(batch, "PDF-OCRMYPDF",
                             lambda f: Path(shutil.copy(work / "ocrmypdf.pdf", f / "so-206.pdf"))),
        "PDF-BORN": item(batch, "PDF-BORN", lambda f: born_digital_pdf(f / "ke-hoach.pdf")),
        "PDF-IMAGE": item(batch, "PDF-IMAGE", lambda f: image_pdf(PLAN_LATER, f / "huong-dan.pdf")),
    }

    def encrypted(folder: Path) -> Path:
        with pikepdf.open(agency) as pdf:
            pdf.save(folder / "locked.pdf", encryption=pikepdf.Encryption(owner="owner", user="reader"))
        return folder / "locked.pdf"

    def truncated(folder: Path) -> Path:
        whole = agency.read_bytes()
        (folder / "cut.pdf").write_bytes(whole[:len(whole) * 2 // 3])  # a copy that stopped two thirds in
        return folder / "cut.pdf"

    inputs["PDF-LOCKED"] = item(batch, "PDF-LOCKED", encrypted)
    inputs["PDF-CUT"] = item(batch, "PDF-CUT", truncated)
    before = {key: path.read_bytes() for key, path in inputs.items()}
    done = run_cli("run", str(batch), "--workers", "2", "--plain", data=str(data))
    return {"done": done, "data": data, "inputs": inputs, "before": before,
            "report": latest_report(data / "out")}


@pytest.mark.slow
def test_the_bad_pdfs_fail_alone_with_a_plain_reason(pdf_run):
    done, report = pdf_run["done"], pdf_run["report"]
    assert done.returncode == 4, done.stdout + done.stderr  # the batch ran; some items failed
    assert "Traceback" not in done.stdout + done.stderr
    assert report_statuses(report) == {"PDF-OCRMYPDF": "ok", "PDF-BORN": "ok", "PDF-IMAGE": "ok",
                                       "PDF-LOCKED": "failed", "PDF-CUT": "failed"}
    reasons = report_reasons(report, "error")
    assert reasons["PDF-LOCKED/locked.pdf"] == ("the PDF is encrypted and needs a password to open. Ask the "
                                                "sender for a copy without password or encryption")
    assert reasons["PDF-CUT/cut.pdf"].startswith("the PDF is damaged or truncated (")
    assert "Ask the sender for the file again" in reasons["PDF-CUT/cut.pdf"]
    quarantine = pdf_run["data"] / "out" / "_quarantine" / "batch"
    assert (quarantine / "PDF-CUT" / "cut.pdf").read_bytes() == pdf_run["before"]["PDF-CUT"]
    # the originals are untouched, the good ones too
    assert {key: path.read_bytes() for key, path in pdf_run["inputs"].items()} == pdf_run["before"]


@pytest.mark.slow
@pytest.mark.parametrize("item_id, words", [
    ("PDF-OCRMYPDF", ["Quyết định", "206/QĐ-TTg", "Hải"]),
    ("PDF-BORN", [BORN_TEXT]),  # kept exactly: the PDF's own text, not OCR
    ("PDF-IMAGE", ["Hướng dẫn xây dựng kế hoạch", "Ủy ban nhân dân"]),
])
def test_each_pdf_gives_a_valid_pdfa_with_its_text_and_keeps_its_master(pdf_run, item_id, words):
    data, source = pdf_run["data"], pdf_run["inputs"][item_id]
    folder = data / "out" / LIBRARY / item_id
    pdf = folder / f"{item_id}.pdf"
    assert validate_pdfa(pdf) == []
    text = (folder / f"{item_id}.txt").read_text(encoding="utf-8")
    layer = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for phrase in words:
        assert phrase in " ".join(text.split()), (phrase, text)
        assert phrase in " ".join(layer.split()), (phrase, layer)  # searchable in the PDF/A itself
    # the master, in the package and in the store, is the sender's file byte for byte
    assert (folder / "masters" / source.name).read_bytes() == pdf_run["before"][item_id]
    assert (data / "store" / LIBRARY / item_id / "masters" / source.name).read_bytes() == pdf_run["before"][item_id]
    mets = (folder / "mets.xml").read_text(encoding="utf-8")
    assert 'ID="master-0001" MIMETYPE="application/pdf"' in mets
    from digitize.core import pronom
    from digitize.describe import mets as mets_xml

    package = mets_xml.read(folder / "mets.xml")  # the master PDF identified by PRONOM signatures, like an image
    master = next(entry for entry in package.files if entry.use == "master")
    assert master.format is not None and master.format.puid in pronom.FAMILIES["PDF"], master.format


@pytest.mark.slow
def test_born_digital_text_is_kept_and_scanned_pages_are_read_again(pdf_run):
    out = pdf_run["data"] / "out" / LIBRARY

    def page(item_id):
        return json.loads((out / item_id / "pages" / "0001.json").read_text(encoding="utf-8"))

    born = page("PDF-BORN")
    assert born["text_source"] == "pdf" and born["confidence"] is None
    assert born["dpi"] == 300 and born["dpi_method"] == "rendered from the PDF"
    # OCRmyPDF's invisible text is another tool's OCR: read again by ours (profile pdf_text = "auto")
    for item_id in ("PDF-OCRMYPDF", "PDF-IMAGE"):
        record = page(item_id)
        assert record["text_source"] == "ocr" and record["confidence"] > 50
        assert record["dpi"] == 200 and record["dpi_method"] == "tag"  # the image's own pixels over the page's inches
    mets = (out / "PDF-BORN" / "mets.xml").read_text(encoding="utf-8")
    assert "the PDF's own text layer (pdftotext)" in mets


@pytest.mark.slow
def test_the_pdf_items_are_found_by_search(pdf_run):
    from digitize.search import index as search

    ledger = f"sqlite:///{pdf_run['data'] / 'ledger.sqlite'}"
    with ledger_session(ledger) as session:
        def found(query):
            return {hit.item_id for hit in search.search(session, query, {"open"}).hits}

        assert found("206 qd ttg") == {"PDF-OCRMYPDF"}
        assert found("huong dan xay dung") == {"PDF-IMAGE"}
        assert "PDF-BORN" in found('"chuyển đổi số ngành thư viện"')


# --- the checks before any page is read (no OCR) ---

def plan(folder: Path, **changes):
    return plan_item(folder, folder.parent, None, lambda meta: profile(**changes), SETTINGS.max_pixels)


def refused(tmp_path: Path, make) -> str:
    """The reasons intake gives for an item whose folder ``make`` fills with a PDF."""
    found = plan(item(tmp_path / "batch", "PDF-1", make))
    assert not found.ok and not found.pages
    return " | ".join(p.reason for p in found.problems if p.severity == "error")


def test_a_pdf_with_javascript_is_refused(tmp_path):
    def make(folder):
        pdf = pikepdf.open(image_pdf(PLAN_PAGE, folder / "p.pdf"), allow_overwriting_input=True)
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        pdf.save(folder / "p.pdf")
        return folder

    assert refused(tmp_path, make) == (
        "the PDF carries JavaScript, which could run code when the file is opened; refused. Ask the sender for a "
        "copy without scripts or forms (print it to a new PDF, or send the page images)")


def test_a_pdf_locked_against_copying_is_refused(tmp_path):
    def make(folder):
        with pikepdf.open(image_pdf(PLAN_PAGE, folder / "a.pdf")) as pdf:
            pdf.save(folder / "p.pdf", encryption=pikepdf.Encryption(owner="owner", user=""))
        (folder / "a.pdf").unlink()
        return folder

    assert "the PDF is encrypted (it opens without a password" in refused(tmp_path, make)


def test_absurd_pdfs_are_refused(tmp_path, monkeypatch):
    def big_page(folder):
        pdf = pikepdf.open(image_pdf(PLAN_PAGE, folder / "p.pdf"), allow_overwriting_input=True)
        pdf.pages[0].MediaBox = [0, 0, 5000, 5000]  # 176 cm a side
        pdf.save(folder / "p.pdf")
        return folder

    assert "the page is 176 x 176 cm, larger than a page can be (127 cm at most" in refused(tmp_path / "a", big_page)

    def nested(folder):
        pdf = pikepdf.open(image_pdf(PLAN_PAGE, folder / "p.pdf"), allow_overwriting_input=True)
        deep = pikepdf.Array()
        for _ in range(pdfsource.MAX_DEPTH + 20):  # deep, though within what qpdf itself reads
            deep = pikepdf.Array([deep])
        pdf.Root.Trap = deep
        pdf.save(folder / "p.pdf")
        return folder

    assert "the PDF holds objects nested more than 100 deep" in refused(tmp_path / "b", nested)

    def many_pages(folder):
        pdf = pikepdf.open(image_pdf(PLAN_PAGE, folder / "p.pdf"), allow_overwriting_input=True)
        pdf.pages.extend([pdf.pages[0]] * 4)
        pdf.save(folder / "p.pdf")
        return folder

    monkeypatch.setattr(pdfsource, "MAX_PAGES", 4)
    assert "the PDF has 5 pages, more than the 4 one item may have. Split it into volumes" in refused(
        tmp_path / "c", many_pages)


def test_each_page_of_a_pdf_is_a_page_of_the_item_with_its_own_resolution(tmp_path):
    folder = tmp_path / "batch" / "PDF-1"
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text(toml(id="PDF-1", title="t", library=LIBRARY, access="open"), encoding="utf-8")
    with Image.open(PLAN_PAGE) as first, Image.open(PLAN_LATER) as second:
        first.save(folder / "both.pdf", resolution=200, save_all=True, append_images=[second.convert("L")])
    found = plan(folder)
    assert found.ok, found.problems
    assert [(p.name, p.frame, p.dpi, p.dpi_method, p.format, p.width) for p in found.pages] == [
        ("both.pdf#1", 0, 200, "tag", "PDF", 612), ("both.pdf#2", 1, 200, "tag", "PDF", 598)]
    # the pixels are the scanned images' own (their size, their colour mode), not a rendering
    assert [load_page(page).shape for page in found.pages] == [(339, 612), (335, 598)]


def test_the_profile_says_whether_a_text_layer_is_kept(tmp_path):
    """Text drawn on the page (born digital) is kept by default; invisible text over a scan (another
    tool's OCR) is read again unless the profile says keep; replace reads every page by OCR."""
    folder = tmp_path / "batch" / "PDF-1"
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text(toml(id="PDF-1", title="t", library=LIBRARY, access="open"), encoding="utf-8")
    born_digital_pdf(folder / "1-born.pdf")
    pdf = pikepdf.open(image_pdf(PLAN_PAGE, folder / "2-scan.pdf"), allow_overwriting_input=True)
    page = pdf.pages[0]
    page.Resources.Font = pikepdf.Dictionary(F1=pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                                    BaseFont=pikepdf.Name.Helvetica))
    page.contents_add(pikepdf.Stream(pdf, b"BT 3 Tr /F1 12 Tf 10 10 Td (ocr words) Tj ET"))
    pdf.save(folder / "2-scan.pdf")
    sources = {setting: [p.text_source for p in plan(folder, pdf_text=setting).pages]
               for setting in ("auto", "keep", "replace")}
    assert sources == {"auto": ["pdf", "ocr"], "keep": ["pdf", "pdf"], "replace": ["ocr", "ocr"]}


def test_a_pdf_page_at_72_dpi_is_judged_like_a_scanner_tag(tmp_path):
    """Pillow writes a scan into a PDF at 72 dpi whatever its resolution: the page's dpi is judged as
    a recorded one (the text would be 30 pt), and a stated dpi is taken."""
    folder = item(tmp_path / "batch", "PDF-1", lambda folder: folder)
    image_pdf(PLAN_PAGE, folder / "p.pdf", dpi=72)
    found = plan(folder)
    assert not found.ok
    assert [p.reason for p in found.problems][0].startswith("records 72 dpi, but its text would be set in 30 pt type")
    (folder / "item.toml").write_text(toml(id="PDF-1", title="t", library=LIBRARY, access="open", dpi="200"),
                                      encoding="utf-8")
    found = plan(folder)
    assert found.ok and [(p.dpi, p.dpi_method, p.width) for p in found.pages] == [(200, "stated", 612)]
