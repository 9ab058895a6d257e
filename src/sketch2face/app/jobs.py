"""A bounded queue for the blocking work of a request (decoding, face detection, the generator).

The work runs in worker threads, off the event loop, so health checks and the page keep
answering while a photo is made. At most `workers` jobs run at once and `waiting` more wait for
a worker; a request beyond that is turned away at once (`QueueFull`, a 503 with Retry-After)
instead of piling up memory and latency.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
SMOOTHING = 0.2  # weight of the newest job in the running mean of job durations


class QueueFull(Exception):
    """No room for another job; `retry_after` (whole seconds) estimates when there will be."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class JobQueue:
    def __init__(self, waiting: int, workers: int = 1) -> None:
        if waiting < 0 or workers < 1:
            raise ValueError(f"need waiting >= 0 and workers >= 1, got {waiting} and {workers}")
        self.workers = workers
        self.capacity = workers + waiting
        self._limiter = anyio.CapacityLimiter(workers)
        self._admitted = 0  # running + waiting; only touched on the event loop, so no lock
        self._mean_seconds = 1.0

    @property
    def running(self) -> int:
        return min(self._admitted, self.workers)

    @property
    def waiting(self) -> int:
        return self._admitted - self.running

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the jobs ahead, shared by the workers, at their mean duration."""
        return max(1, math.ceil(self._mean_seconds * self._admitted / self.workers))

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker thread, or QueueFull at once when every place is taken."""
        if self._admitted >= self.capacity:
            raise QueueFull(self.retry_after())
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(self._timed, function, args, limiter=self._limiter)
        finally:
            self._admitted -= 1

    def _timed(self, function: Callable[..., T], args: tuple) -> T:
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            elapsed = time.perf_counter() - started
            self._mean_seconds += SMOOTHING * (elapsed - self._mean_seconds)
