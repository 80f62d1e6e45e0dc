"""Prefect tasks and Dask workers behind the batch engine's runner seam (digitize.engine.runner)."""

from __future__ import annotations

import functools
import logging
from concurrent.futures import Future
from typing import Callable
from uuid import uuid4

from digitize.engine.batch import failed_work

FAILED = ("could not be used: its reason is in this flow run's logs and in its batch-summary artifact "
          "(Artifacts), in Vietnamese and English")


class _Kept:
    """The outcome of failed work, carried back to the engine as a Failed state's data. Prefect logs
    a failed task's state with its data: this says nothing of the item (a secret item's id, its
    files) there."""

    def __init__(self, outcome: object):
        self.outcome = outcome

    def __repr__(self) -> str:
        return "kept for the batch run's summary"


def _failing_as_failed(fn: Callable) -> Callable:
    """``fn`` as a task body: work the engine counts as failed (a bad page, an item refused at intake
    or by the store) ends the task run Failed. The message names no item: the task's name already
    does, and a secret item's reasons stay out of it."""
    from prefect.states import Failed

    @functools.wraps(fn)
    def work(*args, **kwargs):
        outcome = fn(*args, **kwargs)
        return Failed(message=FAILED, data=_Kept(outcome)) if failed_work(outcome) else outcome
    return work


class _Outcome:
    """A Prefect future as the engine reads it: the work's outcome, Failed or not; an exception
    the work raised is raised again."""

    def __init__(self, future):
        self.future = future

    def result(self):
        outcome = self.future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome.outcome if isinstance(outcome, _Kept) else outcome

    def add_done_callback(self, fn: Callable) -> None:
        self.future.add_done_callback(lambda _: fn(self))


class PrefectRunner:
    """Each piece of work as a Prefect task (named by its kind, its run by its label) on the flow's
    task runner, Failed where the work failed its item. On threads only ``workers`` pages are
    handed over at a time, so the Prefect UI shows as running exactly the pages being worked on;
    Dask gets them all and spreads them."""

    def __init__(self, workers: int):
        from prefect.context import FlowRunContext
        from prefect.task_runners import ThreadPoolTaskRunner

        self.window = workers if isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner) else None
        self.tasks: dict[tuple[Callable, str], object] = {}

    def submit(self, kind: str, label: str, fn: Callable, *args) -> Future:
        from prefect import task
        from prefect.cache_policies import NO_CACHE

        if (fn, kind) not in self.tasks:
            self.tasks[fn, kind] = task(_failing_as_failed(fn), name=kind, cache_policy=NO_CACHE)
        escaped = label.replace("{", "{{").replace("}", "}}")  # Prefect formats run names with the parameters
        return _Outcome(self.tasks[fn, kind].with_options(task_run_name=escaped).submit(*args))

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
