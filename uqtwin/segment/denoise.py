"""Denoising of grey volumes: non-local means, with a variance-stabilising path for photon noise.

Non-local means (scikit-image's fast-mode algorithm, computed by the threaded
:mod:`uqtwin.segment.nlm`) replaces each voxel by a weighted mean of voxels whose
surrounding patches look alike. Its cost scales with ``(2 * patch_distance + 1) ** 3``
offsets times the voxel count (timings beside scikit-image's in benchmarks/README.md).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr
from scipy import stats

from uqtwin.errors import VolumeError
from uqtwin.volume import check_array

#: Below this mean count the closed-form unbiased inverse loses accuracy, so
#: :func:`inverse_anscombe` interpolates an exactly computed table instead.
_TABLE_MAX_LAMBDA = 100.0


def anscombe(counts: np.ndarray) -> np.ndarray:
    """Anscombe transform ``2 sqrt(x + 3/8)``: Poisson counts to roughly unit-variance noise.

    Parameters
    ----------
    counts : ndarray
        Photon counts (>= 0).

    Returns
    -------
    ndarray of float64
        Transformed values; for Poisson ``x`` of mean >~ 4 their standard deviation is ~1.
    """
    x = np.asarray(counts, dtype=float)
    if np.any(x < 0):
        raise VolumeError("the Anscombe transform needs counts >= 0; got negative values")
    return 2.0 * np.sqrt(x + 0.375)


@lru_cache(maxsize=1)
def _exact_table() -> tuple[np.ndarray, np.ndarray]:
    """``E[anscombe(X)]`` for ``X ~ Poisson(lam)`` on a grid of ``lam``, summed exactly."""
    lam = np.concatenate([[0.0], np.geomspace(1e-4, _TABLE_MAX_LAMBDA, 2000)])
    kmax = int(_TABLE_MAX_LAMBDA + 20 * np.sqrt(_TABLE_MAX_LAMBDA) + 50)
    k = np.arange(kmax + 1)
    pmf = stats.poisson.pmf(k[None, :], lam[:, None])
    expectation = pmf @ (2.0 * np.sqrt(k + 0.375))
    return expectation, lam


def _closed_form_inverse(y: np.ndarray) -> np.ndarray:
    # Makitalo & Foi (2011), closed-form approximation of the exact unbiased inverse;
    # its error is below 1e-6 relative for lam > 100, where it is used.
    y = np.maximum(y, 1.0)
    return (
        0.25 * y**2 + 0.25 * np.sqrt(1.5) / y - 1.375 / y**2
        + 0.625 * np.sqrt(1.5) / y**3 - 0.125
    )


def inverse_anscombe(values: np.ndarray) -> np.ndarray:
    """Exact unbiased inverse of the Anscombe transform.

    Maps ``y = E[2 sqrt(X + 3/8)]`` back to the Poisson mean ``lam`` of ``X`` (Makitalo
    and Foi, IEEE TIP 2011). The plain algebraic inverse ``(y/2)^2 - 3/8`` is biased at
    low counts because the denoised value estimates the *mean of the transform*, not the
    transform of the mean. For ``lam <= 100`` the expectation is summed exactly over the
    Poisson pmf on a fine grid and inverted by monotone interpolation; above, the
    closed-form approximation (error < 1e-6 relative) is used. Values below
    ``E[anscombe(X) | lam = 0] = 2 sqrt(3/8)`` map to 0.

    Parameters
    ----------
    values : ndarray
        Denoised values in the Anscombe domain.

    Returns
    -------
    ndarray of float64
        Estimated Poisson means (counts).
    """
    y = np.asarray(values, dtype=float)
    table_y, table_lam = _exact_table()
    return np.where(
        y <= table_y[-1],
        np.interp(y, table_y, table_lam, left=0.0),
        _closed_form_inverse(y),
    )


def estimate_noise_sd(array: np.ndarray) -> float:
    """Robust estimate of the standard deviation of white Gaussian noise in a 3-D array.

    Donoho's estimator: the median absolute value of the finest diagonal wavelet detail
    coefficients divided by 0.6745. It uses the 3-D Haar ``ddd`` coefficient (the
    alternating-sign sum over each 2x2x2 block, divided by ``sqrt(8)``), which has the noise
    standard deviation and is nearly blind to smooth structure. Hand-written because
    :func:`skimage.restoration.estimate_sigma` needs PyWavelets, which uqtwin does not
    depend on. Sharp edges raise a few coefficients; the median ignores them.

    Parameters
    ----------
    array : ndarray, shape (nz, ny, nx)
        Noisy volume (every axis >= 2).

    Returns
    -------
    float
        Noise standard deviation, in the array's grey units.
    """
    a = np.asarray(array, dtype=float)
    nz, ny, nx = (n - n % 2 for n in a.shape)
    if min(nz, ny, nx) < 2:
        raise VolumeError(f"noise estimation needs at least 2 voxels per axis, got {a.shape}")
    b = a[:nz, :ny, :nx].reshape(nz // 2, 2, ny // 2, 2, nx // 2, 2)
    sign = np.array([1.0, -1.0])
    w = sign[:, None, None] * sign[None, :, None] * sign[None, None, :]
    d = np.einsum("aibjck,ijk->abc", b, w) / np.sqrt(8.0)
    return float(np.median(np.abs(d)) / 0.6744897501960817)


def _blocks(shape: tuple[int, ...], chunk: int):
    """The cubic blocks of side ``chunk`` that tile ``shape``, as tuples of slices."""
    for z0 in range(0, shape[0], chunk):
        for y0 in range(0, shape[1], chunk):
            for x0 in range(0, shape[2], chunk):
                yield tuple(slice(s0, min(s0 + chunk, n))
                            for s0, n in zip((z0, y0, x0), shape, strict=True))


def denoise_nlm(
    volume: xr.DataArray,
    *,
    h: float | None = None,
    patch_size: int = 3,
    patch_distance: int = 5,
    poisson: bool = False,
    chunk: int | None = None,
    overlap: int | None = None,
) -> xr.DataArray:
    """Non-local-means denoising of a grey volume, on all cores.

    The filter is scikit-image's fast-mode non-local means, computed by the threaded
    :func:`uqtwin.segment.nlm.nl_means` (same patch distance and weights, float32).

    Parameters
    ----------
    volume : xarray.DataArray
        Grey volume with dims (z, y, x) (see :func:`uqtwin.volume.make_volume`). With
        ``poisson=True`` its values must be photon counts (>= 0).
    h : float, optional
        Filter strength, grey units (Anscombe units when ``poisson``). Default
        ``0.8 * sigma``, the value scikit-image recommends for ``fast_mode``, with
        ``sigma`` the noise sd from :func:`estimate_noise_sd` on the whole volume (or 1
        for ``poisson``, the sd of Anscombe-transformed Poisson noise).
    patch_size : int
        Side of the cubic patches compared, voxels.
    patch_distance : int
        Search radius for similar patches, voxels. Cost grows as its cube (see module doc).
    poisson : bool
        Apply the Anscombe transform before and its exact unbiased inverse after, so
        signal-dependent photon noise is treated as unit-variance Gaussian noise.
    chunk : int, optional
        Side of the cubic blocks denoised one at a time, voxels; ``None`` (default)
        denoises the whole volume in one call. Every block carries the exact halo
        (:func:`uqtwin.segment.nlm.nlm_margin`) and the noise sd and ``h`` are computed
        once for the whole volume, so the result is the same, bit for bit, whatever the
        chunking.
    overlap : int, optional
        Halo around each block, voxels: ``None`` (default) is the exact halo,
        ``patch_distance + patch_size // 2``; a wider one only costs time and a narrower
        one is refused (it would change the result).

    Returns
    -------
    xarray.DataArray
        Float32 denoised volume with the input's coords and attrs (spacing, unit),
        plus ``attrs["denoise"]`` describing the filter.

    Raises
    ------
    VolumeError
        If ``volume`` is not a DataArray, holds negative counts with ``poisson``, or a
        parameter is out of range.
    """
    from uqtwin.segment.nlm import nl_means_block, nlm_margin

    if not isinstance(volume, xr.DataArray):
        raise VolumeError("denoise_nlm needs a volume made by uqtwin.volume.make_volume")
    arr = check_array(volume.values, name="volume").astype(np.float64)
    if patch_size < 1 or patch_distance < 1:
        raise VolumeError("patch_size and patch_distance must be >= 1")
    if chunk is not None and chunk < 1:
        raise VolumeError(f"chunk must be >= 1 or None, got {chunk!r}")
    margin = nlm_margin(patch_size, patch_distance)
    if overlap is not None and overlap < margin:
        raise VolumeError(
            f"overlap {overlap} is narrower than the exact halo {margin} "
            f"(patch_distance + patch_size // 2); leave it unset")
    if poisson:
        arr = anscombe(arr)
        sigma = 1.0
    else:
        sigma = estimate_noise_sd(arr) if min(arr.shape) >= 2 else 0.0
    strength = 0.8 * sigma if h is None else float(h)
    if strength <= 0:
        out = arr
    else:
        kw = dict(h=strength, sigma=sigma, patch_size=patch_size,
                  patch_distance=patch_distance)
        padded = np.pad(arr.astype(np.float32), margin, mode="reflect")
        if chunk is None:
            out = nl_means_block(padded, **kw)
        else:
            out = np.empty(arr.shape, dtype=np.float32)
            for core in _blocks(arr.shape, chunk):
                halo = tuple(slice(c.start, c.stop + 2 * margin) for c in core)
                out[core] = nl_means_block(padded[halo], **kw)
    if poisson:
        out = inverse_anscombe(out)
    attrs = dict(volume.attrs)
    attrs["denoise"] = (
        f"nlm h={strength:.6g} sigma={sigma:.6g} patch_size={patch_size} "
        f"patch_distance={patch_distance} poisson={poisson}"
    )
    return xr.DataArray(out.astype(np.float32), dims=volume.dims, coords=volume.coords,
                        name=volume.name, attrs=attrs)
