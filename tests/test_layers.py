"""The layers of ARCHITECTURE.md as import-linter contracts (pyproject.toml): they hold, and each
one breaks on a deliberate bad import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    return subprocess.run([str(LINT), "--no-cache", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layer_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (module that gets the bad import, the import, the contract that must break, what the report names)
BAD_IMPORTS = [
    ("core/files.py", "from digitize.ledger import database", "digitize layers",
     "digitize.core.files -> digitize.ledger.database"),
    ("engine/batch.py", "from digitize.access import oai", "digitize layers",
     "digitize.engine.batch -> digitize.access.oai"),
    ("capture/pdf.py", "from digitize.describe import mets", "digitize layers",
     "digitize.capture.pdf -> digitize.describe.mets"),
    ("store/storage.py", "from flows import runners", "digitize does not import flows",
     "digitize.store.storage -> flows.runners"),
    ("web/app.py", "import prefect", "digitize does not import flows", "digitize.web.app -> prefect"),
    ("access/reading.py", "import fastapi", "FastAPI and Starlette only inside digitize.web",
     "digitize.access.reading -> fastapi"),
    ("engine/batch.py", "import rich", "Typer and Rich only inside digitize.cli", "digitize.engine.batch -> rich"),
    ("access/iiif/image.py", "from digitize.store import storage", "the IIIF and page-rendering modules",
     "digitize.access.iiif.image -> digitize.store.storage"),
    ("access/site.py", "from digitize.ledger import database", "the IIIF and page-rendering modules",
     "digitize.access.site -> digitize.ledger.database"),
    ("core/models.py", "from digitize.core import files", "no import cycles", "- .models -> .files"),
]


@pytest.mark.parametrize("module, bad_import, contract, named", BAD_IMPORTS, ids=[b[1] + " in " + b[0] for b in BAD_IMPORTS])
def test_each_contract_breaks_on_a_bad_import(tmp_path, module, bad_import, contract, named):
    for part in ("src", "flows"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    source = tmp_path / "src" / "digitize" / module
    source.write_text(source.read_text(encoding="utf-8") + f"\n{bad_import}  # noqa\n", encoding="utf-8")
    result = lint(tmp_path)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken, result.stdout
    assert named in broken, result.stdout
