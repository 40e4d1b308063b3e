"""The stages of a run, each usable on its own, and the ensemble driver.

``prepare`` turns the input file into a fitted ensemble model (read → denoise → mixture
→ the sampler of :mod:`uqtwin.sample.model`); ``draw_sample`` turns that model and a seed
into one cleaned microstructure; ``evaluate_sample`` computes the quantities on it.
``run`` drives them over the ensemble through dask, persisting each finished sample at
once, and collects the results Dataset. The same seed gives identical numbers whatever
the scheduler and the number of workers, because each sample's random stream depends
only on (seed, index).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uqtwin import __version__
from uqtwin.engine.config import RunConfig, SegmentConfig
from uqtwin.engine.local import (
    compute_local,
    local_workers,
    threads_per_task,
    with_compiled_threads,
)
from uqtwin.engine.store import SampleStore, fingerprint
from uqtwin.errors import UqtwinInputError
from uqtwin.microstructure import Microstructure
from uqtwin.quantities.registry import compute_quantities
from uqtwin.results.dataset import stack_samples, write_results
from uqtwin.results.schema import PIPELINE_VARIABLES, SCHEMA_VERSION, validate
from uqtwin.sample.model import (
    EnsembleSampler,
    SamplerSettings,
    build_sampler,
    member_nuisances,
)
from uqtwin.sample.priors import BetaMixture, solid_share_prior
from uqtwin.volume import spacing_of, unit_of

Log = Callable[[str], None]
Progress = Callable[[int, int], None]


def _quiet(_: str) -> None:
    pass


def sample_seed(seed: int, index: int) -> int:
    """Seed of sample ``index`` of an ensemble with master ``seed`` (63-bit, independent
    streams per index, stable whatever the ensemble size or the order of computation)."""
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


@dataclass(frozen=True, eq=False)
class Prepared:
    """What the per-volume stages produce and every sample starts from."""

    sampler: EnsembleSampler  # fitted once; ``sample(seed)`` draws a member
    spacing: tuple[float, float, float]
    unit: str
    phases: tuple[str, ...]
    mixture: Mapping[str, Any]  # plain Gaussian mixture: means, sds, weights
    input_sha256: str
    imaging: Mapping[str, Any] | None = None  # ImagingConditions.to_dict() of the raw scan
    psf_sigma: tuple[float, float, float] = (0.8, 0.8, 0.8)  # as the sampler used it
    covariates: Mapping[str, float] | None = None  # of the discrepancy terms

    @property
    def posteriors(self) -> np.ndarray:
        """Per-voxel phase probabilities (phase, z, y, x) of the ensemble, for the maps."""
        return self.sampler.point_posteriors()


def read_input(cfg: RunConfig) -> xr.DataArray:
    """Stage 1: the grey volume with its spacing."""
    from uqtwin.io import read_volume

    inp = cfg.input
    return read_volume(
        inp.path, inp.format, spacing=inp.spacing, unit=inp.unit, dataset=inp.dataset,
        shape=inp.shape, dtype=inp.dtype, byte_order=inp.byte_order, offset=inp.offset,
    )


def solid_prior_of(cfg: RunConfig) -> BetaMixture:
    """The binder's solid-share prior: ``solid_prior`` if given, else ``binder``'s."""
    s = cfg.sampler
    if s.solid_prior is not None:
        return BetaMixture.of(s.solid_prior)
    return solid_share_prior(s.binder or "unknown")


def sampler_settings(
    cfg: RunConfig, psf_sigma: Sequence[float] = (0.8, 0.8, 0.8)
) -> SamplerSettings:
    """The ``[sampler]`` and ``[segment]`` settings that fit the ensemble model.

    ``psf_sigma`` (voxels) is used where ``[sampler] psf_sigma`` is not set (the engine
    passes the width measured on the scan).
    """
    s = cfg.sampler
    return SamplerSettings(
        kind=s.kind, correlation_length=s.correlation_length, share_prior=s.share_prior,
        solid_prior=solid_prior_of(cfg), texture_length=s.texture_length,
        psf_sigma=tuple(s.psf_sigma if s.psf_sigma is not None else psf_sigma),
        correlation_scale=s.correlation_scale, n_draws=s.n_draws,
        effective_voxels=s.effective_voxels, max_fit_voxels=cfg.segment.max_fit_voxels,
    )


#: A drift smaller than this (relative, over the z range) is left in the scan, and so is
#: one within three standard errors of zero (:func:`drift_is_significant`).
MIN_DRIFT = 0.005


def measure_imaging(volume: xr.DataArray, cfg: RunConfig, log: Log = _quiet):
    """Stage 2a: the scan's point spread, noise and slice drift, from the raw grey values.

    Returns the conditions and the volume with a measurable drift divided out.
    """
    from uqtwin.segment.imaging import correct_drift, drift_is_significant, estimate_imaging
    from uqtwin.segment.mixture import fit_mixture

    em = fit_mixture(volume, len(cfg.phases.names), seed=cfg.sampler.seed,
                     max_samples=cfg.segment.max_fit_voxels, phases=cfg.phases.names)
    cond = estimate_imaging(volume, em.means)
    psf = ", ".join(f"{v:.2f}" for v in cond.psf_sigma)
    log(f"imaging conditions: point spread ({psf}) voxels (z, y, x), "
        f"{cond.photons:.3g} photons per voxel, read noise {cond.read_noise:.3g}, "
        f"slice drift {cond.drift:+.3f}")
    for note in cond.notes:
        log(f"  {note}")
    if drift_is_significant(cond, MIN_DRIFT):
        log(f"  dividing out the slice drift ({cond.drift:+.3f} over z)")
        volume = correct_drift(volume, cond.drift)
    return cond, volume


def fit_ensemble(
    volume: xr.DataArray, cfg: RunConfig, log: Log = _quiet,
    psf_sigma: Sequence[float] = (0.8, 0.8, 0.8),
) -> tuple[EnsembleSampler, Mapping[str, Any]]:
    """Stages 2–3: denoise, then fit the mixture and the sampler's model."""
    from uqtwin.segment.denoise import denoise_nlm

    d = cfg.denoise
    if d.enabled:
        log("denoising (non-local means)")
        volume = denoise_nlm(volume, h=d.h, patch_size=d.patch_size,
                             patch_distance=d.patch_distance, poisson=d.poisson)
    log(f"fitting the segmentation model ({cfg.sampler.kind} sampler)")
    if cfg.sampler.kind == "ambiguity" and len(cfg.phases.names) > 2:
        prior = solid_prior_of(cfg)
        what = ("as stated by [sampler] solid_prior" if cfg.sampler.solid_prior is not None
                else f"binder = {cfg.sampler.binder or 'unknown'!r}")
        # Solid and nanoporous binder look alike below the blur: say what was assumed.
        log(f"  middle-grey (binder) domain: solid share {prior.mean:.2f} ± {prior.sd:.2f} "
            f"({what}); set [sampler] binder = \"solid\" or \"nanoporous\" if you know it")
    return build_sampler(volume, tuple(cfg.phases.names), sampler_settings(cfg, psf_sigma),
                         seed=cfg.sampler.seed)


