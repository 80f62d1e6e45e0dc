"""The seam between a batch run and whatever does its work: submit a callable, get a future (with
``result()`` and ``add_done_callback``). Threads in this process ship here; flows/ adds Prefect
tasks and Dask workers behind the same seam."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Protocol


class Runner(Protocol):
    # Pages handed over at a time; None hands every page over at once (the runner spreads them).
    window: int | None

    def submit(self, kind: str, label: str, fn: Callable, *args) -> Future:
        """Run ``fn(*args)``; ``kind`` names the sort of work (page, ingest-item, assemble-item,
        store-item) and ``label`` this piece of it, for whoever shows them."""

    def close(self) -> None:
        """Wait for what was submitted and let the workers go."""


class ThreadRunner:
    """Threads in this process. Page work releases the GIL (Tesseract, OpenCV, pikepdf), so
    ``workers`` threads keep as many cores busy. A few more threads than that let an item be
    assembled and stored while the next item's pages go on."""

    def __init__(self, workers: int):
        self.window = workers
        self.pool = ThreadPoolExecutor(max_workers=workers + 2, thread_name_prefix="digitize")

    def submit(self, kind: str, label: str, fn: Callable, *args) -> Future:
        return self.pool.submit(fn, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
