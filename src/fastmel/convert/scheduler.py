"""Running tasks on an executor: keeping it busy, recording results, and
surviving dead workers.

When a worker dies (killed, out of memory), every task it shared a local
pool with comes back broken. For each, the clip that was in flight (read
from its in-flight marker) is retried once, alone in the pool, and the rest
of the task is requeued; a clip whose worker dies again is recorded as
failed. A broken local pool is rebuilt. Workers that die before converting
anything, three times in a row, stop the run with an error (they cannot start).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections import deque
from typing import Any

from ..errors import FastmelError, ParameterError
from .manifest import ManifestWriter
from .progress import ConvertSummary, Progress
from .sources import Item
from .task import Task, read_inflight, run_task, worker_init

__all__ = ["Pool", "Scheduler"]

MAX_STARTUP_DEATHS = 3


class Pool:
    """The executor tasks run on: a caller's, a Dask client's, or our own process pool.

    Our own pool (and a caller's ProcessPoolExecutor once it breaks) is
    replaced by a fresh one when a worker dies.
    """

    def __init__(self, executor: Any, workers: int | None) -> None:
        self._owned = executor is None
        if executor is None:
            self.slots = workers or os.cpu_count() or 1
            self.executor = self._new_pool()
        elif hasattr(executor, "get_executor") and hasattr(executor, "scheduler_info"):  # dask Client
            self.executor = executor.get_executor(pure=False)
            nthreads = sum(w.get("nthreads", 1) for w in executor.scheduler_info().get("workers", {}).values())
            self.slots = workers or max(nthreads, 1)
        elif isinstance(executor, cf.Executor):
            self.executor = executor
            self.slots = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1
        else:
            raise ParameterError(f"executor={executor!r} is not a concurrent.futures.Executor "
                                 "or a dask.distributed.Client")
        self.rebuildable = self._owned or isinstance(executor, cf.ProcessPoolExecutor)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=worker_init)

    def submit(self, task: Task) -> cf.Future:
        return self.executor.submit(run_task, task)

    def rebuild(self) -> None:
        """Replace a broken process pool by a fresh one of the same size."""
        if self._owned:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor, self._owned = self._new_pool(), True

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if self._owned:
            self.executor.shutdown(wait=exc_type is None, cancel_futures=True)


def _is_worker_death(exc: BaseException) -> bool:
    return isinstance(exc, cf.BrokenExecutor) or type(exc).__name__ == "KilledWorker"


class Scheduler:
    """Keeps the pool busy, records results, and handles dead workers.

    Retried clips (``attempt=2``) run alone, so a second death is theirs.
    """

    def __init__(self, pool: Pool, plan: Any, manifest: ManifestWriter, progress: Progress,
                 summary: ConvertSummary) -> None:
        self.pool, self.plan, self.manifest, self.progress, self.summary = pool, plan, manifest, progress, summary
        self.pending: deque[Task] = deque()
        self.isolated: deque[Task] = deque()
        self.inflight: dict[cf.Future, Task] = {}
        self.startup_deaths = 0  # consecutive deaths before a first clip

    def run(self, tasks: list[Task]) -> None:
        self.pending.extend(tasks)
        try:
            while self.pending or self.isolated or self.inflight:
                self._fill()
                done, _ = cf.wait(self.inflight, return_when=cf.FIRST_COMPLETED)
                broken = False
                for future in done:
                    broken |= self._collect(future, self.inflight.pop(future))
                if broken and self.pool.rebuildable:
                    self._drain_broken()
        except KeyboardInterrupt:
            for future in self.inflight:
                future.cancel()
            raise

    def _fill(self) -> None:
        limit = 2 * self.pool.slots
        while True:
            if self.isolated:
                if self.inflight:
                    return  # a retried clip waits until it can run alone
                task = self.isolated.popleft()
            elif self.pending and len(self.inflight) < limit:
                task = self.pending.popleft()
            else:
                return
            try:
                self.inflight[self.pool.submit(task)] = task
            except cf.BrokenExecutor:
                (self.isolated if task.attempt > 1 else self.pending).appendleft(task)
                self._drain_broken()
                if not self.pool.rebuildable:
                    raise
            if task.attempt > 1:
                return

    def _collect(self, future: cf.Future, task: Task) -> bool:
        """Record a finished task; True when its worker died."""
        try:
            records = future.result()
        except BaseException as exc:  # noqa: BLE001 -- a task's failure is recorded, never fatal
            if isinstance(exc, KeyboardInterrupt):
                raise
            if _is_worker_death(exc):
                self._worker_died(task, exc)
                return True
            records = [_failed_record(item, task, f"task failed: {type(exc).__name__}: {exc}")
                       for item in task.items]
        self.startup_deaths = 0
        self._record(records)
        return False

    def _record(self, records: list[dict[str, Any]]) -> None:
        self.manifest.write(records)
        self.progress.update(records)
        for r in records:
            if r["status"] == "ok":
                self.summary.converted += 1
                self.summary.audio_hours += (r.get("duration_s") or 0.0) / 3600
            else:
                self.summary.failed += 1
                if len(self.summary.failures) < 20:
                    self.summary.failures.append((r["id"], r["error"]))

    def _worker_died(self, task: Task, exc: BaseException) -> None:
        """Retry the in-flight clip alone (or fail it on its second death); requeue the rest."""
        current = read_inflight(task.dest, task.task_id)
        self.startup_deaths = self.startup_deaths + 1 if current is None else 0
        if self.startup_deaths >= MAX_STARTUP_DEATHS:
            raise FastmelError(f"worker processes died {self.startup_deaths} times in a row before converting "
                               f"a clip ({type(exc).__name__}: {exc}); they cannot start, see their output")
        suspects = [i for i in task.items if i.id == current] or list(task.items)
        others = [i for i in task.items if i not in suspects]
        if others:
            self.pending.appendleft(self.plan.task(others, attempt=task.attempt))
        for item in suspects:
            if task.attempt > 1:
                reason = f"worker died twice while converting it ({type(exc).__name__}: {exc})"
                self._record([_failed_record(item, task, reason)])
            else:
                self.summary.retried += 1
                self.isolated.append(self.plan.task([item], attempt=2))

    def _drain_broken(self) -> None:
        """Collect every task of a broken pool, then rebuild it."""
        while self.inflight:
            done, _ = cf.wait(self.inflight, return_when=cf.ALL_COMPLETED)
            for future in done:
                self._collect(future, self.inflight.pop(future))
        self.pool.rebuild()


def _failed_record(item: Item, task: Task, error: str) -> dict[str, Any]:
    return {"id": item.id, "source": item.source, "label": item.label, "status": "failed", "error": error,
            "duration_s": None, "sample_rate_hz": None, "channels": None, "attempt": task.attempt,
            "run": task.run, "worker": None, "seconds": None}