def prepare(cfg: RunConfig, log: Log = _quiet) -> Prepared:
    """Stages 1–3 from a config: read, measure the imaging, denoise, fit the model."""
    log(f"reading {cfg.input.path}")
    volume = read_input(cfg)
    cond, volume = measure_imaging(volume, cfg, log)
    psf = tuple(float(v) for v in (cfg.sampler.psf_sigma or cond.psf_sigma))
    sampler, mixture = fit_ensemble(volume, cfg, log, psf)
    covariates = None
    if cfg.sampler.kind == "ambiguity":
        from uqtwin.results.discrepancy import discrepancy_covariates

        # The partial-volume reading at the median parameters: no prior moves it, so the
        # covariates are those the calibration measured the same way.
        point = np.argmax(sampler.pv_posteriors(None), axis=0).astype(np.uint8)
        covariates = discrepancy_covariates(point, psf)
    prepared = Prepared(
        sampler=sampler,
        spacing=spacing_of(volume),
        unit=unit_of(volume),
        phases=tuple(cfg.phases.names),
        mixture=mixture,
        input_sha256=str(volume.attrs.get("sha256", "")),
        imaging=cond.to_dict(),
        psf_sigma=psf,
        covariates=covariates,
    )
    for note in calibration_warnings(prepared, cfg):
        log(f"warning: {note}")
    return prepared


def calibration_warnings(prepared: Prepared, cfg: RunConfig) -> list[str]:
    """Where the run's measured imaging conditions leave the calibrated range."""
    if cfg.sampler.kind != "ambiguity" or prepared.imaging is None:
        return []
    from uqtwin.results.discrepancy import load_discrepancy

    conditions = {**prepared.imaging, **(prepared.covariates or {})}
    return load_discrepancy().out_of_range(conditions)


