"""Old-material pages (faded ink, dark paper, noise, blur, JPEG) must still read well."""

from __future__ import annotations

import pytest

from conftest import CORPUS
from digitize.capture.intake import plan_item
from digitize.engine.pipeline import process_page
from digitize.core.profiles import get_profile
from digitize.core.quality import cer
from digitize.core.settings import get_settings
from vnpages import render_pages

pytestmark = pytest.mark.slow  # OCR of rendered pages

ITEM = 'id = "HARD-1"\ntitle = "Trang khó"\nlibrary = "TEST"\naccess = "open"\nprofile = "quoc-ngu-old"\n'


@pytest.mark.parametrize("text,seed", [("truyen-kieu-1866.txt", 21), ("ke-hoach-hai-duong.txt", 22)])
def test_faded_noisy_pages_reach_three_percent_cer(tmp_path, text, seed):
    batch = tmp_path / "batch"
    item = batch / "HARD-1"
    manifest = render_pages(CORPUS / text, item, 2, seed=seed, level="hard", paper="A5",
                            fmt=["jpg", "png"], border=[True, False])
    (item / "HARD-1.toml").unlink(missing_ok=True)
    (item / "item.toml").write_text(ITEM, encoding="utf-8")
    settings = get_settings()
    profile = get_profile(settings.profiles, "quoc-ngu-old")
    plan = plan_item(item, batch, None, lambda meta: profile, settings.max_pixels)
    assert plan.ok, plan.problems
    for page, entry in zip(plan.pages, manifest):
        record = process_page(page, profile, tmp_path / "out")
        text_out = (tmp_path / "out" / record.text_file).read_text(encoding="utf-8")
        truth = (item / entry["gt"]).read_text(encoding="utf-8")
        assert cer(text_out, truth) <= 0.03, (entry, cer(text_out, truth))
        assert record.confidence > 80
