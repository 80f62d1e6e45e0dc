"""What a batch run says in the places many people see (the Prefect UI), without a server: the
reason of a truncated TIFF in Vietnamese from the catalogue and in English; the run's summary
with every reason and the quarantine named, a secret item's id and folder nowhere; the item
tasks named by id and folder, a secret one by its number; the run form's parameters."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image

from conftest import SAMPLES
from digitize.capture import pagefiles
from digitize.capture.intake import plan_item
from digitize.core.i18n import N_, bilingual
from digitize.core.models import BatchSummary, ItemResult, Problem, Severity, Status
from digitize.core.profiles import get_profile
from digitize.core.settings import get_settings
from digitize.engine import public_summary
from digitize.engine.batch import intake_name

SECRET_ID, SECRET_FOLDER = "MAT-0007", "mat-0007-folder"


def truncated_tiff(folder: Path) -> Path:
    """A valid small page saved as TIFF, then cut short."""
    folder.mkdir(parents=True, exist_ok=True)
    page = Image.open(SAMPLES / "HD-DC-0001" / "0002.jpg").convert("L").resize((600, 400))
    path = folder / "0001.tif"
    page.save(path, dpi=(300, 300))
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return path


def test_the_reason_of_a_truncated_tiff_reads_in_vietnamese_and_in_english(tmp_path):
    path = truncated_tiff(tmp_path / "BAD-2")
    profile = get_profile(get_settings().profiles, "quoc-ngu-modern")
    [(damaged, reason)] = pagefiles.decode_all([path], profile, get_settings().max_pixels)
    problem = Problem(item="BAD-2", file=damaged.name, reason=reason)
    assert problem.reason.startswith("the image data is damaged or truncated (")
    assert problem.reason.endswith(". Copy it again from the scanner or rescan the page")
    vietnamese = problem.reason_in("vi")
    assert vietnamese.startswith("dữ liệu ảnh bị hỏng hoặc bị cắt cụt (")
    assert vietnamese.endswith(". Chép lại tệp từ máy quét hoặc quét lại trang")
    assert problem.reason_in("en") == problem.reason
    again = Problem.model_validate_json(problem.model_dump_json())  # as the run's JSON report keeps it
    assert again.reason_in("vi") == vietnamese


def test_metadata_reasons_of_an_item_read_in_vietnamese(tmp_path):
    folder = tmp_path / "batch" / "X-1"
    folder.mkdir(parents=True)
    (folder / "item.toml").write_text('id = "X-1"\ntitle = "Sách"\nlibrary = "HD-TV"\nacces = "open"\n',
                                      encoding="utf-8")
    plan = plan_item(folder, folder.parent, None, lambda meta: None, get_settings().max_pixels)
    [problem] = plan.problems
    assert problem.reason.startswith("unknown key 'acces' in the item metadata (did you mean 'access'?)")
    assert problem.reason_in("vi").startswith("siêu dữ liệu của tài liệu có khóa lạ 'acces' (có phải là 'access'?)")


def test_texts_read_in_each_language_and_a_wrong_placeholder_falls_back_to_english(monkeypatch):
    from digitize.core import i18n

    text = N_("the image data is damaged or truncated ({detail})", detail="cut")
    assert text.in_language("vi") == "dữ liệu ảnh bị hỏng hoặc bị cắt cụt (cut)" and str(text) == (
        "the image data is damaged or truncated (cut)")
    assert bilingual(N_("Batch folder")) == "Thư mục lô · Batch folder"
    assert N_("frame {number}: ", number=2).in_language("vi") == "khung 2: "
    nested = N_("{frame}the image is {width}x{height} pixels, longer than a page image can be ({most} pixels at "
                "most on each side)", frame=N_("frame {number}: ", number=2), width=9, height=70000, most=65500)
    assert nested.in_language("vi").startswith("khung 2: ảnh có 9x70000 điểm ảnh")

    class Mistyped:
        def gettext(self, msgid):
            return "Lô {nme}"

    monkeypatch.setattr(i18n, "translations", lambda lang: Mistyped())
    assert N_("Batch {name}", name="lo-1").in_language("vi") == "Batch lo-1"


def summary_with_a_secret_and_a_truncated_item(out: Path) -> BatchSummary:
    profile = get_profile(get_settings().profiles, "quoc-ngu-modern")
    path = truncated_tiff(out / "scans" / "BAD-2")
    [(_, reason)] = pagefiles.decode_all([path], profile, get_settings().max_pixels)
    quarantine = out / "_quarantine" / "lo-1"
    now = datetime.now(timezone.utc)
    return BatchSummary(batch=str(out / "lo-1"), started=now, finished=now, problems=[], items=[
        ItemResult(item_id="GOOD-1", library="HD-TV", folder="good", status=Status.ok, pages=1,
                   mean_confidence=96.5),
        ItemResult(item_id="BAD-2", library="HD-TV", folder="BAD-2", status=Status.failed, pages=1,
                   quarantine=str(quarantine / "BAD-2"),
                   problems=[Problem(item="BAD-2", file="0001.tif", reason=reason),
                             Problem(item="BAD-2", file="0002.tif", severity=Severity.warning,
                                     reason=N_("file name is in decomposed Unicode (NFD); recorded in its NFC form"))]),
        ItemResult(item_id=SECRET_ID, library="HD-TV", folder=SECRET_FOLDER, status=Status.failed, secret=True,
                   pages=1, quarantine=str(quarantine / SECRET_FOLDER),
                   problems=[Problem(item=SECRET_ID, file=f"{SECRET_ID}_0001.tif", reason=reason)]),
    ])


def test_the_summary_names_every_reason_and_the_quarantine_and_never_a_secret_item(tmp_path):
    summary = summary_with_a_secret_and_a_truncated_item(tmp_path)
    lines = public_summary.log_lines(summary)
    markdown = public_summary.markdown(summary)
    message = public_summary.failure_message(summary)
    everything = repr(lines) + markdown + message
    assert SECRET_ID not in everything and SECRET_FOLDER not in everything

    [bad] = [line for level, line in lines if line.startswith("BAD-2:")]
    assert bad.startswith("BAD-2: failed, 1 pages: 0001.tif: the image data is damaged or truncated (")
    assert "Copy it again from the scanner or rescan the page; 0002.tif: warning: file name is in decomposed" in bad
    assert bad.endswith(f"copied to {tmp_path / '_quarantine' / 'lo-1' / 'BAD-2'}")
    assert dict((line.split(":")[0], level) for level, line in lines) == {
        "GOOD-1 (folder good)": logging.INFO, "BAD-2": logging.ERROR, "a secret item": logging.ERROR}

    assert "| BAD-2 | BAD-2 | lỗi · failed | 1 |" in markdown
    assert "| GOOD-1 | good | đã lưu · stored | 1 |" in markdown
    assert "| một tài liệu mật · a secret item | — | lỗi · failed | 1 |" in markdown
    bad = markdown[markdown.index("### BAD-2 · lỗi · failed"):markdown.index("### một tài liệu mật")]
    assert "\n- Lý do: 0001.tif: dữ liệu ảnh bị hỏng hoặc bị cắt cụt (" in bad
    assert "Chép lại tệp từ máy quét hoặc quét lại trang; 0002.tif: cảnh báo: tên tệp ở dạng Unicode tổ hợp" in bad
    assert "\n- Reason: 0001.tif: the image data is damaged or truncated (" in bad
    assert f"\n- Khu cách ly · Quarantine: `{tmp_path / '_quarantine' / 'lo-1' / 'BAD-2'}`" in bad
    assert "### GOOD-1" not in markdown  # stored without a word: nothing to explain
    assert "3 tài liệu: 1 đã lưu, 2 lỗi, 0 chờ lưu vào kho · 3 items: 1 stored, 2 failed" in markdown
    assert message.startswith("3 tài liệu: 1 đã lưu, 2 lỗi") and "BAD-2: 0001.tif: the image data" in message


def test_a_run_with_every_item_stored_has_no_failure_message(tmp_path):
    now = datetime.now(timezone.utc)
    summary = BatchSummary(batch="lo", started=now, finished=now, problems=[], items=[
        ItemResult(item_id="GOOD-1", library="HD-TV", folder="good", status=Status.ok, pages=1)])
    assert public_summary.failure_message(summary) is None


def test_item_tasks_are_named_by_id_and_folder_and_a_secret_one_by_its_number(tmp_path):
    def item(folder: str, toml: str) -> Path:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "item.toml").write_text(toml, encoding="utf-8")
        return tmp_path / folder

    readable = item("hop-1", 'id = "HD-1"\ntitle = "x"\nlibrary = "HD-TV"\naccess = "open"\n')
    secret = item(SECRET_FOLDER, f'id = "{SECRET_ID}"\ntitle = "x"\nlibrary = "HD-TV"\naccess = "secret"\n')
    broken_secret = item("MAT-9", 'id = "MAT-9"\ntitle = "x"\nlibrary = "HD-TV"\nacces = "secret"\n')
    broken = item("HD-3", 'id = "HD-3"\ntitle = "x"\nlibrary = "HD-TV"\nacces = "open"\n')
    assert intake_name(1, readable, None, {}, {}) == "HD-1 (folder hop-1)"
    assert intake_name(2, secret, None, {}, {}) == "secret item 2"
    assert intake_name(3, broken_secret, None, {}, {}) == "item folder 3"  # it may be secret: not named
    assert intake_name(4, broken, None, {}, {}) == "folder HD-3"
    assert intake_name(4, broken, None, {}, {"HD-TV": {"access": "secret"}}) == "item folder 4"


def test_the_run_form_has_plain_fields_with_defaults_in_both_languages():
    from prefect.utilities.callables import parameter_schema

    from flows.batch import digitize_batch

    form = parameter_schema(digitize_batch.fn).model_dump_for_openapi()
    assert form["required"] == ["batch"]
    for name, field in form["properties"].items():
        assert "anyOf" not in field and field.get("type") != "null", name
        assert " · " in field["title"] and " · " in field["description"], name
        assert name == "batch" or "default" in field, name
    assert form["properties"]["workers"]["minimum"] == 1 and form["properties"]["dpi"]["maximum"] == 4800
    assert "Args:" not in digitize_batch.description and "Failed" in digitize_batch.description