def draw_sample(
    sampler: EnsembleSampler, seed: int, segment: SegmentConfig, phases: Sequence[str]
) -> np.ndarray:
    """Stage 4: one cleaned microstructure (phase index per voxel) from the fitted model."""
    from uqtwin.segment.cleanup import opening_closing, remove_islands

    labels = sampler.sample(seed)
    radius = (segment.min_feature_size - 1) // 2
    if radius >= 1:
        labels = opening_closing(labels, radius, n_phases=len(phases))
    if segment.min_island_voxels > 0:
        pore = list(phases).index("pore") if "pore" in phases else None
        labels = remove_islands(labels, segment.min_island_voxels, n_phases=len(phases),
                                pore_label=pore)
    return labels


def _materials(cfg: RunConfig) -> dict[str, Any]:
    from uqtwin.materials import load_material

    return {p: load_material(card) for p, card in cfg.phases.materials.items()}


def reference_context(prepared: Prepared, cfg: RunConfig) -> dict[str, Any]:
    """Run-wide context of the quantities, prepared on the most probable segmentation."""
    from uqtwin.quantities.registry import prepare_context

    labels = np.argmax(prepared.sampler.point_posteriors(), axis=0).astype(np.uint8)
    ms = Microstructure(labels, prepared.spacing, prepared.unit, prepared.phases,
                        _materials(cfg))
    q = cfg.quantities
    return prepare_context(ms, q.names, phases=q.phases, options=q.options)


def evaluate_sample(
    index: int,
    seed: int,
    sampler: EnsembleSampler,
    context: Mapping[str, Any],
    spacing: Sequence[float],
    unit: str,
    phases: Sequence[str],
    materials: Mapping[str, Any],
    cfg: RunConfig,
    covariates: Mapping[str, float] | None = None,
) -> tuple[int, xr.Dataset]:
    """Stages 4–5 for one sample: draw it, compute its quantities. Picklable for dask."""
    labels = draw_sample(sampler, seed, cfg.segment, phases)
    ms = Microstructure(labels, tuple(spacing), unit, tuple(phases), materials, context)
    q = cfg.quantities
    adjust = None
    if cfg.sampler.kind == "ambiguity" and cfg.sampler.discrepancy and covariates:
        from uqtwin.results.discrepancy import apply_discrepancy, load_discrepancy

        model = load_discrepancy()

        def adjust(measured: xr.Dataset) -> xr.Dataset:
            # Before derived quantities, so the Bruggeman exponent follows the adjusted τ.
            return apply_discrepancy(measured, model, covariates, seed)

    ds = compute_quantities(ms, q.names, phases=q.phases, options=q.options, adjust=adjust)
    if "estimator_discrepancy" in ds:
        ds["estimator_discrepancy"].attrs = _pipeline_attrs("estimator_discrepancy")
    for name, value in member_nuisances(sampler, seed).items():
        ds[name] = xr.DataArray(float(value), attrs=_pipeline_attrs(name))
    ds["sample_seed"] = xr.DataArray(np.int64(seed), attrs=_pipeline_attrs("sample_seed"))
    return index, ds


def _pipeline_attrs(name: str) -> dict[str, str]:
    """units, long_name, description (and role) of a pipeline variable, from the schema."""
    spec = PIPELINE_VARIABLES[name]
    return {k: spec[k] for k in ("units", "long_name", "description", "role") if k in spec}


def _ensemble_fingerprint(cfg: RunConfig, input_sha256: str) -> str:
    d = cfg.to_dict()
    # What does not change the samples: where results go, where they run, how many.
    for key in ("output", "engine"):
        d.pop(key)
    d["sampler"].pop("n_samples")
    d["input"].pop("path")
    return fingerprint({"config": d, "input_sha256": input_sha256, "schema": SCHEMA_VERSION})


def _compute_local(tasks, workers: int | None, on_done: Callable[[int, xr.Dataset], None]):
    # a finished sample is saved before the next one is collected, so an interruption
    # loses none
    def finished(key, result):
        if isinstance(key, str) and key.startswith("uqtwin-sample-"):
            on_done(*result)

    compute_local(tasks, workers, finished)


def _compute_distributed(address: str, sampler, context, jobs, rest, on_done) -> None:
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
            client.submit(evaluate_sample, index, seed, shared, shared_context, *rest,
                          key=f"uqtwin-sample-{index}-{seed}", pure=False)
            for index, seed in jobs
        ]
        for fut in as_completed(futures):
            on_done(*fut.result())


