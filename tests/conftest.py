from __future__ import annotations

import hashlib
import json
import os
import subprocess
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
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def sample_run(prefect_server, tmp_path_factory):
    """`digitize run sample_scans` once for the session: (out folder, completed process, input hashes)."""
    out = tmp_path_factory.mktemp("out")
    before = tree_hashes(SAMPLES)
    result = run_cli(prefect_server, "run", str(SAMPLES), "--out", str(out), "--workers", "2")
    return out, result, before


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sample_manifest() -> dict:
    return json.loads((TRUTH / "manifest.json").read_text(encoding="utf-8"))


def run_cli(api_url: str, *args: str) -> subprocess.CompletedProcess:
    """`digitize ARGS` in its own process, as an operator runs it, against the test Prefect API."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "digitize.cli", *args], env=env, capture_output=True,
                          text=True, timeout=900)
