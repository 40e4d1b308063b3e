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
import time
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
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UqtwinInputError(
            f"scheduler {address!r} needs dask.distributed: pip install 'uqtwin[dist]'"
        ) from None
    with Client(address) as client:
        # Send the fitted model and the context to every worker once, not once per sample
        # (in lists: scatter would take a dict for a name -> data mapping).
        [shared, shared_context] = client.scatter([sampler, context], broadcast=True)
        futures = [
            client.submit(evaluate_sample, index, seed, shared, shared_context, inputs,
                          key=f"uqtwin-sample-{index}-{seed}", pure=False)
            for index, seed in jobs
        ]
        for fut in as_completed(futures):
            on_done(*fut.result())


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
