"""Intake: formats, frames, resolution rules, metadata sources and natural page order."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLES
from digitize.core.errors import BadInput
from digitize.capture.intake import find_items, plan_item
from digitize.capture.pagefiles import check_page_file, load_page
from digitize.core.files import natural_key
from digitize.core.profiles import get_profile, load_profiles
from digitize.core.settings import get_settings

SETTINGS = get_settings()


def profile(name="quoc-ngu-modern"):
    return get_profile(SETTINGS.profiles, name)


def plan(folder, batch=None, row=None, name="quoc-ngu-modern"):
    return plan_item(folder, batch or folder.parent, row, lambda meta: profile(name), SETTINGS.max_pixels)


def test_profiles_load_and_say_what_the_issue_asks():
    profiles = load_profiles(SETTINGS.profiles)
    assert {"quoc-ngu-modern", "quoc-ngu-old", "french-colonial", "han-nom"} <= set(profiles)
    assert profiles["quoc-ngu-modern"].languages == ["vie"]
    assert profiles["french-colonial"].languages == ["fra", "vie"]
    assert profiles["han-nom"].languages == ["chi_tra_vert", "chi_tra"]
    assert profiles["han-nom"].needs_transcription
    assert all(p.min_dpi >= 200 for p in profiles.values())
    assert profiles["quoc-ngu-old"].preprocessing.cleanup > profiles["quoc-ngu-modern"].preprocessing.cleanup


def test_sample_formats_decode_with_their_frames_and_dpi():
    tk = plan(SAMPLES / "HN-TK-0002")
    assert tk.ok, tk.problems
    assert [(p.name, p.frame) for p in tk.pages] == [("0001.tif#1", 0), ("0001.tif#2", 1), ("0002.tif", 0)]
    assert all(p.dpi == 300 for p in tk.pages)
    g4 = load_page(tk.pages[0])
    assert g4.dtype == np.uint8 and set(np.unique(g4)) <= {0, 255}
    sixteen = load_page(tk.pages[2])
    assert sixteen.dtype == np.uint8 and sixteen.max() > 150  # 16-bit scaled, not clipped to black
    dc = plan(SAMPLES / "HD-DC-0001")
    assert [p.name for p in dc.pages] == ["0001.tif", "0002.jpg", "0003.png", "0004.jp2"]
    assert load_page(dc.pages[1]).ndim == 3  # the colour page stays colour
    assert dc.pages[3].dpi == 300


def test_pages_follow_natural_name_order(tmp_path):
    item = tmp_path / "B-1"
    item.mkdir()
    (item / "item.toml").write_text('id="B-1"\ntitle="t"\nlibrary="L"\naccess="open"\n', encoding="utf-8")
    for name in ("p10.png", "p2.png", "p1.png"):
        Image.new("L", (400, 300), 255).save(item / name, dpi=(300, 300))
    assert [p.name for p in plan(item).pages] == ["p1.png", "p2.png", "p10.png"]
    assert sorted(["a10", "a9", "A1"], key=natural_key) == ["A1", "a9", "a10"]


@pytest.mark.parametrize("dpi,policy_profile,outcome", [
    (150, "quoc-ngu-modern", "error"), (None, "quoc-ngu-modern", "error"),
    (150, "han-nom", "warning"), (300, "quoc-ngu-modern", "ok")])
def test_resolution_rule_follows_the_profile(tmp_path, dpi, policy_profile, outcome):
    path = tmp_path / "page.png"
    kwargs = {"dpi": (dpi, dpi)} if dpi else {}
    Image.new("L", (500, 700), 255).save(path, **kwargs)
    if outcome == "error":
        with pytest.raises(BadInput, match="dpi"):
            check_page_file(path, profile(policy_profile), SETTINGS.max_pixels)
        return
    frames, warnings = check_page_file(path, profile(policy_profile), SETTINGS.max_pixels)
    assert len(frames) == 1
    assert bool(warnings) == (outcome == "warning")


def test_batch_csv_supplies_metadata_for_folders_without_item_toml(tmp_path):
    batch = tmp_path / "batch"
    (batch / "VP-01").mkdir(parents=True)
    shutil.copy(SAMPLES / "HD-DC-0001" / "0004.jp2", batch / "VP-01" / "0001.jp2")
    (batch / "items.csv").write_text(
        "folder,id,title,creator,date,call_number,library,category,access,language,profile\n"
        "VP-01,VP-01,Địa chí Vĩnh Phúc,Sở Văn hóa,1999,ĐC.99,VP-TV,dia_chi,restricted,vie,quoc-ngu-old\n",
        encoding="utf-8")
    found, problems = find_items(batch)
    assert problems == []
    [(folder, row)] = found
    item = plan(folder, batch, row)
    assert item.ok, item.problems
    assert item.meta.title == "Địa chí Vĩnh Phúc" and item.meta.access.value == "restricted"
    assert item.meta.profile == "quoc-ngu-old"
