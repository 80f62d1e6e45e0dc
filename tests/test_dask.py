"""Scale-out: the pages of a batch on a local Dask cluster with 2 workers (flows.runners.DaskRunner
behind the engine's runner seam) give the same outputs, byte for byte, as the default thread runner."""

from __future__ import annotations

import pytest

from conftest import EPOCH, STORED, output_hashes, run_cli

pytestmark = pytest.mark.slow  # two runs of the sample batch, one on a Dask cluster


def test_dask_local_cluster_gives_the_same_outputs_as_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    data = tmp_path / "data"
    args = ("run", str(STORED / "scans"), "--out", str(data / "out"), "--workers", "2")  # 2 small items
    threads = run_cli(*args)
    assert threads.returncode == 0, threads.stdout + threads.stderr
    data.rename(tmp_path / "threads")  # the Dask run then writes to the same paths

    dask = run_cli(*args, "--dask", "local")
    assert dask.returncode == 0, dask.stdout + dask.stderr
    log = dask.stdout + dask.stderr
    assert log.count("Register worker addr") == 2  # the pages went to two Dask workers
    assert "items ok 2, failed 0; pages 4" in dask.stdout

    on_dask, on_threads = output_hashes(data), output_hashes(tmp_path / "threads")
    assert sum(k.endswith(".txt") for k in on_dask) >= 4 and any(k.endswith(".pdf") for k in on_dask)
    assert on_dask == on_threads
