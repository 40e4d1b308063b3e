"""The per-volume stages of a run: read, measure the imaging, denoise, fit the model.

``prepare`` turns the input file into a :class:`Prepared`: the fitted ensemble model (the
sampler kind of ``[sampler] kind``, looked up in :mod:`uqtwin.sample.kinds`) and what
every sample starts from. Each stage is usable on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.engine.config import RunConfig, sampler_options, solid_prior_of
from uqtwin.sample.kinds import build_sampler
from uqtwin.sample.model import EnsembleSampler
from uqtwin.timing import StageClock
from uqtwin.volume import spacing_of, unit_of

Log = Callable[[str], None]


def quiet(_: str) -> None:
    """A log that says nothing.

    The default ``log`` of the stages, so that library calls print nothing.

    Parameters
    ----------
    _ : str
        The message, ignored.
    """


#: A drift smaller than this (relative, over the z range) is left in the scan, and so is
#: one within three standard errors of zero (:func:`drift_is_significant`).
MIN_DRIFT = 0.005


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
    """Stage 1: the grey volume with its spacing.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration; its ``[input]`` section (path, format, spacing, unit, dataset,
        and for raw files shape, dtype, byte order and offset) is passed to
        :func:`uqtwin.io.read_volume`.

    Returns
    -------
    xarray.DataArray
        The grey volume on (z, y, x), with its spacing and length unit (and the file's
        ``sha256``) in its attributes.

    Raises
    ------
    VolumeError
        If the file is missing or cannot be read as described.
    """
    from uqtwin.io import read_volume

    inp = cfg.input
    return read_volume(
        inp.path, inp.format, spacing=inp.spacing, unit=inp.unit, dataset=inp.dataset,
        shape=inp.shape, dtype=inp.dtype, byte_order=inp.byte_order, offset=inp.offset,
    )


def measure_imaging(volume: xr.DataArray, cfg: RunConfig, log: Log = quiet):
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
    volume: xr.DataArray, cfg: RunConfig, log: Log = quiet,
    psf_sigma: Sequence[float] = (0.8, 0.8, 0.8),
    clock: StageClock | None = None,
) -> tuple[EnsembleSampler, Mapping[str, Any]]:
    """Stages 2–3: denoise, then fit the mixture and the sampler's model.

    Parameters
    ----------
    volume : xarray.DataArray
        The grey volume of :func:`read_input`.
    cfg : RunConfig
        The run configuration (``[denoise]``, ``[phases]``, ``[sampler]``, ``[segment]``).
    log : callable, optional
        Receives progress messages; default :func:`quiet`. With the ``ambiguity`` sampler
        and more than two phases it also says which solid share of the middle-grey (binder)
        domain was assumed, because solid and nanoporous binder look alike below the blur.
    psf_sigma : sequence of 3 floats, optional
        The point-spread function's Gaussian sigma along (z, y, x), in voxels; default
        (0.8, 0.8, 0.8).
    clock : StageClock, optional
        Receives the seconds spent denoising (``denoise``) and fitting (``fit``).

    Returns
    -------
    sampler : EnsembleSampler
        The fitted model of the configured sampler kind.
    mixture : mapping
        The plain Gaussian mixture fit: ``means``, ``sds`` and ``weights`` per phase.
    """
    from uqtwin.segment.denoise import denoise_nlm

    clock = StageClock() if clock is None else clock
    d = cfg.denoise
    if d.enabled:
        log("denoising (non-local means)")
        with clock.stage("denoise"):
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
    options = sampler_options(cfg, tuple(psf_sigma))
    with clock.stage("fit"):
        return build_sampler(volume, tuple(cfg.phases.names), cfg.sampler.kind, options,
                             seed=cfg.sampler.seed,
                             max_fit_voxels=cfg.segment.max_fit_voxels)


def prepare(cfg: RunConfig, log: Log = quiet, clock: StageClock | None = None) -> Prepared:
    """Stages 1–3 from a config: read, measure the imaging, denoise, fit the model.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration.
    log : callable, optional
        Receives progress messages and calibration warnings; default :func:`quiet`.
    clock : StageClock, optional
        Receives the seconds spent reading, measuring the imaging, denoising and fitting.

    Returns
    -------
    Prepared
        The fitted sampler, the volume's spacing and unit, the phases, the plain mixture,
        the input's SHA-256, the measured imaging conditions, the PSF sigma the sampler used
        (``[sampler] psf_sigma`` if given, else the measured one) and, for the ``ambiguity``
        sampler, the discrepancy covariates (measured on the partial-volume reading at the
        median parameters, as the calibration measured them).
    """
    clock = StageClock() if clock is None else clock
    log(f"reading {cfg.input.path}")
    with clock.stage("read"):
        volume = read_input(cfg)
    with clock.stage("imaging conditions"):
        cond, volume = measure_imaging(volume, cfg, log)
    psf = tuple(float(v) for v in (cfg.sampler.psf_sigma or cond.psf_sigma))
    sampler, mixture = fit_ensemble(volume, cfg, log, psf, clock)
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
    """Where the run's measured imaging conditions leave the calibrated range.

    Parameters
    ----------
    prepared : Prepared
        The fitted run; its imaging conditions and discrepancy covariates are checked.
    cfg : RunConfig
        The run configuration; only the ``ambiguity`` sampler uses the calibration.

    Returns
    -------
    list of str
        One message per condition outside the calibrated range; empty for other sampler
        kinds or when no imaging conditions were measured.
    """
    if cfg.sampler.kind != "ambiguity" or prepared.imaging is None:
        return []
    from uqtwin.results.discrepancy import load_discrepancy

    conditions = {**prepared.imaging, **(prepared.covariates or {})}
    return load_discrepancy().out_of_range(conditions)
