"""The bounded job queue: work off the event loop, a fixed number of places, an honest Retry-After."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from sketch2face.app.jobs import JobQueue, QueueFull


def test_jobs_run_in_a_worker_thread_and_return_their_result():
    async def main():
        return await JobQueue(waiting=0).run(lambda a, b: (a + b, threading.get_ident()), 2, 3)

    total, worker = anyio.run(main)
    assert total == 5 and worker != threading.get_ident()


def test_beyond_its_places_the_queue_refuses_at_once_and_frees_them_as_jobs_end():
    release = threading.Event()
    seen = {}

    async def main():
        queue = JobQueue(waiting=1)
        results = []

        async def blocked(name):
            results.append(await queue.run(lambda: release.wait(10) and name))

        async with anyio.create_task_group() as group:
            group.start_soon(blocked, "first")
            group.start_soon(blocked, "second")
            await anyio.sleep(0.2)
            seen["counts"] = (queue.running, queue.waiting, queue.capacity)
            with pytest.raises(QueueFull) as full:
                await queue.run(lambda: "third")
            seen["retry_after"] = full.value.retry_after
            release.set()
        seen["results"] = sorted(results)
        seen["after"] = (queue.running, queue.waiting, await queue.run(lambda: "fourth"))

    anyio.run(main)
    assert seen["counts"] == (1, 1, 2)
    assert seen["retry_after"] >= 1
    assert seen["results"] == ["first", "second"]
    assert seen["after"] == (0, 0, "fourth")


def test_a_failing_job_raises_and_gives_its_place_back():
    def broken():
        raise ValueError("bad sketch")

    async def main():
        queue = JobQueue(waiting=0)
        with pytest.raises(ValueError, match="bad sketch"):
            await queue.run(broken)
        return await queue.run(lambda: "next")

    assert anyio.run(main) == "next"


def test_retry_after_grows_with_the_work_ahead():
    release = threading.Event()

    async def main():
        queue = JobQueue(waiting=3)
        await queue.run(time.sleep, 0.3)  # the mean duration starts learning
        estimates = []
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(queue.run, lambda: release.wait(10))
                await anyio.sleep(0.05)
                estimates.append(queue.retry_after())
            release.set()
        return estimates

    estimates = anyio.run(main)
    assert estimates == sorted(estimates) and estimates[-1] > estimates[0] >= 1


@pytest.mark.parametrize(("waiting", "workers"), [(-1, 1), (0, 0)])
def test_impossible_sizes_are_refused(waiting, workers):
    with pytest.raises(ValueError, match="need waiting >= 0 and workers >= 1"):
        JobQueue(waiting, workers)
