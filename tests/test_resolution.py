"""Resolution from the pixels (issue 14): page files that record 96 dpi, or no resolution at all,
on pages scanned at 300 dpi are read at the resolution their size and text lines give, with a
warning; pages truly scanned at 150 dpi are still refused; a resolution the operator states wins."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

import hanpages
import vnpages
from conftest import CORPUS, invoke_cli, latest_report, report_reasons, report_statuses
from digitize.describe import mets
from digitize.capture.intake import plan_item
from digitize.capture.pagefiles import check_page_file
from digitize.capture.resolution import page_dpi
from digitize.core.profiles import get_profile
from digitize.describe.schemas import validate_file
from digitize.core.settings import get_settings

TEXT = CORPUS / "truyen-kieu-1866.txt"
A4_PT = (595.28, 841.89)


def passages(out_dir, pages: int, seed: int, words: int = 150, **options) -> list:
    """vnpages.render_pages for pages that each hold one passage of about ``words`` words of TEXT
    (a dozen lines, not a full page): the paper size and text lines the estimate reads, at a
    fraction of a full page's OCR."""
    text = vnpages.paragraphs(TEXT.read_text(encoding="utf-8"))[0].split()
    formats, manifest = options.pop("fmt"), []
    for page in range(pages):
        passage = Path(out_dir) / f".passage-{page + 1}"
        passage.mkdir(parents=True)
        source = passage / "text.txt"
        source.write_text(" ".join(text[page * words:(page + 1) * words]), encoding="utf-8")
        [entry] = vnpages.render_pages(source, passage, 1, seed + page, fmt=vnpages.per_page(formats, page),
                                       **options)
        image, gt = f"p{page + 1:03d}{Path(entry['image']).suffix}", f"p{page + 1:03d}.gt.txt"
        (passage / entry["image"]).rename(Path(out_dir) / image)
        (passage / entry["gt"]).rename(Path(out_dir) / gt)
        shutil.rmtree(passage)
        manifest.append(entry | {"image": image, "gt": gt})
    (Path(out_dir) / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def scans(folder, pages: int, dpi: int, tag: int | None, seed: int, formats: list[str], paper: str = "A4",
          render=None) -> list:
    """``pages`` pages rendered at ``dpi`` (the truth), whose files then record ``tag`` dpi (None:
    no resolution at all), as scanner software writes them. ``render``: a renderer of pages of a
    text with vnpages.render_pages's arguments [default: passages of Quốc ngữ print of TEXT]."""
    render = render or passages
    manifest = render(folder, pages, seed, dpi=dpi, paper=paper, fmt=formats)
    for entry in manifest:
        path = folder / entry["image"]
        with Image.open(path) as image:
            copy = image.copy()
        options = {"dpi": (tag, tag)} if tag else {}
        options.update({"jpg": {"quality": 85}, "tif": {"compression": "tiff_lzw"}}.get(path.suffix[1:], {}))
        copy.save(path, **options)
        with Image.open(path) as image:
            assert page_dpi(image) == tag, path
        (folder / entry["gt"]).unlink()  # the ground truth is not a page of the item
    (folder / "manifest.json").unlink()
    return manifest


def item_toml(item_id: str, profile: str = "quoc-ngu-modern", extra: str = "") -> str:
    return (f'id = "{item_id}"\ntitle = "Trang thử {item_id}"\nlibrary = "TEST"\naccess = "open"\n'
            f'profile = "{profile}"\n{extra}')


def make_item(batch, item_id: str, dpi: int, tag: int | None, seed: int, formats: list[str],
              profile: str = "quoc-ngu-modern", extra: str = "", paper: str = "A4", render=None) -> None:
    folder = batch / item_id
    scans(folder, len(formats), dpi, tag, seed, formats, paper, render)
    (folder / "item.toml").write_text(item_toml(item_id, profile, extra), encoding="utf-8")


def page_records(out, item_id: str) -> list[dict]:
    folder = out / "TEST" / item_id / "pages"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def pdf_sizes(out, item_id: str) -> list[tuple[float, float]]:
    with pikepdf.open(out / "TEST" / item_id / f"{item_id}.pdf") as pdf:
        return [tuple(float(v) for v in page.MediaBox[2:]) for page in pdf.pages]


def quarantined(out, batch) -> set[str]:
    folder = out / "_quarantine" / batch.name
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.fixture(scope="module")
def wrong_tags(tmp_path_factory):
    """One batch: pages scanned at 300 dpi that record 96 dpi or nothing, pages truly scanned at 150
    dpi, an item that states its resolution, and a han-nom item recording 96 dpi."""
    root = tmp_path_factory.mktemp("resolution")
    batch, out = root / "batch", root / "out"
    make_item(batch, "TAG96-1", 300, 96, 1, ["png", "jpg", "tif"])
    noise = np.random.default_rng(1).normal(232, 4, (3508, 2480))  # a blank A4 verso, at 300 dpi too
    Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(batch / "TAG96-1" / "p004.png", dpi=(96, 96))
    make_item(batch, "NOTAG-1", 300, None, 2, ["tif", "png"])
    make_item(batch, "LOW96-1", 150, 96, 3, ["png"])
    make_item(batch, "LOWNONE-1", 150, None, 4, ["jpg"])
    make_item(batch, "STATED-1", 300, 96, 5, ["png"], extra="dpi = 250\n")
    make_item(batch, "HANNOM-1", 300, 96, 6, ["png"], profile="han-nom", paper="A5",
              render=partial(hanpages.render_pages, CORPUS / "han-qianziwen.txt", direction="vertical", border=False))
    result = invoke_cli("run", str(batch), "--out", str(out), "--workers", "2")
    return batch, out, result, latest_report(out)


@pytest.mark.slow  # a batch run (OCR)
@pytest.mark.parametrize("item_id,tag", [("TAG96-1", 96), ("NOTAG-1", None)])
def test_pages_that_record_a_wrong_or_no_resolution_are_read_at_their_true_one(wrong_tags, item_id, tag):
    batch, out, result, report = wrong_tags
    assert report_statuses(report)[item_id] == "ok", result.stdout
    records = page_records(out, item_id)
    assert [r["words"] >= 50 for r in records] == [True] * len(records) if tag is None else [True] * 3 + [False]
    for record in records:
        assert abs(record["dpi"] / 300 - 1) <= 0.10, record
        assert record["dpi_tag"] == tag and record["dpi_method"].startswith("estimated"), record
    for width, height in pdf_sizes(out, item_id):  # A4, not 65 x 92 cm
        assert abs(width / A4_PT[0] - 1) <= 0.05 and abs(height / A4_PT[1] - 1) <= 0.05, (width, height)
    assert not {item_id} & quarantined(out, batch)
    [warning] = [reason for where, reason in report_reasons(report, "warning").items()
                 if where.startswith(f"{item_id}/")]
    # without a tag, a TIFF records 1 dpi (Pillow's default, as much scanner software writes)
    assert ("records 96 dpi" if tag else "no resolution (dpi) recorded" if "unbelievable" not in warning
            else "records an unbelievable resolution (1 dpi") in warning
    assert f"{records[0]['dpi']} dpi" in warning and "estimated from the page size and text lines" in warning
    assert not [where for where in report_reasons(report, "error") if where.startswith(f"{item_id}/")]


@pytest.mark.slow  # a batch run (OCR)
def test_a_blank_page_takes_the_resolution_of_its_item(wrong_tags):
    _, out, _, _ = wrong_tags
    blank = page_records(out, "TAG96-1")[3]
    assert blank["blank"] and blank["dpi_estimate"] is None
    assert (blank["dpi"], blank["dpi_method"]) == (300, "estimated from the item's other pages")


@pytest.mark.slow  # a batch run (OCR)
def test_the_mets_says_how_the_resolution_was_found(wrong_tags):
    _, out, _, _ = wrong_tags
    path = out / "TEST" / "TAG96-1" / "mets.xml"
    validate_file(path)
    package = mets.read(path)
    assert [(p.dpi, p.dpi_tag, p.dpi_method) for p in package.pages] == [
        (300, 96, "estimated from page size and text lines")] * 3 + [(300, 96, "estimated from the item's other pages")]
    events = {e.id: e for e in package.events}
    event = events["page-0001-resolution"]
    assert "300 dpi" in event.detail and "96 dpi" in event.detail and event.outcome == "warning"
    assert "this page's own estimate: 300 dpi" in event.outcome_detail


@pytest.mark.slow  # a batch run (OCR)
@pytest.mark.parametrize("item_id,said", [("LOW96-1", "is 96 dpi"),
                                          ("LOWNONE-1", "estimated from the page: 150 dpi")])
def test_pages_truly_scanned_at_150_dpi_are_still_refused(wrong_tags, item_id, said):
    batch, out, result, report = wrong_tags
    assert report_statuses(report)[item_id] == "failed"
    [reason] = [reason for where, reason in report_reasons(report, "error").items() if where.startswith(f"{item_id}/")]
    assert said in reason and "profile quoc-ngu-modern asks for at least 200 dpi" in reason
    assert "rescan at 200 dpi or more" in reason.lower()
    assert item_id in quarantined(out, batch)
    assert result.returncode != 0


@pytest.mark.slow  # a batch run (OCR)
def test_a_stated_resolution_wins(wrong_tags):
    _, out, _, report = wrong_tags
    assert report_statuses(report)["STATED-1"] == "ok"
    [record] = page_records(out, "STATED-1")
    assert (record["dpi"], record["dpi_tag"], record["dpi_method"]) == (250, 96, "stated")
    [(width, height)] = pdf_sizes(out, "STATED-1")
    assert abs(width - record["width"] / 250 * 72) < 1 and abs(height - record["height"] / 250 * 72) < 1
    assert not [where for where in report_reasons(report) if where.startswith("STATED-1/")]  # nothing to warn about
    [page] = mets.read(out / "TEST" / "STATED-1" / "mets.xml").pages
    assert (page.dpi, page.dpi_method) == (250, "stated")


@pytest.mark.slow  # a batch run (OCR)
def test_a_han_nom_page_with_a_wrong_tag_gets_a_sane_page_size(wrong_tags):
    _, out, result, report = wrong_tags
    assert report_statuses(report)["HANNOM-1"] == "ok", result.stdout
    [(width, height)] = pdf_sizes(out, "HANNOM-1")
    assert 10 <= width / 72 * 2.54 <= 45 and 10 <= height / 72 * 2.54 <= 45, (width, height)  # was 65 x 92 cm
    warning = report_reasons(report, "warning")["HANNOM-1/p001.png"]
    assert "records 96 dpi, but the page would be" in warning and "300 dpi is assumed" in warning


@pytest.mark.slow  # a batch run (OCR)
def test_a_resolution_stated_for_the_batch_on_the_command_line(tmp_path):
    batch, out = tmp_path / "batch", tmp_path / "out"
    make_item(batch, "FLAG-1", 300, 96, 7, ["jpg"])
    result = invoke_cli("run", str(batch), "--out", str(out), "--workers", "2", "--dpi", "280")
    assert result.returncode == 0, result.stdout + result.stderr
    [record] = page_records(out, "FLAG-1")
    assert (record["dpi"], record["dpi_method"]) == (280, "stated")


@pytest.mark.slow  # several seconds: pages rendered or several commands run
def test_a_dpi_column_in_items_csv_states_the_resolution(tmp_path):
    batch = tmp_path / "batch"
    scans(batch / "CSV-1", 1, 300, 96, 8, ["png"])
    (batch / "items.csv").write_text("folder,id,title,library,access,dpi\nCSV-1,CSV-1,t,TEST,open,300\n",
                                     encoding="utf-8")
    settings = get_settings()
    row = {"folder": "CSV-1", "id": "CSV-1", "title": "t", "library": "TEST", "access": "open", "dpi": "300"}
    plan = plan_item(batch / "CSV-1", batch, row, lambda meta: get_profile(settings.profiles, "quoc-ngu-modern"),
                     settings.max_pixels)
    assert plan.ok, plan.problems
    assert [(p.dpi, p.dpi_method) for p in plan.pages] == [(300, "stated")]


@pytest.mark.slow  # several seconds: pages rendered or several commands run
@pytest.mark.parametrize("dpi,paper", [(340, "14.5 x 20.5 cm"), (400, "A5"), (240, "A4"), (300, "13 x 19 cm")])
def test_the_estimate_is_close_and_quick(tmp_path, dpi, paper):
    """Book formats at resolutions a scanner or a camera gives: within 10 % (the issue's books measure
    like 340 dpi on 14.5 x 20.5 cm)."""
    vnpages.PAPER_MM.setdefault(paper, {"14.5 x 20.5 cm": (145, 205), "13 x 19 cm": (130, 190)}.get(paper))
    full_pages = partial(vnpages.render_pages, TEXT)
    scans(tmp_path, 2, dpi, 96, 9, ["jpg", "png"], paper=paper, render=full_pages)
    profile = get_profile(get_settings().profiles, "quoc-ngu-modern")
    for path in sorted(tmp_path.glob("p*")):
        [frame], [warning] = check_page_file(path, profile, get_settings().max_pixels, decode=False)
        assert abs(frame["resolution"].dpi / dpi - 1) <= 0.10, (path.name, frame["resolution"])
        assert "records 96 dpi" in warning
