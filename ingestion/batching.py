"""Work that arrives together, done together: one model pass and one index query for many.

Under load, fifty questions searched one by one queue for fifty embedding passes and fifty
index queries; taken as one batch they cost a few. A lone question goes through at once,
without waiting for company.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Calls ``run`` on whatever has queued up (at most ``max_batch``), on one worker thread."""

    def __init__(self, run: Callable[[list[T]], Sequence[R]], max_batch: int = 64) -> None:
        self._run_batch = run
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, item: T) -> R:
        """The result for ``item``; blocks the calling thread until its batch is done."""
        future: Future[R] = Future()
        self._ensure_worker()
        self._queue.put((item, future))
        return future.result()

    def close(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=5)
            self._worker = None

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._start_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._loop, name="batcher", daemon=True)
                self._worker.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                results = self._run_batch([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
