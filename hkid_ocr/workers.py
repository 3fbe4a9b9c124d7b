"""Independent jobs of one stage spread over the cores: the calling thread and a small pool.

Used where the work of each job runs outside the GIL (OpenCV's template matching,
onnxruntime's sessions), so threads really run at once.

Example:
    >>> Workers(2).map(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["SERIAL", "Workers"]

_T = TypeVar("_T")
_R = TypeVar("_R")


class Workers:
    """Runs jobs on ``n`` threads: the calling one and n - 1 of a pool.

    Results come back in the jobs' order and are the same numbers as one thread gives.
    Safe to share between threads (a job must not itself wait on these workers).
    """

    def __init__(self, n: int, name: str = "hkid-ocr-worker") -> None:
        self.n = max(1, int(n))
        self._pool = ThreadPoolExecutor(self.n - 1, thread_name_prefix=name) if self.n > 1 else None

    def map(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        """``[fn(x) for x in items]``, the items dealt round-robin to the threads; a
        job's error is raised here."""
        if self._pool is None or len(items) < 2:
            return [fn(x) for x in items]
        n = min(self.n, len(items))

        # Dealt round-robin, not in blocks: neighbouring jobs tend to cost alike (one
        # template size and the next), so each thread gets a like share.
        def deal(k: int) -> list[_R]:
            return [fn(x) for x in items[k::n]]

        futures = [self._pool.submit(deal, k) for k in range(1, n)]
        shares = [deal(0)] + [f.result() for f in futures]
        out: list[_R] = [None] * len(items)  # type: ignore[list-item]
        for k, results in enumerate(shares):
            out[k::n] = results
        return out

    def aside(self, fn: Callable[[], _R]) -> Future[_R]:
        """Start ``fn()`` on the pool while the caller goes on; ``.result()`` gives its
        value or raises its error. With one thread it runs here, now (nothing to overlap).

        Example:
            >>> Workers(1).aside(lambda: 6 * 7).result()
            42
        """
        if self._pool is not None:
            return self._pool.submit(fn)
        done: Future[_R] = Future()
        try:
            done.set_result(fn())
        except BaseException as exc:  # handed to the caller by .result(), not swallowed
            done.set_exception(exc)
        return done


#: Jobs on the calling thread only.
SERIAL = Workers(1)
