"""The built wheel works on its own: installed into a fresh virtual environment outside the checkout
(dependencies pinned by uv.lock), `digitize run` on the sample items (tiny pages: tests/data/stored/scans), started from another
folder, finds its profiles, schemas and font in the package and writes valid PDF/A and metadata."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import MINI, ROOT, sample_manifest
from digitize.capture.pdf import validate_pdfa
from digitize.describe.schemas import validate_file


def uv() -> list[str]:
    """The uv command (scripts/setup.sh installs it as a Python module of the system Python)."""
    for command in ([sys.executable, "-m", "uv"], ["python3", "-m", "uv"], ["uv"]):
        if shutil.which(command[0]) and subprocess.run([*command, "--version"], capture_output=True).returncode == 0:
            return command
    pytest.fail("uv is not installed: run scripts/setup.sh, which installs it")


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_wheel_installs_and_runs_the_sample_items_from_anywhere(tmp_path):
    command = uv()
    # uv's own environment: its cache is reused; nothing comes from the checkout's .venv
    uv_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    uv_env["UV_PYTHON_DOWNLOADS"] = "never"
    wheels = tmp_path / "wheels"
    run(*command, "build", "--wheel", "--out-dir", wheels, cwd=ROOT, env=uv_env, timeout=300)
    (wheel,) = wheels.glob("digitize-*.whl")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(run(*command, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
                                cwd=ROOT, env=uv_env, timeout=120).stdout, encoding="utf-8")
    venv = tmp_path / "venv"
    run(*command, "venv", "--python", sys.executable, venv, cwd=tmp_path, env=uv_env, timeout=120)
    run(*command, "pip", "install", "--python", venv / "bin" / "python", "-r", requirements, wheel,
        cwd=tmp_path, env=uv_env, timeout=600)

    batch = tmp_path / "scans"
    shutil.copytree(MINI, batch)  # the sample items with tiny pages
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("DIGITIZE_")}
    env.update(DIGITIZE_DATA=str(data), PREFECT_HOME=str(tmp_path / "prefect"), COLUMNS="200")
    result = subprocess.run([str(venv / "bin" / "digitize"), "run", str(batch), "--workers", "2"], cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "items ok 2, failed 0" in result.stdout

    # the installed package, not the checkout, did the work
    where = run(venv / "bin" / "python", "-c", "import digitize; print(digitize.__file__)", cwd=elsewhere,
                env=env).stdout
    assert str(venv) in where and str(ROOT) not in where

    out = data / "out"
    for item_id in sample_manifest():
        (record,) = out.glob(f"*/{item_id}/item.json")
        folder = out / json.loads(record.read_text(encoding="utf-8"))["metadata"]["library"] / item_id
        assert validate_pdfa(folder / f"{item_id}.pdf") == [], item_id
        for name in ("mets.xml", "dc.xml"):
            validate_file(folder / name)
