"""Denoising of grey volumes: non-local means, with a variance-stabilising path for photon noise.

Non-local means (scikit-image, ``fast_mode``) replaces each voxel by a weighted mean of
voxels whose surrounding patches look alike. The work is done in overlapping chunks so
that memory stays bounded on large tomograms; with the default halo the chunked result
equals the whole-volume one (see :func:`denoise_nlm`).

Cost: scikit-image's 3-D NLM scales with ``(2 * patch_distance + 1) ** 3`` offsets times
the voxel count (plus the chunk halos; timings in benchmarks/README.md). For full
tomograms use ``patch_distance=2`` or 3, or run chunks in parallel (the chunks are
independent).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr
from scipy import stats
from skimage.restoration import denoise_nl_means

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


def _starts(n: int, chunk: int) -> list[int]:
    return list(range(0, n, chunk))


def denoise_nlm(
    volume: xr.DataArray,
    *,
    h: float | None = None,
    patch_size: int = 3,
    patch_distance: int = 5,
    poisson: bool = False,
    chunk: int | None = 64,
    overlap: int | None = None,
) -> xr.DataArray:
    """Non-local-means denoising of a grey volume, in overlapping chunks.

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
        Side of the cubic chunks processed one at a time, voxels; ``None`` processes the
        whole volume at once.
    overlap : int, optional
        Halo added around each chunk, voxels. A voxel's result depends only on voxels
        within ``patch_distance + patch_size // 2``; a halo at least that wide makes the
        chunked result equal the unchunked one (to float rounding) because the noise sd
        and ``h`` are computed once for the whole volume. The default is exactly that
        width, the cheapest exact choice (a wider halo only costs time).

    Returns
    -------
    xarray.DataArray
        Float32 denoised volume with the input's coords and attrs (spacing, unit),
        plus ``attrs["denoise"]`` describing the filter.
    """
    if not isinstance(volume, xr.DataArray):
        raise VolumeError("denoise_nlm needs a volume made by uqtwin.volume.make_volume")
    arr = check_array(volume.values, name="volume").astype(np.float64)
    if patch_size < 1 or patch_distance < 1:
        raise VolumeError("patch_size and patch_distance must be >= 1")
    if chunk is not None and chunk < 1:
        raise VolumeError(f"chunk must be >= 1 or None, got {chunk!r}")
    if overlap is None:
        overlap = patch_distance + patch_size // 2
    if overlap < 0:
        raise VolumeError(f"overlap must be >= 0, got {overlap!r}")
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
                  patch_distance=patch_distance, fast_mode=True)
        if chunk is None:
            out = denoise_nl_means(arr, **kw)
        else:
            out = np.empty_like(arr)
            shape = arr.shape
            for z0 in _starts(shape[0], chunk):
                for y0 in _starts(shape[1], chunk):
                    for x0 in _starts(shape[2], chunk):
                        core = tuple(
                            slice(s, min(s + chunk, n))
                            for s, n in zip((z0, y0, x0), shape, strict=True)
                        )
                        halo = tuple(
                            slice(max(0, c.start - overlap), min(n, c.stop + overlap))
                            for c, n in zip(core, shape, strict=True)
                        )
                        res = denoise_nl_means(arr[halo], **kw)
                        inner = tuple(
                            slice(c.start - hs.start, c.stop - hs.start)
                            for c, hs in zip(core, halo, strict=True)
                        )
                        out[core] = res[inner]
    if poisson:
        out = inverse_anscombe(out)
    attrs = dict(volume.attrs)
    attrs["denoise"] = (
        f"nlm h={strength:.6g} sigma={sigma:.6g} patch_size={patch_size} "
        f"patch_distance={patch_distance} poisson={poisson}"
    )
    return xr.DataArray(out.astype(np.float32), dims=volume.dims, coords=volume.coords,
                        name=volume.name, attrs=attrs)
