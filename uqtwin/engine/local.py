"""Samples side by side on this machine: dask's threaded scheduler, one compiled thread each.

The quantities' kernels are numba functions that release the GIL (``nogil=True``), so
several samples computed in dask's worker threads really run at once. Each of those
kernels is itself parallel; left alone, ``w`` samples at once would each start numba's
full thread team (``w × cores`` threads on ``cores`` cores). Instead every task runs with
``cores // w`` compiled threads (at least one): the machine is used by the samples, not by
the threads inside one sample. That is also the faster split: a solve's kernels scale
sub-linearly with threads (memory traffic, serial steps between them), while independent
samples scale almost perfectly (benchmarks/README.md, ``benchmarks/transport.py
--ensemble-only``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numba
import numpy as np

__all__ = ["compute_local", "local_workers", "threads_per_task", "with_compiled_threads"]


@numba.njit(parallel=True, cache=True, nogil=True)
def _touch(v):  # pragma: no cover - compiled
    for i in numba.prange(v.size):
        v[i] += 1.0


def local_workers(workers: int | None) -> int | None:
    """``workers``, or 1 where numba's kernels cannot run from several threads at once.

    numba's OpenMP and TBB threading layers can; its fallback layer ("workqueue", where
    neither is installed) aborts on concurrent parallel kernels, so samples then run one
    after another, each with all threads.
    """
    if workers == 1:
        return 1
    _touch(np.zeros(4))  # the threading layer is chosen at the first parallel launch
    return 1 if numba.threading_layer() == "workqueue" else workers


def threads_per_task(workers: int | None) -> int:
    """Compiled (numba) threads for each of ``workers`` tasks running at once.

    Parameters
    ----------
    workers : int or None
        Tasks at once; None is dask's default for the threaded scheduler (one per CPU).

    Returns
    -------
    int
        ``max(1, numba threads // workers)``.
    """
    total = numba.config.NUMBA_NUM_THREADS
    n = workers if workers else (os.cpu_count() or 1)
    return max(1, total // max(1, n))


def with_compiled_threads(threads: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` with numba's thread count set to ``threads``.

    numba's setting is per calling thread, so tasks in other worker threads keep theirs;
    the previous value is restored afterwards (worker threads are reused).
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        return fn(*args, **kwargs)
    finally:
        numba.set_num_threads(previous)


def compute_local(
    tasks: Sequence[Any],
    workers: int | None,
    on_done: Callable[[str, Any], None] | None = None,
) -> tuple[Any, ...]:
    """Compute dask ``tasks`` on the threaded scheduler with ``workers`` threads.

    Parameters
    ----------
    tasks : sequence of dask.delayed
        Build them with :func:`with_compiled_threads` and :func:`threads_per_task` so
        that the tasks at once share the cores instead of oversubscribing them.
    workers : int or None
        Worker threads (None: one per CPU).
    on_done : callable, optional
        ``on_done(key, result)``, called in the scheduler's thread as each task
        finishes (before the next is collected), e.g. to persist a finished sample.

    Returns
    -------
    tuple
        The tasks' results, in order.
    """
    import dask
    from dask.callbacks import Callback

    if on_done is None:
        return dask.compute(*tasks, scheduler="threads", num_workers=workers)

    class _Finished(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            on_done(key, result)

    with _Finished():
        return dask.compute(*tasks, scheduler="threads", num_workers=workers)
