"""The tomography image model: a known label volume imaged the way a scanner would.

:func:`image_phantom` applies partial-volume blur, beam drift, photon and read noise to
any label volume, so the true phase of every voxel of the grey volume is known.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import ndimage

from uqtwin.errors import VolumeError
from uqtwin.phantoms._checks import per_axis
from uqtwin.volume import check_array, make_volume


def image_phantom(
    labels: np.ndarray,
    means: Sequence[float],
    *,
    spacing: Sequence[float] | float = (1.0, 1.0, 1.0),
    unit: str = "um",
    blur_sigma: float | Sequence[float] = (0.7, 0.7, 0.7),
    supersample: int = 1,
    photons: float | None = None,
    read_noise: float = 0.0,
    drift: float = 0.0,
    seed: int = 0,
) -> xr.DataArray:
    """Simulate a tomogram of a label volume.

    The image model, applied in this order:

    1. **Phase contrast**: every voxel gets the grey mean of its phase, ``means[label]``.
    2. **Partial volume and blur**: a Gaussian point-spread function of ``blur_sigma``
       (output voxels, per axis). With ``supersample = s > 1`` the labels are taken to be
       sampled on a grid ``s`` times finer than the output; the blurred fine image is
       block-averaged over ``s x s x s`` blocks, so a voxel that straddles an interface
       gets the volume-weighted mean of its phases (the partial-volume effect) even with
       no blur. With ``s = 1`` the partial-volume effect comes from the blur alone.
    3. **Drift**: slice ``k`` along z is multiplied by ``1 + drift * (k / (nz - 1) - 1/2)``,
       a linear beam-intensity drift of relative size ``drift`` over the scan.
    4. **Photon noise** (when ``photons`` is given): the image is scaled so its mean grey
       value is ``photons`` counts, Poisson-sampled, and scaled back, so the noise is
       signal-dependent with relative size ``1 / sqrt(photons * grey / mean_grey)``.
    5. **Read noise**: additive Gaussian noise of standard deviation ``read_noise``
       (grey units).

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index per voxel, ``0 .. len(means) - 1`` (for tf_electrode's 0/85/170 labels,
        map them to indices first). With ``supersample = s`` every dimension must be a
        multiple of ``s``.
    means : sequence of float
        Grey mean of each phase (grey units, arbitrary scale, e.g. 0-255).
    spacing : float or sequence of 3 floats
        Output voxel size along (z, y, x) in ``unit``.
    unit : str
        Length unit of ``spacing``.
    blur_sigma : float or sequence of 3 floats
        Standard deviation of the Gaussian point-spread function, in output voxels.
    supersample : int
        Ratio of the label grid to the output grid (see above); 1 means the same grid.
    photons : float, optional
        Mean photon count per voxel; ``None`` means no photon noise.
    read_noise : float
        Standard deviation of additive Gaussian noise, grey units.
    drift : float
        Relative intensity drift over the z range (0.1 means +-5 % at the ends).
    seed : int
        Seed of the noise.

    Returns
    -------
    xarray.DataArray
        Float32 grey volume of shape ``labels.shape // supersample`` with ``spacing`` and
        ``unit`` attributes, and the image-model parameters in ``attrs["phantom"]``
        (a string, so the attrs stay serialisable).
    """
    lab = check_array(labels, name="labels")
    if lab.dtype.kind not in "biu":
        raise VolumeError(f"labels must be integers, got dtype {lab.dtype}")
    mu = np.asarray(means, dtype=float)
    if mu.ndim != 1 or mu.size == 0 or not np.all(np.isfinite(mu)):
        raise VolumeError(f"means must be a non-empty sequence of finite numbers, got {means!r}")
    lo, hi = int(lab.min()), int(lab.max())
    if lo < 0 or hi >= mu.size:
        raise VolumeError(
            f"labels hold values {lo}..{hi} but only {mu.size} grey means are given; "
            "map the labels to 0 .. len(means) - 1 first"
        )
    s = int(supersample)
    if s < 1 or any(n % s for n in lab.shape):
        raise VolumeError(
            f"supersample must be an integer >= 1 dividing every dimension of {lab.shape}, "
            f"got {supersample!r}"
        )
    sigma = per_axis(blur_sigma, "blur_sigma")
    if photons is not None and not (np.isfinite(photons) and photons > 0):
        raise VolumeError(f"photons must be a positive number or None, got {photons!r}")
    if not (np.isfinite(read_noise) and read_noise >= 0):
        raise VolumeError(f"read_noise must be >= 0, got {read_noise!r}")
    rng = np.random.default_rng(seed)

    grey = mu[lab]
    if np.any(sigma > 0):
        grey = ndimage.gaussian_filter(grey, sigma * s, mode="nearest")
    if s > 1:
        nz, ny, nx = (n // s for n in lab.shape)
        grey = grey.reshape(nz, s, ny, s, nx, s).mean(axis=(1, 3, 5))
    if drift:
        nz = grey.shape[0]
        ramp = np.linspace(-0.5, 0.5, nz) if nz > 1 else np.zeros(1)
        grey = grey * (1.0 + drift * ramp)[:, None, None]
    if photons is not None:
        mean_grey = float(grey.mean())
        if mean_grey <= 0 or grey.min() < 0:
            raise VolumeError("photon noise needs non-negative grey means with a positive mean")
        scale = photons / mean_grey
        grey = rng.poisson(grey * scale) / scale
    if read_noise > 0:
        grey = grey + rng.normal(0.0, read_noise, size=grey.shape)

    params = (
        f"means={mu.tolist()}, blur_sigma={sigma.tolist()}, supersample={s}, "
        f"photons={photons}, read_noise={read_noise}, drift={drift}, seed={seed}"
    )
    return make_volume(grey.astype(np.float32), spacing, unit, attrs={"phantom": params})
