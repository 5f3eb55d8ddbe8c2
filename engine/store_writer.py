"""The review store's one writer: a thread that owns the only connection that writes.

Front ends never wait for SQLite: `submit(fn)` queues `fn(connection)` and returns a
`PendingWrite` at once. The writer runs what is queued in one transaction (each write in its
own savepoint, so one failing write does not undo the others), commits, then resolves every
`PendingWrite`: a write is durable once its `PendingWrite` is done without an error. A write
waits in the queue only while the one before it commits (milliseconds), so a crash or kill -9
loses no decision older than that.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from typing import Any, Callable, Optional

log = logging.getLogger(__name__)
MAX_BATCH = 256


class PendingWrite:
    """One queued write; `wait()` returns its value or raises its error once committed."""

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]):
        self.fn = fn
        self._done = threading.Event()
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._callbacks: list[Callable[["PendingWrite"], None]] = []
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

    def wait(self, timeout: Optional[float] = None) -> Any:
        if not self._done.wait(timeout):
            raise TimeoutError("the review store did not confirm a write in time")
        if self._error is not None:
            raise self._error
        return self._value

    def add_done_callback(self, callback: Callable[["PendingWrite"], None]) -> None:
        """`callback(self)` once durable or failed, on the writer thread (or now, if done)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def _finish(self, value: Any = None, error: Optional[BaseException] = None) -> None:
        self._value, self._error = value, error
        with self._lock:
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the writer
                log.exception("a review-store write listener failed")


class StoreWriter:
    """The writer thread. `connect()` makes its connection (on the thread); `translate(exc)`
    turns an sqlite3 error into the store's own error type."""

    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 translate: Callable[[BaseException], BaseException]):
        self._connect, self._translate = connect, translate
        self._queue: "queue.Queue[Optional[PendingWrite]]" = queue.Queue()
        self._opened = threading.Event()
        self._open_error: Optional[BaseException] = None
        self._outstanding = 0  # writes queued and not yet committed (or failed)
        self._count_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="sightline-store-writer", daemon=True)
        self.thread.start()
        self._opened.wait()
        if self._open_error is not None:
            raise self._open_error

    def submit(self, fn: Callable[[sqlite3.Connection], Any]) -> PendingWrite:
        pending = PendingWrite(fn)
        if not self.thread.is_alive():
            pending._finish(error=self._translate(RuntimeError("the review store is closed")))
            return pending
        with self._count_lock:
            self._outstanding += 1
        pending.add_done_callback(self._count_done)
        self._queue.put(pending)
        return pending

    def _count_done(self, _pending: PendingWrite) -> None:
        with self._count_lock:
            self._outstanding -= 1

    @property
    def idle(self) -> bool:
        """Nothing is waiting to be committed."""
        return self._outstanding == 0

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        marker = self.submit(lambda conn: None)
        try:
            marker.wait(timeout)
        except TimeoutError:
            return False
        except Exception:  # noqa: BLE001 - closed: nothing is left to wait for
            return True
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Commit what is queued, then end the thread; True when it ended in time."""
        if self.thread.is_alive():
            self._queue.put(None)
            self.thread.join(timeout)
        return not self.thread.is_alive()

    # the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # noqa: BLE001 - told to the opener
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._commit(conn, [p for p in batch if p is not None])
                if None in batch:
                    return
        finally:
            conn.close()

    def _next_batch(self) -> Optional[list]:
        first = self._queue.get()
        if first is None:
            return [None]
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
            if batch[-1] is None:
                break
        return batch

    def _commit(self, conn: sqlite3.Connection, batch: list[PendingWrite]) -> None:
        outcomes: list[tuple[Any, Optional[BaseException]]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                outcomes.append(self._run_one(conn, pending))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            error = self._translate(exc)
            log.error("review store: a transaction of %d writes failed: %s", len(batch), error)
            outcomes = [(None, error)] * len(batch)
        for pending, (value, error) in zip(batch, outcomes):
            pending._finish(value, error)

    def _run_one(self, conn: sqlite3.Connection, pending: PendingWrite) -> tuple[Any, Optional[BaseException]]:
        conn.execute("SAVEPOINT one_write")
        try:
            value = pending.fn(conn)
        except Exception as exc:  # noqa: BLE001 - this write fails, the others go on
            conn.execute("ROLLBACK TO one_write")
            conn.execute("RELEASE one_write")
            return None, self._translate(exc)
        conn.execute("RELEASE one_write")
        return value, None
