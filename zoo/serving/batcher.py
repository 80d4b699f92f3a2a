"""Dynamic batching: concurrent requests for one model run as one backend call.

Requests wait in a queue; one collector task per model takes them in arrival order up to
``max_batch`` images, runs them as one batch on the model's own inference thread and hands
each request its rows back.  The event loop never runs a model, and a model never runs two
batches at once (backends need not be thread-safe).

When to run: as soon as the model is free, with every request queued by then, except
while the server is still reading requests for this model (the app marks each with
``arriving()``): then the batch waits for those, at most ``max_delay``.  It never waits for
requests nobody has sent: a lone client, or a few clients each waiting for its answer,
would only lose that time (at concurrency 2, waiting the full delay after every batch
halved the throughput of concurrency 1).  Under load the batch fills up while the
previous one runs.

A batch that fails is run again request by request, so a request that breaks the backend
fails alone and the others still get their answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


class BackendFailure(Exception):
    """The backend raised, or answered nonsense, for one request."""


@dataclass
class _Pending:
    batch: np.ndarray
    arrived: float
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Gathers requests for ``predict`` (float32 [N, C, H, W] -> logits [N, classes])."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], thread: ThreadPoolExecutor,
                 classes: int, max_batch: int, max_delay_s: float) -> None:
        self.predict, self.thread, self.classes = predict, thread, classes
        self.max_batch, self.max_delay_s = max_batch, max_delay_s
        self.queue: deque[_Pending] = deque()
        self.wakeup = asyncio.Event()
        self.reading = 0  # requests for this model the server is reading and parsing
        self.batches = self.images = 0  # served so far: what the batching achieved
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    async def infer(self, batch: np.ndarray) -> np.ndarray:
        """The logits of ``batch``, computed in a batch with whatever else is waiting."""
        future = asyncio.get_running_loop().create_future()
        self.queue.append(_Pending(batch, time.perf_counter(), future))
        self.wakeup.set()
        return await future

    async def _collect(self) -> None:
        while True:
            if not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            await self._fill()
            await self._run(self._take())

    @contextlib.contextmanager
    def arriving(self):
        """Marks a request for this model that the server is reading (its body, its JSON or
        image) and will queue next: a batch about to run waits for it."""
        self.reading += 1
        try:
            yield
        finally:
            self.reading -= 1
            self.wakeup.set()

    async def _fill(self) -> None:
        """Wait for the requests being read, until the batch is full or ``max_delay`` has
        passed since the model became free."""
        deadline = time.perf_counter() + self.max_delay_s
        # A model that holds the GIL (Paddle Inference does) stops the event loop while it
        # runs; the sockets that became readable meanwhile are read in the next loop turn
        # and their handlers start (and mark themselves arriving) in the turn after it.
        for _ in range(3):
            await asyncio.sleep(0)
        while self.reading and self._queued_images() < self.max_batch:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), left)
            except asyncio.TimeoutError:
                return

    def _queued_images(self) -> int:
        return sum(len(p.batch) for p in self.queue)

    def _take(self) -> list[_Pending]:
        """Requests in arrival order up to ``max_batch`` images (always at least one)."""
        taken = [self.queue.popleft()]
        images = len(taken[0].batch)
        while self.queue and images + len(self.queue[0].batch) <= self.max_batch:
            images += len(self.queue[0].batch)
            taken.append(self.queue.popleft())
        return taken

    async def _run(self, taken: list[_Pending]) -> None:
        taken = [p for p in taken if not p.future.done()]  # a client gone: nothing to compute
        if not taken:
            return
        loop = asyncio.get_running_loop()
        batch = taken[0].batch if len(taken) == 1 else np.concatenate([p.batch for p in taken])
        try:
            logits = await loop.run_in_executor(self.thread, self._checked, batch)
        except BackendFailure as exc:
            if len(taken) == 1:
                _settle(taken[0].future, exception=exc)
                return
            for pending in taken:  # find the culprit: each request on its own
                await self._run([pending])
            return
        self.batches, self.images = self.batches + 1, self.images + len(batch)
        start = 0
        for pending in taken:
            stop = start + len(pending.batch)
            _settle(pending.future, result=logits[start:stop])
            start = stop

    def _checked(self, batch: np.ndarray) -> np.ndarray:
        try:
            logits = np.asarray(self.predict(batch), dtype=np.float32)
        except Exception as exc:  # a runtime's or a plugin's error: this request's failure
            raise BackendFailure(f"the backend failed: {type(exc).__name__}: "
                                 f"{' '.join(str(exc).split()) or '(no message)'}") from None
        if logits.shape != (len(batch), self.classes):
            raise BackendFailure(f"the backend returned logits of shape {list(logits.shape)}, "
                                 f"expected {[len(batch), self.classes]}")
        if not np.all(np.isfinite(logits)):
            raise BackendFailure("the backend returned non-finite logits")
        return logits


def _settle(future: asyncio.Future, result=None, exception: Exception | None = None) -> None:
    if future.done():  # cancelled: the client disconnected
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
