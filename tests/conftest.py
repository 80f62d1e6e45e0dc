from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_scans"
TRUTH = ROOT / "tests" / "data" / "sample_truth"
CORPUS = ROOT / "scripts" / "corpus"
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect API for the flow runs of the session (started once)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sample_manifest() -> dict:
    return json.loads((TRUTH / "manifest.json").read_text(encoding="utf-8"))


def run_cli(*args: str):
    from typer.testing import CliRunner

    from digitize.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)
