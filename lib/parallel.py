"""A parallel map over chunks of work, shared by the data-set builders of both reports.

A *task* is ``(function, args)``; its function runs ``function(*args)`` on one chunk (of
structures, CIF files, ...) and returns a picklable result.  Tasks run

- in this process, one after the other, when ``n_workers <= 1`` and no cluster address is
  given (no cluster is started: the quick path of tests and small runs);
- otherwise on a Dask cluster: a ``LocalCluster`` of ``n_workers`` single-threaded worker
  processes (started by *spawn*, so they never inherit the threads of a TensorFlow already
  running here), or an existing cluster at ``address`` whose workers have this project
  installed.  The local workers get Dask's one BLAS/OpenMP thread each but not its
  ``MALLOC_TRIM_THRESHOLD_``: that setting turns glibc's adaptive mmap threshold off, so
  every large NumPy temporary is mapped and unmapped afresh (the powder indexing ran about
  1.6× slower per pattern in such a worker, the structure-factor builder about 1.35×:
  ``benchmarks/bench_structure_factors.py --n 4096``, 1,239–1,404 against 1,700–1,895
  structures/s on 2 workers, 2026-12-07).  Start a cluster of your own with
  ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` set to None likewise.

Results are handed back as they complete (:func:`run_tasks` calls ``on_result(index,
result)`` and then lets the cluster free the result), so a caller can save each one at once;
:func:`map_chunks` collects them in the chunks' order behind a tqdm progress bar.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from typing import Any, Callable, Iterator, Sequence

#: One unit of work: a function and its positional arguments.
Task = tuple[Callable[..., Any], tuple]


@contextlib.contextmanager
def dask_client(n_workers: int, address: str = "") -> Iterator[Any]:
    """A ``dask.distributed.Client`` on the cluster at ``address``, or on a new ``LocalCluster``
    of ``n_workers`` processes (one thread each) that is closed on exit."""
    import dask
    from dask.distributed import Client, LocalCluster

    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    # not Dask's MALLOC_TRIM_THRESHOLD_ (see the module); one exported here is inherited
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_tasks(tasks: Sequence[Task], n_workers: int, address: str,
              on_result: Callable[[int, Any], None]) -> float:
    """Run ``tasks``; call ``on_result(index, result)`` for each as soon as it completes.

    In-process (in order) when ``n_workers <= 1`` and ``address`` is empty, else on Dask (in
    completion order; each result is released on the cluster once ``on_result`` returns).  An
    exception raised by a task is raised here.  Returns the seconds spent starting (or
    connecting to) the cluster, 0 in-process.
    """
    if not tasks:
        return 0.0
    if n_workers <= 1 and not address:
        for index, (fn, args) in enumerate(tasks):
            on_result(index, fn(*args))
        return 0.0
    from dask.distributed import as_completed

    start = time.perf_counter()
    with dask_client(n_workers, address) as client:
        startup = time.perf_counter() - start
        futures = [client.submit(fn, *args, pure=False) for fn, args in tasks]
        index = {future.key: i for i, future in enumerate(futures)}
        finished = as_completed(futures, with_results=True)
        del futures   # hold no reference: each result is freed on the cluster once handed back
        for future, result in finished:
            on_result(index.pop(future.key), result)
            future.release()
    return startup


def map_chunks(func: Callable[..., Any], chunks: Sequence[Sequence[Any]], n_workers: int = 1,
               address: str = "", desc: str = "", unit: str = "item", progress: bool = True,
               **kwargs: Any) -> list[Any]:
    """``[func(chunk, **kwargs) for chunk in chunks]`` over :func:`run_tasks`, in the chunks'
    order, with a tqdm bar counting the items of the chunks as their results arrive."""
    from tqdm.auto import tqdm

    task = functools.partial(func, **kwargs) if kwargs else func
    results: list[Any] = [None] * len(chunks)

    def keep(index: int, result: Any) -> None:
        results[index] = result
        bar.update(len(chunks[index]))

    with tqdm(total=sum(len(c) for c in chunks), desc=desc, unit=unit, disable=not progress,
              mininterval=2.0) as bar:
        run_tasks([(task, (chunk,)) for chunk in chunks], n_workers, address, keep)
    return results
