"""The batch engine: the same outputs with or without Prefect, each output hashed once, the METS
written once per item, and the library free of Prefect."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import EPOCH, MINI, MINI_PAGES, ROOT, SAMPLES, output_hashes, run_cli
from digitize.core import files
from digitize.engine.batch import BatchRequest, run_batch
from digitize.engine.runner import ThreadRunner
from digitize.core.settings import get_settings


@pytest.mark.slow
def test_direct_and_prefect_runs_give_byte_identical_outputs(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    data = tmp_path / "data"
    args = ("run", str(MINI), "--out", str(data / "out"), "--workers", "2")  # the sample items, tiny pages
    direct = run_cli(*args)
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert "temporary Prefect server" not in direct.stdout
    data.rename(tmp_path / "direct")  # the flow run then writes to the same paths

    flow = run_cli(*args, api_url=prefect_server)
    assert flow.returncode == 0, flow.stdout + flow.stderr
    assert f"items ok 2, failed 0; pages {MINI_PAGES}" in flow.stdout

    on_flow, on_direct = output_hashes(data), output_hashes(tmp_path / "direct")
    assert any(k.endswith("mets.xml") for k in on_flow) and any(k.endswith(".pdf") for k in on_flow)
    assert on_flow == on_direct


class RecordingRunner(ThreadRunner):
    """The thread runner, noting when each piece of work ran."""

    def __init__(self, workers: int):
        super().__init__(workers)
        self.spans: list[tuple[str, str, float, float]] = []

    def submit(self, kind, label, fn, *args):
        def timed(*args):
            began = time.monotonic()
            try:
                return fn(*args)
            finally:
                self.spans.append((kind, label, began, time.monotonic()))
        return super().submit(kind, label, timed, *args)


@pytest.mark.slow  # a batch run (OCR) of the sample batch
def test_one_run_hashes_each_output_once_writes_each_mets_once_and_keeps_cores_busy(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITIZE_DATA", str(tmp_path / "data"))
    out, store = tmp_path / "data" / "out", tmp_path / "data" / "store"
    hashed, written = Counter(), Counter()

    def counting(function, counter):
        def wrapper(*args, **kwargs):
            counter[Path(args[0]).resolve()] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(files, "sha256_file", counting(files.sha256_file, hashed))
    monkeypatch.setattr(files, "copy_hashed", counting(files.copy_hashed, hashed))
    monkeypatch.setattr(files, "atomic_writer", counting(files.atomic_writer, written))

    runner = RecordingRunner(2)
    try:
        summary = run_batch(BatchRequest.make(SAMPLES, get_settings(), out), runner)
    finally:
        runner.close()
    assert summary.ok, summary.model_dump_json(indent=1)

    for item in summary.items:
        folder, stored = out / "HD-TV" / item.item_id, store / "HD-TV" / item.item_id
        outputs = [folder / p.relative_to(stored) for p in sorted(stored.rglob("*")) if p.is_file()]
        assert len(outputs) >= item.pages * 2 + 6  # text and ALTO a page; masters, PDF, text, DC, METS, manifest
        assert {p: hashed[p.resolve()] for p in outputs} == {p: 1 for p in outputs}  # the copy into the store
        resolved = {o.resolve() for o in outputs}
        assert not [p for p in hashed if p.is_relative_to(folder.resolve()) and p not in resolved]
        assert written[(folder / "mets.xml").resolve()] == 1

    # the first item was assembled and stored while the second item's pages were being read
    first, second = summary.items[0].item_id, summary.items[1].item_id
    [(assembly_began, assembly_ended)] = [(b, e) for kind, label, b, e in runner.spans
                                          if kind == "assemble-item" and first in label]
    second_pages = [(b, e) for kind, label, b, e in runner.spans if kind == "page" and second in label]
    assert any(b < assembly_ended and e > assembly_began for b, e in second_pages), runner.spans


def test_the_library_imports_no_prefect():
    """`digitize run` without a server loads neither Prefect nor the flows."""
    code = ("import sys, digitize.cli.app, digitize.engine.batch, digitize.web.app, digitize.preservation.export; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows', 'prefect_dask')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "[]"
