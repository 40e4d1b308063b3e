"""Entry point of the imaging estimates: drift, then noise model, then point spread
(see the package docstring of :mod:`uqtwin.segment.imaging`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from uqtwin.errors import VolumeError
from uqtwin.segment.imaging._common import (
    AXES,
    MIN_SIZE,
    SMOOTH,
    central_window,
    drift_factor,
    gradient_magnitude,
    nearest_labels,
    present_phases,
)
from uqtwin.segment.imaging.conditions import ImagingConditions
from uqtwin.segment.imaging.drift import fit_drift
from uqtwin.segment.imaging.noise import noise_model
from uqtwin.segment.imaging.psf import measure_psf, psf_fallback
from uqtwin.volume import check_array

__all__ = ["estimate_imaging"]

#: Larger volumes are cropped to their central block of this size (z for the drift
#: excepted): PSF and noise are taken as uniform, and 128³ holds ample edges and voxels.
_BLOCK = 128
#: Passes of the drift fit, each on the labelling corrected by the previous one.
_DRIFT_PASSES = 3


def estimate_imaging(
    volume: xr.DataArray | np.ndarray,
    means: Sequence[float] | Any,
    *,
    default_psf: float = 0.8,
    min_edges: int = 50,
) -> ImagingConditions:
    """Estimate the point spread, noise model and slice drift of a raw grey volume.

    See the package docstring for the methods and their measured accuracy.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        The RAW grey volume (not denoised), at least 16 voxels along every axis. Voxel
        spacing is not used: everything is in voxels of each axis.
    means : sequence of float or MixtureModel
        Grey means of the pure phases (grey units), e.g.
        ``fit_mixture(volume, 3).means``; at least two distinct values. Sorted here.
    default_psf : float
        PSF sigma (voxels) reported when nothing measures it (package docstring, "Point
        spread on small volumes"); also the first pass's windows.
    min_edges : int
        Edge profiles an axis needs for its own PSF estimate without further checks;
        from 40 % of it the estimate is kept when its jackknife error is small.

    Returns
    -------
    ImagingConditions
        The estimates, the standard errors of the PSF and the drift, edge counts and
        notes (every relaxation and fallback taken).

    Raises
    ------
    VolumeError
        The volume is not 3-D, holds NaN, is smaller than 16 voxels along an axis,
        ``means`` has fewer than two distinct values, or fewer than two phases are
        present in the volume.

    Warns
    -----
    ImagingWarning
        An axis's PSF was not measured by its own edges: pooled from the other axes,
        model-based, or ``default_psf``.

    Examples
    --------
    >>> from uqtwin.phantoms import image_phantom, spheres_with_binder
    >>> from uqtwin.segment.imaging import drift_is_significant
    >>> labels = spheres_with_binder((48, 48, 48), binder_thickness=0, neck_radius=2,
    ...                              seed=1)
    >>> grey = image_phantom(labels, (45, 105, 175), blur_sigma=(1.5, 1.0, 1.0),
    ...                      photons=200, read_noise=3, drift=0.05, seed=2)
    >>> c = estimate_imaging(grey, (45, 105, 175))
    >>> bool(np.allclose(c.psf_sigma, (1.5, 1.0, 1.0), rtol=0.1))
    True
    >>> abs(c.photons / 200 - 1) < 0.2, abs(c.read_noise / 3 - 1) < 0.2
    (True, True)
    >>> abs(c.drift - 0.05) < 0.01, drift_is_significant(c)
    (True, True)
    """
    raw, mu = _check_inputs(volume, means)
    if int(min_edges) < 1:
        raise VolumeError(f"min_edges must be >= 1, got {min_edges!r}")
    if not (math.isfinite(default_psf) and default_psf > 0):
        raise VolumeError(f"default_psf must be a positive number, got {default_psf!r}")
    notes: list[str] = []

    # Large volumes: the drift is measured on every slice of the central (y, x) block,
    # the PSF and the noise on the central block (both are taken as uniform). The
    # block is smoothed with a margin so that its borders see their true neighbours.
    (yo, yi), (xo, xi) = (central_window(n, _BLOCK, margin=4) for n in raw.shape[1:])
    region = raw[:, yo, xo]
    smooth = ndimage.gaussian_filter(region, SMOOTH, mode="nearest")[:, yi, xi]
    region = region[:, yi, xi]
    mu = mu[present_phases(nearest_labels(smooth, mu), mu)]
    # Drift moves the grey levels along z and so which voxels the labelling finds deep
    # inside a phase; passes on the drift-corrected labelling remove that selection bias.
    slope = gradient_magnitude(smooth)
    drift, drift_se, drift_notes = 0.0, math.inf, []
    for k in range(_DRIFT_PASSES):
        drift, drift_se, drift_notes = fit_drift(region, smooth, slope, mu, drift,
                                                  replicates=k == _DRIFT_PASSES - 1)
    notes += drift_notes
    del slope

    zb = central_window(raw.shape[0], _BLOCK, margin=0)[0]
    ramp = drift_factor(raw.shape[0], drift).astype(raw.dtype)[zb, None, None]
    block, smooth = region[zb], smooth[zb] / ramp
    labels = nearest_labels(smooth, mu)
    gain, read, noise_notes = noise_model(block, labels, len(mu))
    mid_var = gain * 0.5 * (mu[0] + mu[-1]) + read**2
    flat = block / ramp
    sigma, sigma_se, n_edges, psf_notes, how = measure_psf(flat, smooth, mu, labels, mid_var,
                                                    float(default_psf), int(min_edges))
    if not all(how):
        sigma, sigma_se, more = psf_fallback(flat, smooth, mu, gain, read, sigma,
                                              sigma_se, how, n_edges, int(min_edges),
                                              float(default_psf))
        psf_notes += more
    notes += psf_notes + noise_notes
    photons = float(raw.mean(dtype=np.float64)) / gain if gain > 0 else math.inf

    return ImagingConditions(
        psf_sigma=tuple(sigma), psf_sigma_se=tuple(sigma_se), photon_gain=gain,
        read_noise=read, photons=photons, drift=drift, n_edges=tuple(n_edges),
        notes=tuple(notes), drift_se=drift_se,
    )

# ------------------------------------------------------------------------ preparation


def _check_inputs(volume: Any, means: Any) -> tuple[np.ndarray, np.ndarray]:
    """Raw volume as float32 and the sorted phase means, or a VolumeError naming why not."""
    arr = volume.values if isinstance(volume, xr.DataArray) else volume
    arr = check_array(arr, name="volume")
    small = [f"{a} ({n})" for a, n in zip(AXES, arr.shape, strict=True) if n < MIN_SIZE]
    if small:
        raise VolumeError(
            f"volume of shape {arr.shape} is too small to measure imaging conditions: "
            f"need at least {MIN_SIZE} voxels along every axis, got {', '.join(small)}"
        )
    mu = np.asarray(getattr(means, "means", means), dtype=float).ravel()
    if mu.size == 0 or not np.all(np.isfinite(mu)):
        raise VolumeError(f"means must be finite grey values, got {means!r}")
    mu = np.unique(mu)  # sorted, duplicates removed
    if mu.size < 2:
        raise VolumeError(
            f"one phase only (means {mu.tolist()}): edges and a noise model need at least "
            "two phases of different grey"
        )
    # float32 halves the memory of the volume-sized intermediates; sums use float64.
    return arr.astype(np.float32), mu
