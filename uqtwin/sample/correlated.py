"""Spatially correlated sampling of microstructures that keeps every voxel's marginal.

Voxel-independent samples scatter isolated misclassified voxels, which no real
segmentation error does: errors come in blobs along interfaces. Here the uniform number
each voxel inverts its CDF at is ``u = Phi(g)``, with ``g`` a stationary Gaussian random
field of unit variance, so ``u`` is uniform at every voxel (each voxel's label follows its
posterior exactly) while neighbouring voxels tend to draw alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import fft
from scipy.special import ndtr

from uqtwin.errors import VolumeError
from uqtwin.sample.independent import as_generator, categorical_from_uniform, check_posteriors


def correlation_lengths(correlation_length: float | Sequence[float]) -> np.ndarray:
    """Correlation length per axis (z, y, x), voxels, from one value or three.

    Raises
    ------
    VolumeError
        Unless one or three finite values >= 0 are given.

    Examples
    --------
    >>> correlation_lengths(2.0).tolist()
    [2.0, 2.0, 2.0]
    """
    ell = np.atleast_1d(np.asarray(correlation_length, dtype=float))
    if ell.size == 1:
        ell = np.repeat(ell, 3)
    if ell.shape != (3,) or not np.all(np.isfinite(ell)) or np.any(ell < 0):
        raise VolumeError(
            f"correlation_length must be one or three finite values >= 0 (voxels), "
            f"got {correlation_length!r}"
        )
    return ell


def gaussian_random_field(
    shape: Sequence[int],
    correlation_length: float | Sequence[float],
    seed: int | np.random.Generator,
) -> np.ndarray:
    """Stationary Gaussian field, zero mean, unit variance, Gaussian correlation.

    White noise is filtered in Fourier space by a Gaussian kernel of standard deviation
    ``ell / sqrt(2)`` per axis, which gives the field the correlation
    ``rho(r) = exp(-sum_i r_i^2 / (2 ell_i^2))``. To avoid the wrap-around correlation of a
    periodic FFT, the noise is generated on a grid padded by ``4 ell`` per axis and
    cropped. The result is divided by the exact standard deviation of the filtered noise
    (from Parseval, ``sqrt(mean |H|^2)``), not by its sample standard deviation, so every
    voxel has variance exactly 1 in law. Hand-written because neither scipy nor
    scikit-image provides a random-field generator; scipy.fft does the filtering.

    Parameters
    ----------
    shape : sequence of 3 ints
        Field shape (z, y, x).
    correlation_length : float or sequence of 3 floats
        ``ell`` per axis, voxels; 0 means no correlation along that axis.
    seed : int or numpy.random.Generator
        Seed or generator.

    Returns
    -------
    ndarray of float64, shape ``shape``
    """
    ell = correlation_lengths(correlation_length)
    shp = tuple(int(n) for n in shape)
    padded = tuple(n + int(np.ceil(4 * e)) for n, e in zip(shp, ell, strict=True))
    padded = tuple(fft.next_fast_len(n, real=True) for n in padded)
    noise = as_generator(seed).standard_normal(padded)
    if not np.any(ell > 0):
        return noise[: shp[0], : shp[1], : shp[2]]
    s = ell / np.sqrt(2.0)
    freqs = [fft.fftfreq(n) for n in padded[:-1]] + [fft.rfftfreq(padded[-1])]
    # Transfer function of the Gaussian kernel: exp(-2 pi^2 s^2 f^2), separable per axis.
    h = [np.exp(-2.0 * np.pi**2 * si**2 * f**2) for si, f in zip(s, freqs, strict=True)]
    transfer = h[0][:, None, None] * h[1][None, :, None] * h[2][None, None, :]
    field = fft.irfftn(fft.rfftn(noise) * transfer, s=padded)
    # mean |H|^2 over the full (not half) spectrum: the rfft axis counts twice except at
    # frequency 0 and, for even length, the Nyquist frequency.
    full = [np.concatenate([hh**2, hh[1:(padded[-1] + 1) // 2][::-1] ** 2]) if i == 2
            else hh**2 for i, hh in enumerate(h)]
    variance = float(np.prod([f2.mean() for f2 in full]))
    return field[: shp[0], : shp[1], : shp[2]] / np.sqrt(variance)


def sample_correlated(
    posteriors: Any,
    seed: int | np.random.Generator,
    *,
    correlation_length: float | Sequence[float],
) -> np.ndarray:
    """Draw one microstructure with spatially correlated voxel choices.

    Parameters
    ----------
    posteriors : ndarray or xarray.DataArray, shape (n_phases, nz, ny, nx)
        Phase probabilities per voxel, summing to 1 over phases.
    seed : int or numpy.random.Generator
        Seed (same seed, same sample) or a generator to draw from.
    correlation_length : float or sequence of 3 floats
        Correlation length ``ell`` of the underlying Gaussian field, voxels, per axis
        (z, y, x): the field's correlation is ``exp(-r^2 / (2 ell^2))``. The label
        indicators decorrelate over a comparable distance (for a 50/50 voxel, the
        indicator correlation is ``(2/pi) arcsin(rho)``). 0 gives the independent sampler's
        law.

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
        Phase index per voxel; each voxel's label follows its posterior exactly.
    """
    p = check_posteriors(posteriors)
    g = gaussian_random_field(p.shape[1:], correlation_length, seed)
    # ndtr can round to exactly 1.0 for g > ~8.3; the CDF inversion treats u = 1 as the
    # last phase, which is the correct limit, so no clipping is needed.
    return categorical_from_uniform(p, ndtr(g))
