"""The layers of DESIGN.md as import-linter contracts (pyproject.toml): they hold, and they catch a
library module that imports the Prefect wiring."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layer_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_library_module_importing_flows_breaks_them(tmp_path):
    for part in ("src", "flows"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    storage = tmp_path / "src" / "digitize" / "storage.py"
    storage.write_text(storage.read_text(encoding="utf-8") + "\nfrom flows import runners  # noqa\n",
                       encoding="utf-8")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "digitize.storage -> flows.runners" in result.stdout
