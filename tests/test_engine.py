"""The batch engine: the same outputs with or without Prefect, each output hashed once, the METS
written once per item, and the library free of Prefect."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import EPOCH, ROOT, SAMPLES, output_hashes, run_cli
from digitize import files
from digitize.batch import BatchRequest, run_batch
from digitize.runner import ThreadRunner
from digitize.settings import get_settings


@pytest.mark.slow
def test_direct_and_prefect_runs_give_byte_identical_outputs(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    data = tmp_path / "data"
    args = ("run", str(SAMPLES), "--out", str(data / "out"), "--workers", "2")
    direct = run_cli(*args)
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert "temporary Prefect server" not in direct.stdout
    data.rename(tmp_path / "direct")  # the flow run then writes to the same paths

    flow = run_cli(*args, api_url=prefect_server)
    assert flow.returncode == 0, flow.stdout + flow.stderr
    assert "items ok 2, failed 0; pages 7" in flow.stdout

    on_flow, on_direct = output_hashes(data), output_hashes(tmp_path / "direct")
    assert any(k.endswith("mets.xml") for k in on_flow) and any(k.endswith(".pdf") for k in on_flow)
    assert on_flow == on_direct


def test_every_output_is_hashed_once_and_the_mets_written_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path / "data"))
    batch = tmp_path / "batch"
    shutil.copytree(SAMPLES / "HN-TK-0002", batch / "HN-TK-0002")
    out = tmp_path / "data" / "out"
    hashed, written = Counter(), Counter()

    def counting(function, counter, argument=0):
        def wrapper(*args, **kwargs):
            counter[Path(args[argument]).resolve()] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(files, "sha256_file", counting(files.sha256_file, hashed))
    monkeypatch.setattr(files, "copy_hashed", counting(files.copy_hashed, hashed))
    monkeypatch.setattr(files, "atomic_writer", counting(files.atomic_writer, written))

    runner = ThreadRunner(2)
    try:
        summary = run_batch(BatchRequest.make(batch, get_settings(), out), runner)
    finally:
        runner.close()
    assert summary.ok, summary.model_dump_json(indent=1)

    folder = out / "HD-TV" / "HN-TK-0002"
    stored = sorted(p for p in (tmp_path / "data" / "store" / "HD-TV" / "HN-TK-0002").rglob("*") if p.is_file())
    outputs = [folder / p.relative_to(tmp_path / "data" / "store" / "HD-TV" / "HN-TK-0002") for p in stored]
    # 2 master files (one of them holds 2 pages); per page a text and an ALTO; PDF, text, DC, METS, manifest
    assert len(outputs) == 2 + 3 * 2 + 5
    assert {p: hashed[p.resolve()] for p in outputs} == {p: 1 for p in outputs}  # the copy into the store
    assert written[(folder / "mets.xml").resolve()] == 1
    assert not [p for p in hashed if p.is_relative_to(folder.resolve()) and p not in {o.resolve() for o in outputs}]


def test_the_library_imports_no_prefect():
    """`digitize run` without a server loads neither Prefect nor the flows."""
    code = ("import sys, digitize.cli, digitize.batch, digitize.web, digitize.export; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows', 'prefect_dask')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "[]"
