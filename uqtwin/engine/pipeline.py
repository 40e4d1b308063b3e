"""The ensemble driver: one run from a config to the results file.

``run`` prepares the fitted model once (:mod:`uqtwin.engine.stages`), schedules
:func:`~uqtwin.engine.evaluate.evaluate_sample` over the ensemble through dask (threads
here, or a dask.distributed cluster), persists each finished sample at once
(:class:`~uqtwin.engine.store.SampleStore`, so ``--resume`` loses nothing) and collects the
results Dataset (:mod:`uqtwin.engine.collect`). The same seed gives identical numbers
whatever the scheduler and the number of workers, because each sample's random stream
depends only on (seed, index).

The stages' names are re-exported here (``from uqtwin.engine.pipeline import
draw_sample`` keeps working).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import time
import uuid
from collections.abc import Callable

import xarray as xr

from uqtwin import __version__
from uqtwin.engine.collect import collect
from uqtwin.engine.config import RunConfig, sampler_options, solid_prior_of
from uqtwin.engine.evaluate import (
    RunInputs,
    draw_sample,
    evaluate_sample,
    materials_of,
    pipeline_attrs,
    reference_context,
    sample_seed,
)
from uqtwin.engine.local import (
    compute_local,
    local_workers,
    threads_per_task,
    with_compiled_threads,
)
from uqtwin.engine.stages import (
    MIN_DRIFT,
    Log,
    Prepared,
    calibration_warnings,
    fit_ensemble,
    measure_imaging,
    prepare,
    quiet,
    read_input,
)
from uqtwin.engine.store import SampleStore, fingerprint
from uqtwin.errors import UqtwinInputError
from uqtwin.results.dataset import write_results
from uqtwin.results.schema import SCHEMA_VERSION, validate
from uqtwin.timing import StageClock

__all__ = [
    "MIN_DRIFT",
    "Prepared",
    "RunInputs",
    "calibration_warnings",
    "collect",
    "draw_sample",
    "evaluate_sample",
    "fit_ensemble",
    "materials_of",
    "measure_imaging",
    "pipeline_attrs",
    "prepare",
    "read_input",
    "reference_context",
    "run",
    "sample_seed",
    "sampler_options",
    "solid_prior_of",
]

Progress = Callable[[int, int], None]


def _ensemble_fingerprint(cfg: RunConfig, input_sha256: str) -> str:
    d = cfg.to_dict()
    # What does not change the samples: where results go, where they run, how many.
    for key in ("output", "engine"):
        d.pop(key)
    d["sampler"].pop("n_samples")
    d["input"].pop("path")
    return fingerprint({"config": d, "input_sha256": input_sha256, "schema": SCHEMA_VERSION})


def _compute_local(tasks, workers: int | None,
                   on_done: Callable[[int, xr.Dataset, StageClock], None]):
    # a finished sample is saved before the next one is collected, so an interruption
    # loses none
    def finished(key, result):
        if isinstance(key, str) and key.startswith("uqtwin-sample-"):
            on_done(*result)

    compute_local(tasks, workers, finished)


def _compute_distributed(address: str, sampler, context, jobs, inputs, on_done) -> None:
    # Samples go to the cluster a few at a time and each is released as soon as it is
    # saved: neither the client nor the workers hold more than the samples in flight, so
    # memory stays flat however long the ensemble. A worker that dies takes only its
    # running samples with it: the scheduler runs them again elsewhere, and if every
    # worker holding the fitted model died, the model is sent again.
    import dask

    try:
        from distributed import CancelledError, Client, as_completed
    except ImportError:
        raise UqtwinInputError(
            f"scheduler {address!r} needs dask.distributed: pip install 'uqtwin[dist]'"
        ) from None
    pending = iter(jobs)
    with Client(address) as client:
        shared = _Shared(client, (sampler, context))
        running = as_completed()
        job_of: dict[str, tuple[int, int, int]] = {}  # key -> index, seed, model's sending

        def submit(index: int, seed: int) -> None:
            # A key of this submission only: a resumed or resubmitted sample never meets
            # a task of the same name that the scheduler is still releasing.
            future = client.submit(evaluate_sample, index, seed, *shared.futures, inputs,
                                   key=f"uqtwin-sample-{index}-{uuid.uuid4().hex}",
                                   pure=False)
            job_of[future.key] = (index, seed, shared.sent)
            running.add(future)

        def top_up() -> None:
            for index, seed in itertools.islice(pending, _in_flight(client) - running.count()):
                submit(index, seed)

        top_up()
        for future in running:
            index, seed, sent = job_of.pop(future.key)
            try:
                result = future.result()  # raises the sample's own error, if any
            except CancelledError:  # its inputs, the scattered model, were lost
                if sent == shared.sent:
                    shared.send()
                submit(index, seed)
                continue
            future.release()  # the workers may forget it: it is on the client now
            del future
            # xarray writes under a distributed.Lock while a Client is around: one
            # semaphore per sample file left on the scheduler (memory growing with every
            # member) and a round trip each. The file is this process's alone: a local
            # lock is right.
            with dask.config.set(scheduler="synchronous"):
                on_done(*result)
            del result
            top_up()


class _Shared:
    """The fitted model and the context, scattered to every worker once per sending."""

    def __init__(self, client, data: tuple) -> None:
        self.client, self.data, self.sent, self.futures = client, data, 0, []
        self.send()

    def send(self) -> None:
        # Scatter fails when no worker is up: batch-queued workers may not have started
        # yet, or may all have died and be restarting; it waits for them (for ever: an
        # interrupted run resumes).
        self.client.wait_for_workers(1)
        # In a list: scatter would take a dict for a name -> data mapping. hash=False: a
        # fresh key, never the one being declared lost.
        self.futures = self.client.scatter(list(self.data), broadcast=True, hash=False)
        self.sent += 1


def _in_flight(client) -> int:
    # Two per worker thread keep every thread busy while finished samples travel back;
    # asked again after each sample because workers come and go (adaptive clusters).
    return max(2, 2 * sum(client.nthreads().values()))


def run(
    cfg: RunConfig,
    *,
    resume: bool = False,
    log: Log = quiet,
    progress: Progress | None = None,
    scheduler: str | None = None,
    prepared: Prepared | None = None,
) -> xr.Dataset:
    """Run the whole pipeline and write the results file.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration.
    resume : bool
        Continue an interrupted run from its sample store (``<output>.samples``).
    log : callable, optional
        Receives one line per stage.
    progress : callable, optional
        ``progress(done, total)`` after each finished sample.
    scheduler : str, optional
        ``"local"`` (dask's threaded scheduler) or the address of a dask.distributed
        scheduler; overrides ``[engine] scheduler``.
    prepared : Prepared, optional
        Posteriors already computed (skips stages 1–3).

    Returns
    -------
    xarray.Dataset
        The results, also written to ``cfg.output.path`` with the summary beside it.
    """
    clock = StageClock()
    store = SampleStore.for_output(cfg.output.path)
    if store.exists() and not resume:
        raise UqtwinInputError(
            f"{store.path} holds samples of an earlier run: pass --resume to continue it, "
            "or delete the folder to start again"
        )
    from uqtwin.io import sha256_of

    input_sha = sha256_of(cfg.input.path) if prepared is None else prepared.input_sha256
    fp = _ensemble_fingerprint(cfg, input_sha)
    if store.exists():
        manifest = store.check_compatible(fp)
        log(f"resuming: {len(store.finished())} samples already in {store.path}")
    else:
        manifest = {
            "fingerprint": fp,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "uqtwin_version": __version__,
            "input_sha256": input_sha,
        }
        store.create(manifest)

    if prepared is None:
        prepared = store.load_pickle("prepared")
        if prepared is not None:
            log("reusing the fitted model of the interrupted run")
        else:
            prepared = prepare(cfg, log, clock)
            store.save_pickle("prepared", prepared)

    n = cfg.sampler.n_samples
    done = set(store.finished())
    todo = [i for i in range(n) if i not in done]
    finished = len([i for i in done if i < n])
    log(f"sampling {len(todo)} of {n} microstructures ({cfg.sampler.kind} sampler)")
    if progress:
        progress(finished, n)

    def on_done(index: int, ds: xr.Dataset, sample_clock: StageClock) -> None:
        nonlocal finished
        store.save_sample(index, ds)
        clock.merge(sample_clock)
        finished += 1
        if progress:
            progress(finished, n)

    inputs = RunInputs.of(prepared, cfg)
    jobs = [(i, sample_seed(cfg.sampler.seed, i)) for i in todo]
    address = scheduler or cfg.engine.scheduler
    with clock.stage("reference solves"):
        context = reference_context(prepared, cfg) if jobs else {}
    started = time.perf_counter()
    if jobs and address == "local":
        import dask

        post = dask.delayed(prepared.sampler, name="uqtwin-sampler", traverse=False)
        ctx = dask.delayed(context, name="uqtwin-context", traverse=False)
        workers = local_workers(cfg.engine.workers)
        if workers != cfg.engine.workers:
            log("numba's threading layer cannot run kernels from several threads at once "
                "(install tbb or an OpenMP runtime): samples run one after another")
        threads = threads_per_task(workers)
        tasks = [
            dask.delayed(with_compiled_threads, pure=False)(
                threads, evaluate_sample, i, seed, post, ctx, inputs,
                dask_key_name=f"uqtwin-sample-{i}",
            )
            for i, seed in jobs
        ]
        _compute_local(tasks, workers, on_done)
    elif jobs:
        _compute_distributed(address, prepared.sampler, context, jobs, inputs, on_done)
    if jobs:
        clock.add("sampling (wall)", time.perf_counter() - started)

    log("collecting results")
    with clock.stage("collect"):
        samples = [store.load_sample(i) for i in range(n)]
        ds = collect(samples, list(range(n)), prepared, cfg, manifest)
        validate(ds)
        write_results(ds, cfg.output.path)
    log("time per stage (per-sample stages summed over the samples computed in this run):")
    for line in clock.table():
        log(f"  {line}")
    return ds
