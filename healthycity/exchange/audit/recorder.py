"""Group commit for decisions and their audit records.

Every response the exchange gives is decided and audited in one transaction. Done one
request at a time, that transaction (begin, lock the chain head, three statements,
commit) and the hop to a worker thread for it cost more than the rest of a request, and
on SQLite every writer queues for the one write lock. So requests hand their *job* — a
function that checks the decision against the database and returns the reply and its
audit entries — to a :class:`Recorder`, which runs whatever jobs are waiting together
in one transaction on one thread and appends all their entries with one chain update.
Each request still gets its reply only after the transaction holding its decision and
its audit record has committed; a busy exchange just commits many at once.

If a job raises, the batch is rolled back and each job is run again in a transaction of
its own, so one failing request cannot lose or fail another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.exchange.audit import chain as audit

log = logging.getLogger("healthycity.exchange.recorder")

T = TypeVar("T")
Entries = list[tuple[audit.AuditEntry, datetime]]
#: A job runs inside the batch's transaction and returns its value and audit entries.
Job = Callable[[Session], tuple[T, Entries]]


class Recorder:
    """Runs decide-and-audit jobs in batches, one transaction per batch."""

    def __init__(self, engine: Engine, *, max_batch: int = 64) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.batches = 0
        self.jobs = 0
        self._queue: asyncio.Queue[tuple[Job[Any], asyncio.Future[Any]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next batch; return its value once the batch has committed."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._start(loop)
        assert self._queue is not None
        future: asyncio.Future[T] = loop.create_future()
        await self._queue.put((job, future))
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue = asyncio.Queue()
        self._worker = loop.create_task(self._drain(self._queue), name="exchange-recorder")

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _drain(self, queue: asyncio.Queue[tuple[Job[Any], asyncio.Future[Any]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            jobs = [job for job, _ in batch]
            try:
                outcomes = await to_thread.run_sync(self.run_batch, jobs)
            except BaseException as error:  # cancelled mid-batch: fail the waiters plainly
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            RuntimeError("the exchange is stopping")
                            if isinstance(error, asyncio.CancelledError)
                            else error
                        )
                raise
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():  # the request was cancelled; its record stands
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def run_batch(self, jobs: list[Job[Any]]) -> list[tuple[bool, Any]]:
        """Run jobs in one transaction (on the calling thread); per job, (ok, value or
        exception). Public so that synchronous callers can record without a loop."""
        try:
            with transaction(self.engine) as session:
                values: list[Any] = []
                entries: Entries = []
                for job in jobs:
                    value, recorded = job(session)
                    values.append(value)
                    entries.extend(recorded)
                audit.append_many(session, entries)
        except Exception as error:
            if len(jobs) == 1:
                return [(False, error)]
            log.warning("a batch of %d failed (%s); running its jobs one by one", len(jobs), error)
            return [self.run_batch([job])[0] for job in jobs]
        self.batches += 1
        self.jobs += len(jobs)
        return [(True, value) for value in values]
