"""Several model calls at once on the CPU, torch's threads shared out between them.

On the CPU much of a detector's time per frame runs on one core whatever torch's thread count
(RoI pooling, NMS, the heads' Python and small convolutions), so two batches analysed side by
side, each on half the threads, finish sooner than the same batches one after the other on
all of them (README, Speed: `tests/benchmarks/video_speed.py`).

    with ModelStreams(2) as streams:
        for batch, result in streams.ordered(detector.predict, batches, stop=token.is_set):
            ...                         # in the order of `batches`

`in_streams(work, items, streams, stop)` does the same, on the calling thread for one stream.

torch keeps one thread count for the whole process, which each thread copies the first time
it runs an operation; the streams' threads take their share while the calling thread waits,
and the process default is put back before any work starts.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")
CLAIM_TIMEOUT_S = 30.0
CPU_STREAMS = 2  # model calls side by side on the CPU by default (README, Speed)


def cpu_streams(most: int = CPU_STREAMS) -> int:
    """Model calls to run side by side on the CPU: `most`, but no more than torch's threads."""
    return max(1, min(most, torch.get_num_threads()))


class ModelStreams:
    """`count` threads for model calls, each running torch on `threads_each` CPU threads."""

    def __init__(self, count: int, name: str = "sightline-model"):
        self.count = max(1, int(count))
        total = torch.get_num_threads()
        self.threads_each = max(1, total // self.count)
        self._pool = ThreadPoolExecutor(self.count, thread_name_prefix=name)
        try:
            self._share_threads(total)
        except BaseException:
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise

    def _share_threads(self, total: int) -> None:
        """Each stream thread sets its own torch thread count; then this thread restores the
        process default (`torch.set_num_threads` sets both), so threads started later by
        anyone else get the default, not a stream's share."""
        arrived = threading.Barrier(self.count + 1)

        def claim() -> None:
            torch.get_num_threads()  # the thread copies the default now, not on its first operation
            torch.set_num_threads(self.threads_each)
            arrived.wait(CLAIM_TIMEOUT_S)

        # Each claim waits at the barrier, so the pool cannot reuse a thread: it starts `count`.
        claims = [self._pool.submit(claim) for _ in range(self.count)]
        try:
            arrived.wait(CLAIM_TIMEOUT_S)
        finally:
            torch.set_num_threads(total)
        for done in claims:
            done.result()

    def ordered(self, work: Callable[[T], R], items: Iterable[T],
                stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[T, R]]:
        """(item, work(item)) in the order of `items`, `count` of them computed at once and one
        more waiting, so no stream idles while the caller handles a result. Once `stop()` is
        true nothing new starts and nothing more is yielded; work already running finishes
        (it cannot be interrupted) before this returns or raises. If `items` raises, the work
        already started is yielded first, then the error."""
        in_flight: deque[tuple[T, Future]] = deque()
        source = iter(items)
        try:
            while True:
                try:
                    item = next(source)
                except StopIteration:
                    break
                except Exception:  # the items failed: what is already in the model still counts
                    while in_flight and not stop():
                        yield self._finished(in_flight)
                    raise
                if stop():
                    return
                in_flight.append((item, self._pool.submit(work, item)))
                if len(in_flight) > self.count:
                    yield self._finished(in_flight)
            while in_flight and not stop():
                yield self._finished(in_flight)
        finally:
            for _, future in in_flight:
                future.cancel()
            for _, future in in_flight:
                if not future.cancelled():
                    future.exception()  # waits; an error after a stop is not the caller's

    @staticmethod
    def _finished(in_flight: deque) -> tuple:
        item, future = in_flight.popleft()
        return item, future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "ModelStreams":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def in_streams(work: Callable[[T], R], items: Iterable[T], streams: int,
               stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[T, R]]:
    """`ModelStreams(streams).ordered(work, items, stop)`; with one stream, on the calling
    thread, no thread started (one call at a time, checking `stop` before each)."""
    if streams == 1:
        for item in items:
            if stop():
                return
            yield item, work(item)
        return
    with ModelStreams(streams) as running:
        yield from running.ordered(work, items, stop)
