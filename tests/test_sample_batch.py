"""End to end: `digitize run` on the bundled sample_scans/ batch."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import pikepdf
from lxml import etree

from conftest import SAMPLES, TRUTH, run_cli, sample_manifest, tree_hashes
from digitize.capture.pdf import validate_pdfa
from digitize.core.quality import cer
from digitize.describe import mets
from digitize.describe.schemas import validate_file


def items(out):
    for item_id in sample_manifest():
        record = json.loads(next(out.glob(f"*/{item_id}/item.json")).read_text(encoding="utf-8"))
        yield item_id, record


def pdf_page_text(pdf, number: int, *options: str) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *options, "-f", str(number), "-l", str(number),
                           str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def test_run_succeeds_and_summarises(sample_run):
    out, result, _ = sample_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "items ok 2, failed 0; pages 7" in result.stdout


def test_every_pdf_is_valid_pdfa_2b(sample_run):
    out, _, _ = sample_run
    for item_id, record in items(out):
        pdf = out / record["metadata"]["library"] / item_id / f"{item_id}.pdf"
        assert validate_pdfa(pdf) == [], item_id
        with pikepdf.open(pdf) as doc:
            assert len(doc.pages) == len(sample_manifest()[item_id])
            with doc.open_metadata() as meta:
                assert meta["dc:title"] == record["metadata"]["title"]
                assert meta["pdfaid:part"] == "2"


def test_pdf_text_layer_matches_ground_truth_and_keeps_diacritics(sample_run):
    out, _, _ = sample_run
    for item_id, record in items(out):
        pdf = out / record["metadata"]["library"] / item_id / f"{item_id}.pdf"
        for page in sample_manifest()[item_id]:
            text = pdf_page_text(pdf, page["page"])
            truth = (TRUTH / item_id / page["gt"]).read_text(encoding="utf-8")
            assert cer(text, truth) <= 0.02, (item_id, page["page"], cer(text, truth))
            # the characters in the PDF (in content order) are exactly the OCR's, in NFC
            ocr_text = (out / record["metadata"]["library"] / item_id / "text" / f"{page['page']:04d}.txt"
                        ).read_text(encoding="utf-8")
            raw = pdf_page_text(pdf, page["page"], "-raw")
            assert "".join(raw.split()) == "".join(ocr_text.split())
            assert unicodedata.is_normalized("NFC", text)
            assert any(ch in text for ch in "ễệữợ") or any(ch in text for ch in "ắằẩậđ")


def test_pages_are_upright_and_deskewed(sample_run):
    out, _, _ = sample_run
    for item_id, record in items(out):
        for page, truth in zip(record["pages"], sample_manifest()[item_id]):
            assert page["orientation"] == (360 - truth["turned_cw"]) % 360, (item_id, page["number"])
            assert abs(page["skew"] - truth["skew_deg"]) <= 0.3, (item_id, page["number"])
            assert 0 < page["confidence"] <= 100


def test_alto_positions_are_in_page_image_pixels(sample_run):
    from lxml import etree

    out, _, _ = sample_run
    for item_id, record in items(out):
        for page in record["pages"]:
            alto = etree.parse(str(out / record["metadata"]["library"] / item_id / page["alto_file"]))
            [layout] = alto.iter("{*}Page")
            assert abs(int(layout.get("WIDTH")) - page["width"]) <= 2
            assert abs(int(layout.get("HEIGHT")) - page["height"]) <= 2
            words = list(alto.iter("{*}String"))
            assert max(int(w.get("HPOS")) + int(w.get("WIDTH")) for w in words) <= page["width"]


def test_outputs_follow_the_documented_layout(sample_run):
    out, _, _ = sample_run
    for item_id, record in items(out):
        folder = out / record["metadata"]["library"] / item_id
        count = len(sample_manifest()[item_id])
        for n in range(1, count + 1):
            for path in (f"text/{n:04d}.txt", f"alto/{n:04d}.xml", f"pages/{n:04d}.json"):
                assert (folder / path).is_file(), path
        assert (folder / f"{item_id}.txt").read_text(encoding="utf-8").count("\f") == count - 1
        assert not (folder / ".work").exists()
        for name in ("mets.xml", "dc.xml"):  # (test_metadata checks the records in depth, on stored items)
            validate_file(folder / name)


SAMPLE_PUIDS = {".tif": "fmt/353", ".jpg": "fmt/43", ".png": "fmt/11", ".jp2": "x-fmt/392"}  # the masters'
OUTPUT_PUIDS = {"access": "fmt/477", "image": "fmt/43", "alto": "fmt/101", "text": "x-fmt/111"}


def test_the_mets_carry_the_puid_of_every_master_and_output(sample_run):
    """Format identification (PRONOM, by FIDO): each file of the METS has a PREMIS object with its
    PUID, the identification events name FIDO and its signatures, and the PDF/A check is a
    validation event on the PDF."""
    out, _, _ = sample_run
    for item_id, record in items(out):
        path = out / record["metadata"]["library"] / item_id / "mets.xml"
        validate_file(path)
        root = etree.parse(str(path)).getroot()
        package = mets.read(path)
        for entry in package.files:
            expected = SAMPLE_PUIDS[Path(entry.href).suffix] if entry.use == "master" else OUTPUT_PUIDS[entry.use]
            [key] = root.xpath(f"//mets:file[@ID='{entry.id}']/@ADMID", namespaces=mets.NS)
            assert root.xpath(f"//mets:techMD[@ID='{key}']//premis:formatRegistry[premis:formatRegistryName='PRONOM']"
                              "/premis:formatRegistryKey/text()", namespaces=mets.NS) == [expected], entry.href
            assert entry.format.puid == expected and entry.format.name and not entry.format.expected
        identification = {e.id: e for e in package.events if e.type == "format identification"}
        assert {obj for e in identification.values() for obj in e.objects} == {f.id for f in package.files}
        assert all(e.outcome == "success" and e.agents[0] == "fido" for e in identification.values())
        fido = next(a for a in package.agents if a.id == "fido")
        assert fido.version.startswith("1.6") and "PRONOM v109" in fido.version
        pdfa = next(e for e in package.events if e.id == "pdfa-validation")
        assert (pdfa.type, pdfa.outcome, pdfa.objects) == ("validation", "success", ["access-pdf"])


def test_originals_untouched_and_rerun_does_nothing_twice(sample_run):
    out, _, before = sample_run
    assert tree_hashes(SAMPLES) == before
    pdfs = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.pdf")}
    result = run_cli("run", str(SAMPLES), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.pdf")} == pdfs
    assert tree_hashes(SAMPLES) == before
