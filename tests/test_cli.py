"""Command-line mistakes are caught before any work starts, with a plain message and exit code."""

from __future__ import annotations

from conftest import SAMPLES, run_cli


def test_missing_batch_folder(tmp_path):
    result = run_cli("", "run", str(tmp_path / "nowhere"))
    assert result.returncode == 65
    assert "batch folder not found" in result.stderr and "nowhere" in result.stderr


def test_unknown_profile_lists_the_known_ones():
    result = run_cli("", "run", str(SAMPLES), "--profile", "latin-medieval")
    assert result.returncode == 78
    assert "unknown material profile 'latin-medieval'" in result.stderr
    assert "quoc-ngu-modern" in result.stderr
