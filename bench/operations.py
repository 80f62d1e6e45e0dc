#!/usr/bin/env python3
"""Operations benchmark: what Prefect costs, and what Dask workers add.

Run: .venv/bin/python bench/operations.py [--pages 50] [--dask-pages 16] [--workers N] [--json PATH]

1. Prefect overhead: the same pages (one item) through the library's batch engine on its thread
   runner (as `digitize run` without a server) and through the `digitize-batch` flow (the same
   engine, each step a Prefect task) against a real Prefect server started beforehand, in one
   process, one after the other. Overhead =
   (flow - plain) / flow; the issue's target is under 5 % for a 50-page batch.
2. Scale-out: the flow on a local Dask cluster with 1 and with 2 single-threaded workers, and with
   the default thread runner, on the same (smaller) set of pages; pages per minute for each. The
   Dask times include starting and stopping the cluster.
It prints numbers; it never fails on a missed target.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from throughput import long_corpus, make_batch, prefect_server  # noqa: E402


def plain_run(batch: Path, data: Path, workers: int) -> float:
    """The batch through the library's engine alone (digitize.engine.batch on its thread runner), as
    `digitize run` does with no Prefect server: the same work as the flow, without Prefect."""
    from digitize.engine.batch import BatchRequest, run_batch
    from digitize.engine.runner import ThreadRunner
    from digitize.core.settings import get_settings

    os.environ["DIGITIZE_DATA"] = str(data)
    get_settings.cache_clear()
    started = time.perf_counter()
    runner = ThreadRunner(workers)
    try:
        summary = run_batch(BatchRequest.make(batch, get_settings(), data / "out", workers=workers), runner)
    finally:
        runner.close()
    seconds = time.perf_counter() - started
    if not summary.ok:
        raise RuntimeError(f"the engine did not finish every item: {summary.items}")
    return seconds


def flow_run(batch: Path, data: Path, workers: int, dask: str = "") -> float:
    from digitize.core.settings import get_settings
    from flows.batch import digitize_batch, task_runner

    os.environ["DIGITIZE_DATA"] = str(data)
    get_settings.cache_clear()
    flow = digitize_batch.with_options(task_runner=task_runner(dask, workers)) if dask else digitize_batch
    started = time.perf_counter()
    summary = flow(batch=batch, out=data / "out", workers=workers)
    seconds = time.perf_counter() - started
    if not summary.ok:
        raise RuntimeError(f"the flow did not finish every item: {summary.items}")
    return seconds


def same_texts(a: Path, b: Path) -> bool:
    texts = lambda root: {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("text/*.txt"))}  # noqa: E731
    return texts(a) == texts(b) and len(texts(a)) > 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--dask-pages", type=int, default=16)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="digitize-ops-bench-"))
    numbers: dict = {"pages": a.pages, "dask_pages": a.dask_pages, "workers": a.workers, "cores": os.cpu_count()}
    try:
        corpus = long_corpus(work)
        big, small = work / "big", work / "small"
        big.mkdir()
        small.mkdir()
        batch, images, _ = make_batch(big, a.pages, a.seed, "moderate", corpus)
        small_batch, small_images, _ = (make_batch(small, a.dask_pages, a.seed + 1, "moderate", corpus)
                                        if a.dask_pages else (None, [], None))
        if (len(images), len(small_images)) != (a.pages, a.dask_pages):
            raise RuntimeError(f"only {len(images)} and {len(small_images)} pages were rendered")
        print(f"{a.pages} pages (one item) and {a.dask_pages} pages for the Dask runs; {a.workers} workers, "
              f"{os.cpu_count()} cores; work in {work}", flush=True)
        with prefect_server(work / "prefect") as api:
            os.environ["PREFECT_API_URL"] = api
            os.environ["SOURCE_DATE_EPOCH"] = "1790000000"
            plain = plain_run(batch, work / "plain", a.workers)
            print(f"plain functions: {plain:.1f} s", flush=True)
            flow = flow_run(batch, work / "flow", a.workers)
            print(f"digitize-batch flow: {flow:.1f} s", flush=True)
            numbers.update(plain_seconds=round(plain, 2), flow_seconds=round(flow, 2),
                           prefect_overhead=round((flow - plain) / flow, 4),
                           same_text=same_texts(work / "plain" / "out", work / "flow" / "out"))
            runners = (("threads", "", a.workers), ("dask 1 worker", "local", 1), ("dask 2 workers", "local", 2))
            runs = {}
            for name, dask, workers in runners if a.dask_pages else ():
                runs[name] = flow_run(small_batch, work / name.replace(" ", "-"), workers, dask)
                print(f"{name}: {runs[name]:.1f} s", flush=True)
            numbers["scale_out"] = {name: {"seconds": round(s, 2), "pages_per_minute": round(a.dask_pages / s * 60, 2)}
                                    for name, s in runs.items()}
            if runs:
                numbers["dask_same_text"] = same_texts(work / "threads" / "out", work / "dask-2-workers" / "out")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nPrefect overhead on {a.pages} pages: plain {numbers['plain_seconds']:.1f} s, flow "
          f"{numbers['flow_seconds']:.1f} s: {numbers['prefect_overhead'] * 100:.1f} % of the flow's time "
          f"(target < 5 %: {'met' if numbers['prefect_overhead'] < 0.05 else 'MISSED'}); same text: "
          f"{numbers['same_text']}")
    if numbers["scale_out"]:
        print(f"\n{'runner':<16} {'seconds':>8} {'pages/min':>10}")
        for name, row in numbers["scale_out"].items():
            print(f"{name:<16} {row['seconds']:>8.1f} {row['pages_per_minute']:>10.2f}")
        one, two = (numbers["scale_out"][k]["pages_per_minute"] for k in ("dask 1 worker", "dask 2 workers"))
        print(f"second Dask worker: {two / one:.2f}x the pages per minute of one; texts equal to the thread "
              f"runner's: {numbers['dask_same_text']}")
    if a.json:
        a.json.write_text(json.dumps(numbers, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
