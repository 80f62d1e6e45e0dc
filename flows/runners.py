"""Prefect tasks and Dask workers behind the batch engine's runner seam (digitize.engine.runner)."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Callable
from uuid import uuid4


class PrefectRunner:
    """Each piece of work as a Prefect task (named by its kind, its run by its label) on the flow's
    task runner. On threads only ``workers`` pages are handed over at a time, so the Prefect UI
    shows as running exactly the pages being worked on; Dask gets them all and spreads them."""

    def __init__(self, workers: int):
        from prefect.context import FlowRunContext
        from prefect.task_runners import ThreadPoolTaskRunner

        self.window = workers if isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner) else None
        self.tasks: dict[tuple[Callable, str], object] = {}

    def submit(self, kind: str, label: str, fn: Callable, *args) -> Future:
        from prefect import task
        from prefect.cache_policies import NO_CACHE

        if (fn, kind) not in self.tasks:
            self.tasks[fn, kind] = task(fn, name=kind, cache_policy=NO_CACHE)
        escaped = label.replace("{", "{{").replace("}", "}}")  # Prefect formats run names with the parameters
        return self.tasks[fn, kind].with_options(task_run_name=escaped).submit(*args)

    def close(self) -> None:
        """The flow's task runner waits for its tasks."""


class DaskRunner:
    """Work on Dask: a local cluster (``address`` "local": ``workers`` single-threaded worker
    processes) or the scheduler at ``address`` (its workers must see the batch and output folders
    at the same paths)."""

    window = None

    def __init__(self, address: str, workers: int):
        from distributed import Client, LocalCluster

        self.cluster = None
        if address == "local":
            # its workers' log lines (each registering with the scheduler) show, as with prefect-dask
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        silence_logs=logging.INFO)
        self.client = Client(self.cluster or address)

    def submit(self, kind: str, label: str, fn: Callable, *args) -> Future:
        return self.client.submit(fn, *args, key=f"{kind}-{uuid4().hex}", pure=False)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