def run(
    cfg: RunConfig,
    *,
    resume: bool = False,
    log: Log = _quiet,
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
            prepared = prepare(cfg, log)
            store.save_pickle("prepared", prepared)

    n = cfg.sampler.n_samples
    done = set(store.finished())
    todo = [i for i in range(n) if i not in done]
    finished = len([i for i in done if i < n])
    log(f"sampling {len(todo)} of {n} microstructures ({cfg.sampler.kind} sampler)")
    if progress:
        progress(finished, n)

    def on_done(index: int, ds: xr.Dataset) -> None:
        nonlocal finished
        store.save_sample(index, ds)
        finished += 1
        if progress:
            progress(finished, n)

    rest = (prepared.spacing, prepared.unit, prepared.phases, _materials(cfg), cfg,
            prepared.covariates)
    jobs = [(i, sample_seed(cfg.sampler.seed, i)) for i in todo]
    address = scheduler or cfg.engine.scheduler
    context = reference_context(prepared, cfg) if jobs else {}
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
                threads, evaluate_sample, i, seed, post, ctx, *rest,
                dask_key_name=f"uqtwin-sample-{i}",
            )
            for i, seed in jobs
        ]
        _compute_local(tasks, workers, on_done)
    elif jobs:
        _compute_distributed(address, prepared.sampler, context, jobs, rest, on_done)

    log("collecting results")
    samples = [store.load_sample(i) for i in range(n)]
    ds = collect(samples, list(range(n)), prepared, cfg, manifest)
    validate(ds)
    write_results(ds, cfg.output.path)
    return ds


def collect(
    samples: Sequence[xr.Dataset],
    indices: Sequence[int],
    prepared: Prepared,
    cfg: RunConfig,
    manifest: Mapping[str, Any],
) -> xr.Dataset:
    """Stage 6: one Dataset with a ``sample`` dim, pipeline variables and provenance."""
    ds = stack_samples(samples, indices)
    phases = list(prepared.phases)
    mix = prepared.mixture
    for name, key in (("mixture_mean", "means"), ("mixture_sd", "sds"),
                      ("mixture_weight", "weights")):
        ds[name] = xr.DataArray(np.asarray(mix[key], dtype=float), dims=("phase",),
                                coords={"phase": phases}, attrs=_pipeline_attrs(name))
    if prepared.imaging is not None:
        im = prepared.imaging
        imaging = {"psf_sigma": (("axis",), np.asarray(prepared.psf_sigma, dtype=float)),
                   # to_dict() writes an undetectable photon noise (inf) as None (JSON)
                   "photons_per_voxel": ((), np.inf if im["photons"] is None
                                         else float(im["photons"])),
                   "read_noise": ((), float(im["read_noise"])),
                   "slice_drift": ((), float(im["drift"]))}
        for name, (dims, values) in imaging.items():
            ds[name] = xr.DataArray(values, dims=dims, attrs=_pipeline_attrs(name))
        ds = ds.assign_coords(axis=["z", "y", "x"]) if "axis" not in ds.coords else ds
    if cfg.output.maps:
        post = prepared.posteriors
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.sum(np.where(post > 0, post * np.log(post), 0.0), axis=0)
        maps = {
            "most_probable_phase": (("z", "y", "x"), np.argmax(post, axis=0).astype(np.uint8)),
            "posterior_entropy": (("z", "y", "x"), ent.astype(np.float32)),
            "phase_probability": (("phase", "z", "y", "x"), post.astype(np.float32)),
        }
        for name, (dims, values) in maps.items():
            ds[name] = xr.DataArray(values, dims=dims, attrs=_pipeline_attrs(name))
    ds.attrs = {
        "schema_version": SCHEMA_VERSION,
        "uqtwin_version": __version__,
        "config": json.dumps(cfg.to_dict()),
        "input_sha256": prepared.input_sha256,
        "seed": cfg.sampler.seed,
        "sampler": cfg.sampler.kind,
        "created": manifest["created"],
        "length_unit": prepared.unit,
        "spacing": np.asarray(prepared.spacing, dtype=float),
        "phases": json.dumps(phases),
        "hdi_prob": cfg.output.hdi_prob,
        "title": "uqtwin ensemble results",
        "imaging_notes": json.dumps(list((prepared.imaging or {}).get("notes", []))),
        "calibration_warnings": json.dumps(calibration_warnings(prepared, cfg)),
    }
    return ds
