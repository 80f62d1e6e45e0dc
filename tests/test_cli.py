"""Command-line mistakes are caught before any work starts, with a plain message and exit code."""

from __future__ import annotations

import shutil

from conftest import SAMPLES, run_cli
from digitize.core.settings import PACKAGED_PROFILES


def test_missing_batch_folder(tmp_path):
    result = run_cli("run", str(tmp_path / "nowhere"))
    assert result.returncode == 65
    assert "batch folder not found" in result.stderr and "nowhere" in result.stderr


def test_unknown_profile_lists_the_known_ones():
    result = run_cli("run", str(SAMPLES), "--profile", "latin-medieval")
    assert result.returncode == 78
    assert "unknown material profile 'latin-medieval'" in result.stderr
    assert "quoc-ngu-modern" in result.stderr


def test_missing_tesseract_language_stops_the_run_and_names_the_package(tmp_path):
    profiles = tmp_path / "profiles"
    shutil.copytree(PACKAGED_PROFILES, profiles)
    khmer = (profiles / "materials" / "quoc-ngu-modern.toml").read_text(encoding="utf-8")
    (profiles / "materials" / "khmer.toml").write_text(
        khmer.replace('"quoc-ngu-modern"', '"khmer"').replace('["vie"]', '["khm"]'), encoding="utf-8")
    item = tmp_path / "batch" / "KH-1"
    item.mkdir(parents=True)
    shutil.copy(SAMPLES / "HD-DC-0001" / "0003.png", item / "0001.png")
    item_toml = 'id = "KH-1"\ntitle = "Sách tiếng Khmer"\nlibrary = "HD-TV"\naccess = "open"\n'
    # the profile given on the command line, then one named by the item itself
    for extra, named in ((["--profile", "khmer"], ""), ([], 'profile = "khmer"\n')):
        (item / "item.toml").write_text(item_toml + named, encoding="utf-8")
        result = run_cli("run", str(tmp_path / "batch"), *extra, "--out", str(tmp_path / "out"),
                         profiles=str(profiles))
        assert result.returncode == 70, result.stderr
        assert "Tesseract language data missing" in result.stderr and "khm" in result.stderr
        assert "apt-get install tesseract-ocr-khm" in result.stderr
        assert not list((tmp_path / "out").rglob("*.pdf")) and not list((tmp_path / "out").rglob("*.txt"))
