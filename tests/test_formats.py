"""PRONOM format identification (FIDO's signatures): each format an item is given in or made into
identified by its content, a file whose content contradicts its extension told with both, a
format the profile does not accept refused with the list, and the PUIDs carried by the METS
(the sample batch's METS are checked in test_sample_batch.py, on the session's run)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image

from conftest import MINI, STORED, copy_stored_items, invoke_cli, latest_report, report_reasons, toml
from digitize.capture import formats
from digitize.capture.intake import plan_item
from digitize.core.models import ItemMetadata, Profile
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings
from digitize.describe import mets, schemas

SETTINGS = get_settings()
STORED_ITEM = STORED / "store" / "HD-TV" / "HD-DC-0001"


def page_image(kind: str, **options) -> bytes:
    """A small grey page image in ``kind`` (a Pillow format name), made at run time."""
    image = Image.new("L", (300, 200), 230)
    image.paste(40, (20, 20, 280, 40))
    buffer = io.BytesIO()
    image.save(buffer, kind, dpi=(300, 300), **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name,content,puid", [
    ("page.tif", lambda: page_image("TIFF", compression="tiff_lzw"), "fmt/353"),
    ("page.png", lambda: page_image("PNG"), "fmt/11"),
    ("page.jpg", lambda: page_image("JPEG"), "fmt/43"),
    ("page.jp2", lambda: page_image("JPEG2000"), "x-fmt/392"),
    ("item.pdf", lambda: (STORED_ITEM / "HD-DC-0001.pdf").read_bytes(), "fmt/477"),  # PDF/A-2b, as the pipeline writes
    ("alto.xml", lambda: (STORED_ITEM / "alto" / "0001.xml").read_bytes(), "fmt/101"),
    ("mets.xml", lambda: (STORED_ITEM / "mets.xml").read_bytes(), "fmt/101"),
    ("page.txt", lambda: "Đây là trang một.\n".encode(), "x-fmt/111"),
])
def test_each_format_is_identified_with_its_puid(tmp_path, name, content, puid):
    path = tmp_path / name
    path.write_bytes(content())
    found = formats.identify(path)
    assert found.puid == puid
    assert found.name  # PRONOM's name of the format, recorded beside the PUID
    assert found.basis == ("extension" if puid == "x-fmt/111" else "signature")  # plain text has no signature


def test_the_content_decides_not_the_extension(tmp_path):
    path = tmp_path / "0001.tif"
    path.write_bytes(page_image("PNG"))
    found, warning = formats.check_extension(formats.identify(path), path.name)
    assert (found.puid, found.expected) == ("fmt/11", "TIFF")
    assert "PNG (fmt/11" in str(warning) and ".tif says TIFF" in str(warning)
    assert formats.check_extension(formats.identify(path), "0001.png") == (formats.identify(path), None)


def item_folder(root: Path, item_id: str, pages: dict[str, bytes], profile: str = "quoc-ngu-modern") -> Path:
    folder = root / item_id
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text(toml(id=item_id, title="Thử định dạng", library="TEST", access="open",
                                           profile=profile), encoding="utf-8")
    for name, data in pages.items():
        (folder / name).write_bytes(data)
    return folder


def test_a_png_named_tif_is_taken_in_with_a_warning_naming_both(tmp_path):
    folder = item_folder(tmp_path, "MISNAMED-1", {"0001.tif": page_image("PNG"), "0002.tif": page_image("TIFF")})
    plan = plan_item(folder, tmp_path, None, lambda meta: get_profile(SETTINGS.profiles, "quoc-ngu-modern"),
                     SETTINGS.max_pixels)
    assert plan.ok  # it decodes: it is processed
    [warning] = [p for p in plan.problems if p.severity == "warning"]
    assert warning.file == "0001.tif"
    assert "PNG (fmt/11" in warning.reason and "TIFF" in warning.reason
    assert [(p.identified.puid, p.identified.expected) for p in plan.pages] == [("fmt/11", "TIFF"), ("fmt/353", "")]


def test_a_format_the_profile_does_not_accept_is_refused_with_the_list(tmp_path):
    gif = io.BytesIO()
    Image.new("L", (300, 200), 230).save(gif, "GIF")
    folder = item_folder(tmp_path, "GIF-1", {"0001.png": gif.getvalue(), "0002.jpg": page_image("JPEG")})
    tiff_only = get_profile(SETTINGS.profiles, "quoc-ngu-modern").model_copy(update={"formats": ["TIFF", "PNG"]})
    plan = plan_item(folder, tmp_path, None, lambda meta: tiff_only, SETTINGS.max_pixels)
    assert not plan.ok
    reasons = {p.file: p.reason for p in plan.problems if p.severity == "error"}
    assert "fmt/3, Graphics Interchange Format 87a" in reasons["0001.png"]  # as Pillow writes GIF
    assert "JPEG (fmt/43" in reasons["0002.jpg"]
    assert all("does not accept (it accepts TIFF, PNG)" in reason for reason in reasons.values())


def test_a_profile_names_formats_it_knows():
    assert Profile(name="p", languages=["vie"]).formats == ["TIFF", "JPEG", "PNG", "JPEG 2000", "PDF"]
    assert Profile(name="p", languages=["vie"], formats=["TIFF", "fmt/1129"]).formats == ["TIFF", "fmt/1129"]
    with pytest.raises(ValueError, match="'GIFF' is neither a format family"):
        Profile(name="p", languages=["vie"], formats=["GIFF"])
    for profile in ("quoc-ngu-modern", "quoc-ngu-old", "french-colonial", "han-nom", "han-horizontal"):
        assert "PDF" in get_profile(SETTINGS.profiles, profile).formats  # PDFs from other agencies


def test_puids_in_the_mets_are_schema_valid_and_read_back(tmp_path):
    stored = copy_stored_items(tmp_path / "stored")
    folder = stored.folder("HD-DC-0001")
    package = mets.read(folder / "mets.xml")
    identified = {entry.id: formats.identify(stored.resolve(entry.href)) for entry in package.files}
    identified["master-0001"] = identified["master-0001"].model_copy(update={"expected": "TIFF"})
    for entry in package.files:
        entry.format = identified[entry.id]
    meta = ItemMetadata(id=package.item_id, title=package.description.title, library=package.library,
                        category=package.category, access=package.access)
    copy = tmp_path / "mets.xml"
    copy.write_bytes(mets.render(package, meta, [package.item_id], str(copy)))  # validated as it is written
    schemas.validate_file(copy)
    assert mets.read(copy) == package
    root = etree.parse(str(copy)).getroot()
    for node in root.xpath("//mets:file", namespaces=mets.NS):
        [key] = root.xpath(f"//mets:techMD[@ID='{node.get('ADMID')}']//premis:formatRegistry"
                           "[premis:formatRegistryName='PRONOM']/premis:formatRegistryKey", namespaces=mets.NS)
        assert key.text == identified[node.get("ID")].puid


@pytest.mark.slow
def test_a_png_named_tif_is_reported_in_the_summary_and_the_mets(tmp_path):
    """The whole run: the item is made from the misnamed page, the summary names the file, what its
    extension says and what it is, and the METS's identification event records it."""
    batch = tmp_path / "batch"
    page = MINI / "HD-DC-0001" / "0001.jpg"
    with Image.open(page) as image:
        png = io.BytesIO()
        image.save(png, "PNG", dpi=image.info.get("dpi", (200, 200)))
    item_folder(batch, "MISNAMED-1", {"0001.tif": png.getvalue()})
    shutil.copy(MINI / "HD-DC-0001" / "0002.tif", batch / "MISNAMED-1" / "0002.tif")
    out = tmp_path / "out"
    result = invoke_cli("run", str(batch), "--out", str(out), "--workers", "1", DIGITIZE_DATA=str(tmp_path / "data"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0001.tif" in result.stdout and "PNG (fmt/11" in result.stdout and ".tif says TIFF" in result.stdout
    assert "PNG (fmt/11" in report_reasons(latest_report(out), "warning")["MISNAMED-1/0001.tif"]
    package = mets.read(out / "TEST" / "MISNAMED-1" / "mets.xml")
    event = next(e for e in package.events if e.id == "format-identification-masters")
    assert event.outcome == "warning"
    assert "master-0001 (0001.tif): the content is fmt/11" in event.outcome_detail
    assert "the extension says TIFF" in event.outcome_detail
    assert [(f.id, f.format.puid) for f in package.files if f.use == "master"] == [("master-0001", "fmt/11"),
                                                                                     ("master-0002", "fmt/353")]
