r"""Benchmark: memory of a long ensemble on a dask.distributed cluster of worker processes.

A ``--members``-member ensemble (default 1000) of a small volume (``--size``³ crop of the
shipped demo tomogram, volume fractions only, denoising off) runs on a
``LocalCluster(processes=True)`` of ``--workers`` single-threaded worker processes. Every
``--every`` finished members the table gets a row: the resident memory (RSS) of this
process (the client, which here also hosts the scheduler) and of each worker, and the
number of tasks the scheduler still knows. The claim to check: no growth per member
(each sample is saved and released as soon as it arrives, so neither side holds the
finished ones).

Usage::

    python benchmarks/ensemble_memory.py --members 1000 --every 100 --workers 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _scheduler_tasks(dask_scheduler) -> int:
    return len(dask_scheduler.tasks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    import distributed

    from uqtwin.data import DEMO_VOLUME
    from uqtwin.engine.config import config_from_dict
    from uqtwin.engine.pipeline import run
    from uqtwin.io import read_volume, write_volume

    work = Path(tempfile.mkdtemp(prefix="uqtwin-ensemble-memory-"))
    vol = read_volume(DEMO_VOLUME)
    n = args.size
    crop = vol.isel(z=slice(0, n), y=slice(0, n), x=slice(0, n))
    write_volume(crop.copy(data=crop.values), work / "small.tif")
    cfg = config_from_dict({
        "input": {"path": str(work / "small.tif")},
        "denoise": {"enabled": False},
        "sampler": {"n_samples": args.members, "seed": 1, "kind": "correlated"},
        "quantities": {"names": ["volume_fraction"]},
        "output": {"path": str(work / "results.nc")},
    })
    rows: list[tuple] = []
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as watcher:
        start = time.perf_counter()

        def record(done: int, total: int) -> None:
            if done % args.every == 0:
                workers = watcher.run(_rss_mib)
                rows.append((done, time.perf_counter() - start, _rss_mib(),
                             *(workers[w] for w in sorted(workers)),
                             watcher.run_on_scheduler(_scheduler_tasks)))

        run(cfg, scheduler=cluster.scheduler_address, progress=record)
        total = time.perf_counter() - start

    header = ["members", "seconds", "client MiB",
              *(f"worker {i} MiB" for i in range(args.workers)), "scheduler tasks"]
    print(" | ".join(header))
    print(" | ".join("---:" for _ in header))
    for row in rows:
        done, seconds, *mib, tasks = row
        print(" | ".join([str(done), f"{seconds:.0f}", *(f"{m:.1f}" for m in mib),
                          str(tasks)]))
    print(f"\n{args.members} members of {n}³ in {total:.0f} s on {args.workers} worker "
          f"processes ({os.cpu_count()} cores); results and samples in {work}")


if __name__ == "__main__":
    main()
